package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cifar-resnet/trainer/graph/backend"
)

// naiveConv computes the convolution of g in float64 straight from its
// definition, with the sum of absolute products as an error scale.
func naiveConv(g geom, x, w []float32) (y, scale []float64) {
	y = make([]float64, g.N*g.K*g.OH*g.OW)
	scale = make([]float64, len(y))
	for n := range g.N {
		for k := range g.K {
			for oy := range g.OH {
				for ox := range g.OW {
					var s, a float64
					for c := range g.C {
						for ki := range g.R {
							for kj := range g.R {
								iy, ix := oy*g.Stride-g.Pad+ki, ox*g.Stride-g.Pad+kj
								if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
									continue
								}
								v := float64(x[((n*g.C+c)*g.H+iy)*g.W+ix]) * float64(w[((k*g.C+c)*g.R+ki)*g.R+kj])
								s += v
								a += math.Abs(v)
							}
						}
					}
					i := ((n*g.K+k)*g.OH+oy)*g.OW + ox
					y[i], scale[i] = s, a
				}
			}
		}
	}
	return y, scale
}

// TestConvGatherFloat32 checks the float32 convolutions, which use gather
// plans where the geometry allows and im2col otherwise, against the
// definition, and the data gradient of "same" convolutions (a convolution
// with the flipped filter) against the im2col float64 path.
func TestConvGatherFloat32(t *testing.T) { checkConvFloat32(t) }

func checkConvFloat32(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	cases := []struct{ n, c, h, w, k, r, s, p int }{
		{3, 3, 32, 32, 16, 3, 1, 1},  // stem
		{2, 16, 32, 32, 16, 3, 1, 1}, // stage 1
		{2, 16, 32, 32, 32, 3, 2, 1}, // strided entry
		{2, 16, 32, 32, 32, 1, 2, 0}, // strided projection
		{2, 24, 16, 16, 24, 3, 1, 1},
		{3, 5, 8, 8, 13, 3, 1, 1},  // odd channel counts
		{2, 4, 16, 8, 3, 5, 1, 2},  // 5×5, rectangular
		{2, 4, 17, 17, 8, 3, 2, 1}, // odd size: 9×9 output, not gatherable
		{2, 6, 15, 16, 8, 3, 2, 0}, // no padding, odd height
		{1, 2, 8, 8, 8, 3, 1, 0},   // "valid" 6×6: not gatherable
		{2, 8, 32, 32, 8, 2, 2, 0}, // 2×2 stride 2
		{2, 8, 24, 24, 8, 3, 3, 0}, // stride 3
		{1, 8, 32, 32, 8, 1, 1, 0}, // 1×1: a plain product
		{2, 16, 32, 32, 10, 3, 1, 1},
	}
	for _, tc := range cases {
		g := geom(backend.NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.k, tc.r, tc.s, tc.p))
		x := make([]float32, g.N*g.C*g.H*g.W)
		w := make([]float32, g.K*g.colRows())
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		y := make([]float32, g.N*g.K*g.OH*g.OW)
		for i := range y {
			y[i] = float32(math.NaN())
		}
		var ws workspace[float32]
		convForward(g, x, w, y, &ws, nil)
		want, scale := naiveConv(g, x, w)
		for i, v := range y {
			if math.Abs(float64(v)-want[i]) > 1e-5*scale[i]+1e-6 {
				t.Fatalf("%+v (gather %v): y[%d] = %g, want %g", tc, g.gatherable(), i, v, want[i])
			}
		}
		// Filter gradient: float32 (dot products over the gathered
		// image where possible) against float64 (im2col).
		dy := make([]float32, len(y))
		for i := range dy {
			dy[i] = float32(rng.NormFloat64())
		}
		x64, dy64 := make([]float64, len(x)), make([]float64, len(dy))
		for i, v := range x {
			x64[i] = float64(v)
		}
		for i, v := range dy {
			dy64[i] = float64(v)
		}
		dw := make([]float32, len(w))
		dw64 := make([]float64, len(w))
		var ws64 workspace[float64]
		for range 2 { // the second call reuses the scratch memory
			convBackwardFilter(g, x, dy, dw, &ws)
		}
		convBackwardFilter(g, x64, dy64, dw64, &ws64)
		for i, v := range dw {
			if math.Abs(float64(v)-dw64[i]) > 1e-4*(1+math.Abs(dw64[i])) {
				t.Fatalf("%+v (gather %v): dw[%d] = %g, want %g", tc, g.filterGatherable(), i, v, dw64[i])
			}
		}
		if !g.sameStride1() {
			continue
		}
		// Data gradient: float32 (gather) against float64 (im2col).
		dx := make([]float32, len(x))
		convBackwardData(g, w, dy, dx, &ws)
		w64 := make([]float64, len(w))
		for i, v := range w {
			w64[i] = float64(v)
		}
		dx64 := make([]float64, len(x))
		convBackwardData(g, w64, dy64, dx64, &ws64)
		for i, v := range dx {
			if math.Abs(float64(v)-dx64[i]) > 1e-4*(1+math.Abs(dx64[i])) {
				t.Fatalf("%+v: dx[%d] = %g, want %g", tc, i, v, dx64[i])
			}
		}
	}
}
