package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestSoftmaxKLDivergenceValue checks the divergence and its gradient at
// temperature 2 against values worked out by hand.
func TestSoftmaxKLDivergenceValue(t *testing.T) {
	// logits/2 = (0, ln 3), so p = softmax(logits/2) = (1/4, 3/4). The
	// target row (¼, ¼) is ½ times q = (½, ½): KL(q ‖ p) = ½ ln 2 + ½ ln ⅔
	// = ½ ln(4/3), so the loss is 2²·½·½ ln(4/3) = ln(4/3), and the
	// gradient is 2·(½·(¼, ¾) - (¼, ¼)) = (-¼, ¼).
	g := G.NewGraph()
	z := node(g, "z", tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float64{0, 2 * math.Log(3)})))
	tg := node(g, "t", tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float64{0.25, 0.25})))
	loss, err := SoftmaxKLDivergence(z, tg, 2)
	if err != nil {
		t.Fatal(err)
	}
	grads := runGrad(t, g, loss, z)
	if got, want := loss.Value().Data().(float64), math.Log(4.0/3); math.Abs(got-want) > 1e-12 {
		t.Errorf("loss = %.15g, want %.15g", got, want)
	}
	for i, want := range []float64{-0.25, 0.25} {
		if got := grads[0].Value().Data().([]float64)[i]; math.Abs(got-want) > 1e-12 {
			t.Errorf("gradient[%d] = %.15g, want %g", i, got, want)
		}
	}
}

// TestSoftmaxKLDivergenceGradient checks the gradient at temperature 3
// with target rows that do not sum to 1 (a weighted distillation term)
// by finite differences.
func TestSoftmaxKLDivergenceGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	x := randTensor(rng, 4, 5)
	w := randTensor(rng, 3, 5)
	b := randTensor(rng, 3)
	targets := make([]float64, 4*3)
	for i := range targets {
		targets[i] = 0.3 * rng.Float64()
	}
	tt := tensor.New(tensor.WithShape(4, 3), tensor.WithBacking(targets))
	worst := gradCheck(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		y, err := Dense(in[0], in[1], in[2])
		if err != nil {
			return nil, err
		}
		return SoftmaxKLDivergence(y, in[3], 3)
	}, []*tensor.Dense{x, w, b, tt}, []int{0, 1, 2})
	t.Logf("max relative error %.3g", worst)
}

func TestSoftmaxKLDivergenceRejectsTemperature(t *testing.T) {
	g := G.NewGraph()
	z := node(g, "z", tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float64{0, 1})))
	for _, temp := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := SoftmaxKLDivergence(z, z, temp); err == nil {
			t.Errorf("temperature %g: no error", temp)
		}
	}
}
