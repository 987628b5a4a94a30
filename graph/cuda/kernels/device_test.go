package kernels_test

// The kernels are run on the device emu.OpenDevice picks (a GPU where
// there is one, else the CPU emulator, compiled from the same sources)
// and compared with plain float64 loops written from the formulas of the
// CPU implementation.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/emu"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
)

var (
	dev     *cuda.Device
	mod     *kernels.Module
	kind    string
	openErr error
)

func TestMain(m *testing.M) {
	dev, kind, openErr = emu.OpenDevice()
	if openErr == nil {
		mod, openErr = kernels.Load(dev)
	}
	code := m.Run()
	if mod != nil {
		if err := mod.Unload(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// module returns the loaded kernels, skipping the test when the machine
// has neither a GPU nor a compiler for the emulator.
func module(t *testing.T) *kernels.Module {
	t.Helper()
	emu.Require(t, openErr)
	return mod
}

// buf is device memory freed at the end of the test.
func buf(t *testing.T, bytes int) cuda.Ptr {
	t.Helper()
	p, err := dev.Alloc(uint64(bytes))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dev.Free(p); err != nil {
			t.Error(err)
		}
	})
	return p
}

// up copies host data to new device memory.
func up[T float32 | float64 | int32](t *testing.T, data []T) cuda.Ptr {
	t.Helper()
	var z T
	p := buf(t, len(data)*int(sizeof(z)))
	if err := cuda.Upload(dev, p, data); err != nil {
		t.Fatal(err)
	}
	return p
}

func sizeof[T float32 | float64 | int32](T) uintptr {
	var z T
	switch any(z).(type) {
	case float64:
		return 8
	}
	return 4
}

// down copies n elements of device memory to the host, after checking
// the queued kernels ran.
func down[T float32 | float64](t *testing.T, p cuda.Ptr, n int) []T {
	t.Helper()
	out := make([]T, n)
	if err := cuda.Download(dev, out, p); err != nil {
		t.Fatal(err)
	}
	return out
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// randoms returns n values uniform in [-1, 1), seeded.
func randoms(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*r.Float64() - 1)
	}
	return v
}

