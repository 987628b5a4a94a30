package graph

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestConv2DNoInputGrad checks that a convolution of data builds the
// gradient of its filter, equal to Conv2D's, and none for its input, which
// gorgonia.Grad then refuses to differentiate.
func TestConv2DNoInputGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	xv, wv, rv := randTensor(rng, 2, 3, 6, 6), randTensor(rng, 4, 3, 3, 3), randTensor(rng, 2, 4, 6, 6)
	build := func(conv func(x, w *G.Node, stride, pad int) (*G.Node, error)) (g *G.ExprGraph, x, w, cost *G.Node) {
		g = G.NewGraph()
		x, w = node(g, "x", xv), node(g, "w", wv)
		y, err := conv(x, w, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		return g, x, w, G.Must(G.Sum(G.Must(G.HadamardProd(y, node(g, "r", rv)))))
	}
	gradW := func(conv func(x, w *G.Node, stride, pad int) (*G.Node, error)) ([]float64, *G.ExprGraph) {
		g, _, w, cost := build(conv)
		return runGrad(t, g, cost, w)[0].Value().Data().([]float64), g
	}
	want, _ := gradW(Conv2D)
	got, g := gradW(Conv2DNoInputGrad)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("dw[%d] = %v, want %v as with Conv2D", i, got[i], want[i])
		}
	}
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(*convGradOp); ok && op.wrtX {
			t.Errorf("the graph has an input gradient node %v", n)
		}
	}
	_, x, _, cost := build(Conv2DNoInputGrad)
	if _, err := G.Grad(cost, x); err == nil {
		t.Error("the gradient of the data input was built")
	}
}
