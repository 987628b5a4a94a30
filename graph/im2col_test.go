package graph

import (
	"testing"

	"gorgonia.org/tensor"
)

// TestIm2colSame checks the shifted-plane im2col against the general one,
// value for value, including the zero borders.
func TestIm2colSame(t *testing.T) {
	for _, tc := range []struct{ c, h, w, r int }{{2, 5, 7, 3}, {3, 4, 4, 1}, {1, 6, 3, 5}, {16, 32, 32, 3}} {
		g, err := newConvGeom(tensor.Shape{1, tc.c, tc.h, tc.w}, tensor.Shape{4, tc.c, tc.r, tc.r}, 1, (tc.r-1)/2)
		if err != nil {
			t.Fatal(err)
		}
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
