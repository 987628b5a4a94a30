package kernels_test

// The convolution kernels' tile shapes: the choice among them, the grids
// the wrappers launch, and every shape against the float64 reference on
// channel counts around the tile heights.

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
)

func TestTileFor(t *testing.T) {
	if !slices.Equal(kernels.TileRows, []int{16, 32, 64}) {
		t.Errorf("TileRows = %v, want [16 32 64]", kernels.TileRows)
	}
	for _, c := range [][2]int{{1, 16}, {15, 16}, {16, 16}, {17, 32}, {32, 32}, {33, 64}, {64, 64}, {65, 64}, {2048, 64}} {
		if got := kernels.TileFor(c[0]); got != c[1] {
			t.Errorf("TileFor(%d) = %d, want %d", c[0], got, c[1])
		}
	}
}

// errTraced stops a launch that the test only traces.
var errTraced = errors.New("traced, not launched")

// traced returns the name and grid of the launch f starts, stopping it.
func traced(t *testing.T, m *kernels.Module, f func() error) string {
	t.Helper()
	var got []string
	m.SetTrace(func(name string, grid cuda.Dim3) error {
		got = append(got, fmt.Sprintf("%s %v", name, grid))
		return errTraced
	})
	defer m.SetTrace(nil)
	if err := f(); !errors.Is(err, errTraced) {
		t.Errorf("launch stopped by the trace returned %v", err)
	}
	return fmt.Sprint(got)
}

