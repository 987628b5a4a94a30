package cpu

import (
	"testing"

	"github.com/cifar-resnet/trainer/graph/backend"
)

// TestIm2colSame checks the shifted-plane im2col against the general one,
// value for value, including the zero borders.
func TestIm2colSame(t *testing.T) {
	for _, tc := range []struct{ c, h, w, r int }{{2, 5, 7, 3}, {3, 4, 4, 1}, {1, 6, 3, 5}, {16, 32, 32, 3}} {
		g := geom(backend.NewConvGeom(1, tc.c, tc.h, tc.w, 4, tc.r, 1, (tc.r-1)/2))
		x := make([]float32, tc.c*tc.h*tc.w)
		for i := range x {
			x[i] = float32(i + 1)
		}
		n := g.colRows() * g.OH * g.OW
		want, got := make([]float32, n), make([]float32, n)
		for i := range got {
			got[i] = -1 // every element must be written
		}
		im2colGeneric(g, x, want)
		im2colSame(g, x, got)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: element %d = %v, want %v", tc, i, got[i], want[i])
			}
		}
	}
}

// TestIm2colGeneric checks the general im2col against the definition,
// element by element, for strided and padded geometries.
func TestIm2colGeneric(t *testing.T) {
	for _, tc := range []struct{ c, h, w, r, s, p int }{{2, 6, 6, 3, 2, 1}, {3, 7, 5, 1, 2, 0}, {1, 5, 8, 3, 3, 2}, {2, 4, 4, 2, 1, 0}} {
		g := geom(backend.NewConvGeom(1, tc.c, tc.h, tc.w, 2, tc.r, tc.s, tc.p))
		x := make([]float32, tc.c*tc.h*tc.w)
		for i := range x {
			x[i] = float32(i + 1)
		}
		col := make([]float32, g.colRows()*g.OH*g.OW)
		for i := range col {
			col[i] = -1
		}
		im2colGeneric(g, x, col)
		for c := range tc.c {
			for ki := range tc.r {
				for kj := range tc.r {
					for oy := range g.OH {
						for ox := range g.OW {
							iy, ix := oy*tc.s-tc.p+ki, ox*tc.s-tc.p+kj
							var want float32
							if iy >= 0 && iy < tc.h && ix >= 0 && ix < tc.w {
								want = x[(c*tc.h+iy)*tc.w+ix]
							}
							got := col[((c*tc.r+ki)*tc.r+kj)*g.OH*g.OW+oy*g.OW+ox]
							if got != want {
								t.Fatalf("%+v: c=%d ki=%d kj=%d oy=%d ox=%d: %v, want %v", tc, c, ki, kj, oy, ox, got, want)
							}
						}
					}
				}
			}
		}
	}
}