// near checks got against want: each error at most rtol·|want| plus
// rtol·max|want| (rounding in sums of terms of either sign).
func near[T float32 | float64](t *testing.T, what string, got []T, want []float64, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	bad := 0
	for i := range got {
		g := float64(got[i])
		if d := math.Abs(g - want[i]); !(d <= rtol*(math.Abs(want[i])+scale)) {
			if bad++; bad <= 5 {
				t.Errorf("%s[%d] = %v, want %v (error %.3g)", what, i, g, want[i], d)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d values wrong", what, bad, len(got))
	}
}

func f64[T float32 | int32](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestElementwise(t *testing.T) {
	m := module(t)
	a := []float32{1, -2, 3.5, 0, -0.5}
	b := []float32{-1.5, 1, 1, 2, 0.25}
	pa, pb, py := up(t, a), up(t, b), buf(t, 4*len(a))
	n := len(a)
	for _, c := range []struct {
		name string
		run  func() error
		want []float64
	}{
		{"Fill", func() error { return m.Fill(py, 2.5, n) }, []float64{2.5, 2.5, 2.5, 2.5, 2.5}},
		{"Add", func() error { return m.Add(py, pa, pb, n) }, []float64{-0.5, -1, 4.5, 2, -0.25}},
		{"ReLU", func() error { return m.ReLU(py, pa, n) }, []float64{1, 0, 3.5, 0, 0}},
		{"AddReLU", func() error { return m.AddReLU(py, pa, pb, n) }, []float64{0, 0, 4.5, 2, 0}},
		// The mask is a > 0: b flows where a is 1 and 3.5.
		{"ReLUBackward", func() error { return m.ReLUBackward(py, pa, pb, n) }, []float64{-1.5, 0, 1, 0, 0}},
	} {
		check(t, c.run())
		near(t, c.name, down[float32](t, py, n), c.want, 0)
	}
	// In place, as Gorgonia's gradient sums do it.
	check(t, m.Add(pa, pa, pb, n))
	near(t, "Add in place", down[float32](t, pa, n), []float64{-0.5, -1, 4.5, 2, -0.25}, 0)
	// More elements than one grid-stride pass of the capped grid covers
	// is too slow to emulate; n = 1000 spans four blocks.
	big := randoms(1, 1000)
	pbig, pout := up(t, big), buf(t, 4000)
	check(t, m.ReLU(pout, pbig, 1000))
	want := make([]float64, 1000)
	for i, v := range big {
		want[i] = math.Max(float64(v), 0)
	}
	near(t, "ReLU of 1000", down[float32](t, pout, 1000), want, 0)

	parts := []float32{1, 2, 3, 10, 20, 30, 100, 200, 300}
	check(t, m.SumPartials(py, up(t, parts), 3, 3))
	near(t, "SumPartials", down[float32](t, py, 3), []float64{111, 222, 333}, 0)
	// 19 slices (not a multiple of the 8 rows) of 70 outputs (three
	// blocks of 32), small integers so that any order gives exact sums.
	const splits, outs = 19, 70
	parts = make([]float32, splits*outs)
	sums := make([]float64, outs)
	for i := range parts {
		parts[i] = float32(i%7 - 3 + i/outs)
		sums[i%outs] += float64(parts[i])
	}
	psum := buf(t, 4*outs)
	check(t, m.SumPartials(psum, up(t, parts), splits, outs))
	near(t, "SumPartials of 19 slices", down[float32](t, psum, outs), sums, 0)
}

func TestGlobalAvgPool(t *testing.T) {
	m := module(t)
	for _, hw := range []int{5, 300} { // 300: each thread sums several
		rows := 19 // three blocks of 8 rows, the last one short
		x := randoms(2, rows*hw)
		py := buf(t, 4*rows)
		check(t, m.GAPForward(py, up(t, x), rows, hw))
		want := make([]float64, rows)
		for r := range rows {
			for _, v := range x[r*hw : (r+1)*hw] {
				want[r] += float64(v)
			}
			want[r] /= float64(hw)
		}
		near(t, fmt.Sprintf("GAPForward hw=%d", hw), down[float32](t, py, rows), want, 1e-6)

		dy := randoms(3, rows)
		pdx := buf(t, 4*rows*hw)
		check(t, m.GAPBackward(pdx, up(t, dy), rows, hw))
		wantDx := make([]float64, rows*hw)
		for i := range wantDx {
			wantDx[i] = float64(dy[i/hw] / float32(hw))
		}
		near(t, fmt.Sprintf("GAPBackward hw=%d", hw), down[float32](t, pdx, rows*hw), wantDx, 0)
	}
}

// matmul is the reference C = alpha·op(A)·op(B) + beta·C.
func matmul(transA, transB bool, M, N, K int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	out := f64(c)
	for i := range M {
		for j := range N {
			var s float64
			for q := range K {
				ai, bi := i*lda+q, q*ldb+j
				if transA {
					ai = q*lda + i
				}
				if transB {
					bi = j*ldb + q
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
			}
			out[i*ldc+j] = alpha*s + beta*float64(c[i*ldc+j])
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	m := module(t)
	// Sizes cross the 64×64 tiles and the 8-deep steps; the leading
	// dimensions exceed the matrices' widths.
	const M, N, K = 70, 67, 13
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		lda, ldb, ldc := K+3, N+1, N+2
		arows, brows := M, K
		if tr[0] {
			lda, arows = M+2, K
		}
		if tr[1] {
			ldb, brows = K+1, N
		}
		a, b, c := randoms(4, arows*lda), randoms(5, brows*ldb), randoms(6, M*ldc)
		for _, beta := range []float32{0, 0.5} {
			pc := up(t, c)
			check(t, m.Sgemm(tr[0], tr[1], M, N, K, 1.5, up(t, a), lda, up(t, b), ldb, beta, pc, ldc))
			want := matmul(tr[0], tr[1], M, N, K, 1.5, a, lda, b, ldb, float64(beta), c, ldc)
			near(t, fmt.Sprintf("Sgemm trans=%v beta=%v", tr, beta), down[float32](t, pc, M*ldc), want, 1e-5)
		}
	}
}

func TestDense(t *testing.T) {
	m := module(t)
	const n, in, out = 5, 16, 10
	x, w, b, dy := randoms(7, n*in), randoms(8, out*in), randoms(9, out), randoms(10, n*out)
	px, pw, pdy := up(t, x), up(t, w), up(t, dy)
	py := buf(t, 4*n*out)
	check(t, m.DenseForward(py, px, pw, up(t, b), n, in, out))
	want := make([]float64, n*out)
	for r := range n {
		for o := range out {
			s := float64(b[o])
			for i := range in {
				s += float64(x[r*in+i]) * float64(w[o*in+i])
			}
			want[r*out+o] = s
		}
	}
	near(t, "DenseForward", down[float32](t, py, n*out), want, 1e-5)

	pdx, pdw, pdb := buf(t, 4*n*in), buf(t, 4*out*in), buf(t, 4*out)
	check(t, m.DenseBackward(pdx, pdw, pdb, px, pw, pdy, n, in, out))
	wdx, wdw, wdb := make([]float64, n*in), make([]float64, out*in), make([]float64, out)
	for r := range n {
		for o := range out {
			d := float64(dy[r*out+o])
			wdb[o] += d
			for i := range in {
				wdx[r*in+i] += d * float64(w[o*in+i])
				wdw[o*in+i] += d * float64(x[r*in+i])
			}
		}
	}
	near(t, "DenseBackward dx", down[float32](t, pdx, n*in), wdx, 1e-5)
	near(t, "DenseBackward dw", down[float32](t, pdw, out*in), wdw, 1e-5)
	near(t, "DenseBackward db", down[float32](t, pdb, out), wdb, 1e-5)
}

// convTerms calls f for every term of g's forward sum, in order: the
// indices of the input, filter and output elements it multiplies into.
// Terms that read the padding are left out.
func convTerms(g kernels.Conv, f func(xi, wi, yi int)) {
	oh, ow := g.OH(), g.OW()
	for n := range g.N {
		for k := range g.K {
			for oy := range oh {
				for ox := range ow {
					yi := ((n*g.K+k)*oh+oy)*ow + ox
					for c := range g.C {
						for ki := range g.R {
							for kj := range g.R {
								iy, ix := oy*g.Stride-g.Pad+ki, ox*g.Stride-g.Pad+kj
								if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
									continue
								}
								f(((n*g.C+c)*g.H+iy)*g.W+ix, ((k*g.C+c)*g.R+ki)*g.R+kj, yi)
							}
						}
					}
				}
			}
		}
	}
}

// convRef returns the reference forward pass of g.
func convRef(g kernels.Conv, x, w []float32) []float64 {
	y := make([]float64, g.N*g.K*g.OH()*g.OW())
	convTerms(g, func(xi, wi, yi int) { y[yi] += float64(x[xi]) * float64(w[wi]) })
	return y
}

// convGradRef returns the reference gradients dx and dw of g for dy, by
// the chain rule applied to each term of the forward sum.
func convGradRef(g kernels.Conv, x, w, dy []float32) (dx, dw []float64) {
	dx, dw = make([]float64, len(x)), make([]float64, len(w))
	convTerms(g, func(xi, wi, yi int) {
		d := float64(dy[yi])
		dx[xi] += d * float64(w[wi])
		dw[wi] += d * float64(x[xi])
	})
	return dx, dw
}

func TestConv(t *testing.T) {
	m := module(t)
	for i, g := range []kernels.Conv{
		{N: 2, C: 3, H: 7, W: 7, K: 5, R: 3, Stride: 1, Pad: 1},
		{N: 2, C: 3, H: 7, W: 7, K: 5, R: 3, Stride: 2, Pad: 1},
		{N: 2, C: 4, H: 6, W: 5, K: 6, R: 1, Stride: 2, Pad: 0},
		{N: 2, C: 4, H: 6, W: 6, K: 3, R: 1, Stride: 1, Pad: 0},
		{N: 1, C: 2, H: 4, W: 4, K: 70, R: 3, Stride: 1, Pad: 1}, // K spans two tiles
		{N: 2, C: 3, H: 9, W: 8, K: 4, R: 5, Stride: 2, Pad: 2},
		{N: 2, C: 2, H: 6, W: 7, K: 3, R: 3, Stride: 1, Pad: 0},
		{N: 3, C: 2, H: 5, W: 6, K: 3, R: 2, Stride: 3, Pad: 1},
		// 3×3, stride 1, padding 1, at least 16 wide: the direct kernels
		// (forward from 8 input channels, data gradient from 8 output
		// channels), with tiles 16 wide, then 32 wide, images that are not
		// a whole number of tiles, and channels that are not a whole
		// number of steps (8 in) or blocks (16 out).
		{N: 2, C: 8, H: 16, W: 16, K: 16, R: 3, Stride: 1, Pad: 1},
		{N: 1, C: 9, H: 19, W: 33, K: 17, R: 3, Stride: 1, Pad: 1},
		{N: 2, C: 20, H: 17, W: 16, K: 8, R: 3, Stride: 1, Pad: 1},
	} {
		name := fmt.Sprintf("conv %d (%dx%d s%d p%d)", i, g.R, g.R, g.Stride, g.Pad)
		seed := uint64(100 + 10*i)
		x, w := randoms(seed, g.N*g.C*g.H*g.W), randoms(seed+1, g.K*g.C*g.R*g.R)
		ny := g.N * g.K * g.OH() * g.OW()
		dy := randoms(seed+2, ny)
		px, pw, pdy := up(t, x), up(t, w), up(t, dy)

		py := buf(t, 4*ny)
		check(t, m.ConvForward(g, py, px, pw, 0, 0, false))
		y := convRef(g, x, w)
		near(t, name+" forward", down[float32](t, py, ny), y, 1e-5)

		// Bias, skip and ReLU, as in the folded evaluation pass.
		bias, skip := randoms(seed+3, g.K), randoms(seed+4, ny)
		check(t, m.ConvForward(g, py, px, pw, up(t, bias), up(t, skip), true))
		fused := make([]float64, ny)
		ohw := g.OH() * g.OW()
		for j := range fused {
			fused[j] = math.Max(y[j]+float64(bias[j/ohw%g.K])+float64(skip[j]), 0)
		}
		near(t, name+" forward+bias+skip+relu", down[float32](t, py, ny), fused, 1e-5)

		wantDx, wantDw := convGradRef(g, x, w, dy)
		pdx := buf(t, 4*len(x))
		check(t, m.ConvBackwardData(g, pdx, pw, pdy))
		near(t, name+" backward data", down[float32](t, pdx, len(x)), wantDx, 1e-5)

		checkFilterGrad(t, name, g, wantDw, func(dw, work cuda.Ptr, splits int) error {
			return m.ConvBackwardFilter(g, dw, px, pdy, work, splits)
		})
	}
}

// checkFilterGrad runs launch, a filter gradient of g into dw, in one
// slice and in three, each with the work buffer FilterWork asks for, and
// compares each result with want.
func checkFilterGrad(t *testing.T, name string, g kernels.Conv, want []float64, launch func(dw, work cuda.Ptr, splits int) error) {
	t.Helper()
	for _, splits := range []int{1, 3} {
		pdw := buf(t, 4*len(want))
		var work cuda.Ptr
		if n := kernels.FilterWork(g, splits); n > 0 {
			work = buf(t, 4*n)
		}
		check(t, launch(pdw, work, splits))
		near(t, fmt.Sprintf("%s backward filter, %d slices", name, splits), down[float32](t, pdw, len(want)), want, 1e-5)
	}
}

func TestConvArguments(t *testing.T) {
	m := module(t)
	g := kernels.Conv{N: 1, C: 1, H: 4, W: 4, K: 1, R: 3, Stride: 1, Pad: 1}
	if err := m.ConvBackwardFilter(g, 1, 1, 1, 0, 2); err == nil || err.Error() != "kernels: conv_backward_filter_m16_f32: 2 slices need a work buffer of 18 floats" {
		t.Errorf("two slices without a work buffer: %v", err)
	}
	if err := m.ConvBackwardFilter(g, 1, 1, 1, 1, 17); err == nil || err.Error() != "kernels: conv_backward_filter_m16_f32: 17 slices for 16 output positions" {
		t.Errorf("more slices than output positions: %v", err)
	}
	// The direct 3×3 kernel's filter gradient takes the same checks.
	d3 := kernels.Conv{N: 1, C: 8, H: 16, W: 16, K: 8, R: 3, Stride: 1, Pad: 1}
	if err := m.ConvBackwardFilter(d3, 1, 1, 1, 1, 0); err == nil || err.Error() != "kernels: conv3x3_filter_w16_f32: 0 slices for 256 output positions" {
		t.Errorf("direct 3×3, no slices: %v", err)
	}
	if err := m.ConvBackwardFilter(d3, 1, 1, 1, 0, 2); err == nil || err.Error() != "kernels: conv3x3_filter_w16_f32: 2 slices need a work buffer of 1152 floats" {
		t.Errorf("direct 3×3, two slices without a work buffer: %v", err)
	}
	bad := kernels.Conv{N: 1, C: 1, H: 2, W: 2, K: 1, R: 5, Stride: 1, Pad: 0}
	if err := m.ConvForward(bad, 1, 1, 1, 0, 0, false); err == nil || err.Error() != "kernels: invalid convolution geometry {N:1 C:1 H:2 W:2 K:1 R:5 Stride:1 Pad:0}" {
		t.Errorf("a kernel larger than the image: %v", err)
	}
	// Small tensors, but the corner of the last patch, 30000 rows and
	// columns into the padding, is less than 1 + 60002² elements past the start.
	wide := kernels.Conv{N: 1, C: 1, H: 1, W: 1, K: 1, R: 1, Stride: 60000, Pad: 30000}
	if err := m.ConvForward(wide, 1, 1, 1, 0, 0, false); err == nil || err.Error() != "kernels: conv: size 3600240005 out of range [0, 2147483647]" {
		t.Errorf("padding beyond int indices: %v", err)
	}
	if err := m.Fill(1, 0, math.MaxInt32+1); err == nil || err.Error() != "kernels: fill_f32: size 2147483648 out of range [0, 2147483647]" {
		t.Errorf("2³¹ elements: %v", err)
	}
}

func TestFilterSplits(t *testing.T) {
	for _, c := range []struct {
		g    kernels.Conv
		want int
	}{
		// The direct 3×3 kernel, one block per slice for 16×16 channels:
		// ⌈1024/1⌉ slices, but 128·4 tiles of 8×32 make only 256 of two.
		{kernels.Conv{N: 128, C: 16, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1}, 256},
		{kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1}, 1024},
		// 32×32 channels, 4 blocks per slice: 256 slices of two 16×16 tiles.
		{kernels.Conv{N: 512, C: 32, H: 16, W: 16, K: 32, R: 3, Stride: 1, Pad: 1}, 256},
		{kernels.Conv{N: 2, C: 16, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1}, 4},
		// Matrix products (images 8 wide): 18 tiles of 64×32 would want
		// 57 slices, but 128·8·8 positions make only 8 of 1024.
		{kernels.Conv{N: 128, C: 64, H: 8, W: 8, K: 64, R: 3, Stride: 1, Pad: 1}, 8},
		{kernels.Conv{N: 1, C: 16, H: 8, W: 8, K: 16, R: 3, Stride: 1, Pad: 1}, 1},
		// The stem (3 input channels): 512 slices of 1024 positions for its
		// one 16×32 tile.
		{kernels.Conv{N: 512, C: 3, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1}, 512},
		// Stride 2: 5 tiles of 32×32 (144 columns), ⌈1024/5⌉ = 205 slices,
		// but 512·16·16 positions make only 128 of 1024.
		{kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 32, R: 3, Stride: 2, Pad: 1}, 128},
	} {
		if got := kernels.FilterSplits(c.g); got != c.want {
			t.Errorf("FilterSplits(%+v) = %d, want %d", c.g, got, c.want)
		}
	}
	// The matrix product's split follows its tiles: 16-row tiles cut the
	// 64×144 filter gradient into 4·5 = 20 tiles, so ⌈1024/20⌉ = 52
	// slices, against 205 for 64-row tiles.
	g := kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 64, R: 3, Stride: 1, Pad: 1}
	if got := kernels.FilterSplitsTile(g, 16); got != 52 {
		t.Errorf("FilterSplitsTile(%+v, 16) = %d, want 52", g, got)
	}
	if got := kernels.FilterSplitsTile(g, 64); got != 205 {
		t.Errorf("FilterSplitsTile(%+v, 64) = %d, want 205", g, got)
	}
}

func TestProfile(t *testing.T) {
	m := module(t)
	p := buf(t, 4*1000)
	m.StartProfile()
	check(t, m.Fill(p, 1, 1000))
	check(t, m.Fill(p, 2, 1000))
	check(t, m.Add(p, p, p, 1000))
	prof, err := m.StopProfile()
	if err != nil {
		t.Fatal(err)
	}
	launches := map[string]int{}
	for i, k := range prof {
		launches[k.Name] = k.Launches
		if k.Time <= 0 || i > 0 && k.Time > prof[i-1].Time {
			t.Errorf("profile %v: times must be positive, the longest first", prof)
		}
	}
	if len(prof) != 2 || launches["fill_f32"] != 2 || launches["add_f32"] != 1 {
		t.Errorf("profile %v: want fill_f32 launched twice and add_f32 once", prof)
	}
	if got := down[float32](t, p, 1000)[999]; got != 4 {
		t.Errorf("the profiled kernels computed %v, want 2 + 2", got)
	}
	check(t, m.Fill(p, 1, 1000))
	if prof, err := m.StopProfile(); err != nil || len(prof) != 0 {
		t.Errorf("launches after StopProfile are profiled: %v, %v", prof, err)
	}
}