// TestConvTileChoice checks the kernel and grid each convolution wrapper
// launches: for a matrix product, the tile height chosen from the rows of
// its product (K for the forward pass and the filter gradient, C for the
// data gradient) and the grid (⌈columns/TN⌉, ⌈rows/TM⌉, slices) of that
// tile shape, TN being 4096/TM, or 32 for the filter gradient; for a 3×3
// filter of stride 1 and padding 1 on images at least 16 wide, summing at
// least 8 channels, the direct kernel with tiles 16 wide (up to 16) or
// 32 wide, TH = 256/TW rows high, on the grid (N·⌈H/TH⌉·⌈W/TW⌉,
// ⌈output channels/16⌉), and for the filter gradient, with at least 8
// channels on both sides, (slices, ⌈K/16⌉, ⌈C/16⌉).
func TestConvTileChoice(t *testing.T) {
	m := module(t)
	for _, c := range []struct {
		g                     kernels.Conv
		forward, data, filter string
	}{
		// 3×3, stride 1: N·H·W = 2·5·7 = 70 columns for the forward pass
		// and the data gradient, C·9 for the filter gradient.
		{kernels.Conv{N: 2, C: 1, H: 5, W: 7, K: 1, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m16_f32 {1 1 1}", "conv_backward_data_m16_f32 {1 1 1}", "conv_backward_filter_m16_f32 {1 1 1}"},
		{kernels.Conv{N: 2, C: 16, H: 5, W: 7, K: 17, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m32_f32 {1 1 1}", "conv_backward_data_m16_f32 {1 1 1}", "conv_backward_filter_m32_f32 {5 1 1}"},
		{kernels.Conv{N: 2, C: 17, H: 5, W: 7, K: 16, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m16_f32 {1 1 1}", "conv_backward_data_m32_f32 {1 1 1}", "conv_backward_filter_m16_f32 {5 1 1}"},
		{kernels.Conv{N: 2, C: 32, H: 5, W: 7, K: 33, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m64_f32 {2 1 1}", "conv_backward_data_m32_f32 {1 1 1}", "conv_backward_filter_m64_f32 {9 1 1}"},
		{kernels.Conv{N: 2, C: 65, H: 5, W: 7, K: 64, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m64_f32 {2 1 1}", "conv_backward_data_m64_f32 {2 2 1}", "conv_backward_filter_m64_f32 {19 1 1}"},
		{kernels.Conv{N: 2, C: 3, H: 5, W: 7, K: 65, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m64_f32 {2 2 1}", "conv_backward_data_m16_f32 {1 1 1}", "conv_backward_filter_m64_f32 {1 2 1}"},
		{kernels.Conv{N: 2, C: 8, H: 16, W: 16, K: 16, R: 3, Stride: 1, Pad: 1},
			"conv3x3_w16_f32 {2 1 1}", "conv3x3_w16_f32 {2 1 1}", "conv3x3_filter_w16_f32 {1 1 1}"},
		{kernels.Conv{N: 1, C: 9, H: 19, W: 33, K: 17, R: 3, Stride: 1, Pad: 1},
			"conv3x3_w32_f32 {6 2 1}", "conv3x3_w32_f32 {6 1 1}", "conv3x3_filter_w32_f32 {3 2 1}"},
		{kernels.Conv{N: 2, C: 20, H: 17, W: 16, K: 8, R: 3, Stride: 1, Pad: 1},
			"conv3x3_w16_f32 {4 1 1}", "conv3x3_w16_f32 {4 2 1}", "conv3x3_filter_w16_f32 {2 1 2}"},
		// Fewer than 8 channels summed, and too narrow: matrix products.
		{kernels.Conv{N: 2, C: 7, H: 16, W: 16, K: 7, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m16_f32 {2 1 1}", "conv_backward_data_m16_f32 {2 1 1}", "conv_backward_filter_m16_f32 {2 1 1}"},
		{kernels.Conv{N: 2, C: 8, H: 16, W: 15, K: 8, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m16_f32 {2 1 1}", "conv_backward_data_m16_f32 {2 1 1}", "conv_backward_filter_m16_f32 {3 1 1}"},
		// The network's convolutions at batch 512 (the stem's forward pass
		// sums 3 channels, its data gradient 16) (3×3; the first of the
		// second stage has stride 2, and its shortcut is 1×1).
		{kernels.Conv{N: 512, C: 3, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1},
			"conv_forward_m16_f32 {2048 1 1}", "conv3x3_w32_f32 {2048 1 1}", "conv_backward_filter_m16_f32 {1 1 512}"},
		{kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1},
			"conv3x3_w32_f32 {2048 1 1}", "conv3x3_w32_f32 {2048 1 1}", "conv3x3_filter_w32_f32 {1024 1 1}"},
		{kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 32, R: 3, Stride: 2, Pad: 1},
			"conv_forward_m32_f32 {1024 1 1}", "conv_backward_data_m16_f32 {2048 1 1}", "conv_backward_filter_m32_f32 {5 1 128}"},
		{kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 32, R: 1, Stride: 2, Pad: 0},
			"conv_forward_m32_f32 {1024 1 1}", "conv_backward_data_m16_f32 {2048 1 1}", "conv_backward_filter_m32_f32 {1 1 128}"},
		{kernels.Conv{N: 512, C: 32, H: 16, W: 16, K: 32, R: 3, Stride: 1, Pad: 1},
			"conv3x3_w16_f32 {512 2 1}", "conv3x3_w16_f32 {512 2 1}", "conv3x3_filter_w16_f32 {256 2 2}"},
	} {
		g := c.g
		// The trace stops every launch: the pointers are never read.
		var y, x, w, work cuda.Ptr = 1, 1, 1, 1
		if got := traced(t, m, func() error { return m.ConvForward(g, y, x, w, 0, 0, false) }); got != "["+c.forward+"]" {
			t.Errorf("ConvForward(%+v) launched %s, want [%s]", g, got, c.forward)
		}
		if got := traced(t, m, func() error { return m.ConvBackwardData(g, x, w, y) }); got != "["+c.data+"]" {
			t.Errorf("ConvBackwardData(%+v) launched %s, want [%s]", g, got, c.data)
		}
		splits := kernels.FilterSplits(g)
		if got := traced(t, m, func() error { return m.ConvBackwardFilter(g, w, x, y, work, splits) }); got != "["+c.filter+"]" {
			t.Errorf("ConvBackwardFilter(%+v) with FilterSplits launched %s, want [%s]", g, got, c.filter)
		}
	}
}

// TestConvTileGridLimits checks that a grid beyond a GPU's 65535 blocks
// in y or z is an error before the launch.
func TestConvTileGridLimits(t *testing.T) {
	m := module(t)
	// 65535·64 + 1 output channels need 65536 rows of tiles.
	g := kernels.Conv{N: 1, C: 1, H: 1, W: 1, K: 65535*64 + 1, R: 1, Stride: 1, Pad: 0}
	want := "kernels: conv_forward_m64_f32: grid {1 65536 1} for a 4194241×1 result in 1 slices: y and z must be at most 65535"
	if err := m.ConvForward(g, 1, 1, 1, 0, 0, false); err == nil || err.Error() != want {
		t.Errorf("ConvForward with %d output channels: %v, want %q", g.K, err, want)
	}
	g = kernels.Conv{N: 1, C: 1, H: 256, W: 256, K: 1, R: 1, Stride: 1, Pad: 0}
	want = "kernels: conv_backward_filter_m16_f32: grid {1 1 65536} for a 1×1 result in 65536 slices: y and z must be at most 65535"
	if err := m.ConvBackwardFilter(g, 1, 1, 1, 1, 65536); err == nil || err.Error() != want {
		t.Errorf("ConvBackwardFilter in 65536 slices: %v, want %q", err, want)
	}
}

// TestConvTiles runs the three convolution kernels with each tile height
// on channel counts around the heights (so one, several, full and partial
// tiles of rows) against the float64 reference; the N·H·W = 2·11·13 =
// 286 columns are more than one tile of 256 and a multiple of none.
func TestConvTiles(t *testing.T) {
	m := module(t)
	for _, ch := range []int{1, 16, 17, 32, 33, 64, 65} {
		// The forward pass and the filter gradient have ch output
		// channels, the data gradient ch input channels.
		gk := kernels.Conv{N: 2, C: 2, H: 11, W: 13, K: ch, R: 3, Stride: 1, Pad: 1}
		gc := kernels.Conv{N: 2, C: ch, H: 11, W: 13, K: 2, R: 3, Stride: 1, Pad: 1}
		seed := uint64(1000 + ch)
		xk, wk, dyk := randoms(seed, 2*2*11*13), randoms(seed+1, ch*2*9), randoms(seed+2, 2*ch*11*13)
		xc, wc, dyc := randoms(seed+3, 2*ch*11*13), randoms(seed+4, 2*ch*9), randoms(seed+5, 2*2*11*13)
		wantY := convRef(gk, xk, wk)
		_, wantDw := convGradRef(gk, xk, wk, dyk)
		wantDx, _ := convGradRef(gc, xc, wc, dyc)
		pxk, pwk, pdyk := up(t, xk), up(t, wk), up(t, dyk)
		pwc, pdyc := up(t, wc), up(t, dyc)
		for _, tm := range kernels.TileRows {
			name := fmt.Sprintf("%d channels, TM %d", ch, tm)
			py := buf(t, 4*len(dyk))
			check(t, m.ConvForwardTile(tm, gk, py, pxk, pwk, 0, 0, false))
			near(t, name+" forward", down[float32](t, py, len(dyk)), wantY, 1e-5)

			pdx := buf(t, 4*len(xc))
			check(t, m.ConvBackwardDataTile(tm, gc, pdx, pwc, pdyc))
			near(t, name+" backward data", down[float32](t, pdx, len(xc)), wantDx, 1e-5)

			// One slice, and three: of 96, 96 and 94 positions, rounded up
			// to the terms a block sums per step (128, 128 and 30 for 16-row
			// tiles).
			checkFilterGrad(t, name, gk, wantDw, func(dw, work cuda.Ptr, splits int) error {
				return m.ConvBackwardFilterTile(tm, gk, dw, pxk, pdyk, work, splits)
			})
		}
	}
}
