package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randTensor returns a float64 tensor of the given shape with values
// uniform in [-1, 1).
func randTensor(rng *rand.Rand, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	d := make([]float64, n)
	for i := range d {
		d[i] = 2*rng.Float64() - 1
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

// node binds value to a new input node of g.
func node(g *G.ExprGraph, name string, v *tensor.Dense) *G.Node {
	return G.NewTensor(g, tensor.Float64, v.Dims(), G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v))
}

// runGrad differentiates cost with respect to wrt, runs the graph g once
// and returns the gradient nodes.
func runGrad(t *testing.T, g *G.ExprGraph, cost *G.Node, wrt ...*G.Node) G.Nodes {
	t.Helper()
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	t.Cleanup(func() { m.Close() })
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return grads
}

// gradCheck builds f on inputs, reduces its output to the scalar
// Σ out⊙R for a fixed random R, differentiates it with gorgonia.Grad and
// compares the gradients with respect to the inputs listed in wrt with
// central finite differences. It returns the largest relative error
// |a-n| / max(|a|+|n|, 1e-8) over all checked elements.
func gradCheck(t *testing.T, f func(g *G.ExprGraph, in []*G.Node) (*G.Node, error), vals []*tensor.Dense, wrt []int) float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	g := G.NewGraph()
	nodes := make([]*G.Node, len(vals))
	for i, v := range vals {
		nodes[i] = node(g, string(rune('a'+i)), v)
	}
	out, err := f(g, nodes)
	if err != nil {
		t.Fatal(err)
	}
	cost := out
	if !out.IsScalar() {
		r := node(g, "R", randTensor(rng, out.Shape()...))
		cost = G.Must(G.Sum(G.Must(G.HadamardProd(out, r))))
	}
	var ws G.Nodes
	for _, i := range wrt {
		ws = append(ws, nodes[i])
	}
	grads, err := G.Grad(cost, ws...)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	run := func() float64 {
		t.Helper()
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		c, err := scalar(cost.Value())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	run()
	analytic := make([][]float64, len(grads))
	for i, gr := range grads {
		analytic[i] = append([]float64(nil), gr.Value().Data().([]float64)...)
	}
	const h = 1e-6
	worst := 0.0
	for k, i := range wrt {
		x := vals[i].Data().([]float64)
		if len(analytic[k]) != len(x) {
			t.Fatalf("input %d: gradient has %d elements, input %d", i, len(analytic[k]), len(x))
		}
		for j := range x {
			orig := x[j]
			x[j] = orig + h
			plus := run()
			x[j] = orig - h
			minus := run()
			x[j] = orig
			num := (plus - minus) / (2 * h)
			a := analytic[k][j]
			rel := math.Abs(a-num) / math.Max(math.Abs(a)+math.Abs(num), 1e-8)
			if rel > worst {
				worst = rel
			}
			if rel > 1e-5 {
				t.Errorf("input %d element %d: analytic %.10g, numeric %.10g (relative error %.3g)", i, j, a, num, rel)
			}
		}
	}
	return worst
}

func TestConvGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name        string
		k, r        int
		stride, pad int
	}{
		{"3x3 stride 1", 4, 3, 1, 1},
		{"3x3 stride 2", 4, 3, 2, 1},
		{"1x1 stride 1", 4, 1, 1, 0},
		{"1x1 stride 2", 4, 1, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(rng, 2, 3, 6, 6)
			w := randTensor(rng, tc.k, 3, tc.r, tc.r)
			worst := gradCheck(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return Conv2D(in[0], in[1], tc.stride, tc.pad)
			}, []*tensor.Dense{x, w}, []int{0, 1})
			t.Logf("max relative error %.3g", worst)
		})
	}
}

func TestBatchNormGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randTensor(rng, 3, 2, 3, 3)
	gamma := randTensor(rng, 2)
	beta := randTensor(rng, 2)
	s := NewBNState(2, 0.1, 1e-5)
	worst := gradCheck(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return BatchNorm(in[0], in[1], in[2], s, NewBNBatch(2))
	}, []*tensor.Dense{x, gamma, beta}, []int{0, 1, 2})
	t.Logf("max relative error %.3g", worst)
}

func TestBatchNormReLUGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	x := randTensor(rng, 3, 2, 3, 3)
	gamma := randTensor(rng, 2)
	beta := randTensor(rng, 2)
	s := NewBNState(2, 0.1, 1e-5)
	worst := gradCheck(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return BatchNormReLU(in[0], in[1], in[2], s, NewBNBatch(2))
	}, []*tensor.Dense{x, gamma, beta}, []int{0, 1, 2})
	t.Logf("max relative error %.3g", worst)
}

func TestReLUGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a, b := randTensor(rng, 2, 3, 4), randTensor(rng, 2, 3, 4)
	gradCheck(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return ReLU(in[0])
	}, []*tensor.Dense{a}, []int{0})
	gradCheck(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return AddReLU(in[0], in[1])
	}, []*tensor.Dense{a, b}, []int{0, 1})
}

func TestGlobalAvgPoolGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := randTensor(rng, 2, 3, 4, 4)
	gradCheck(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return GlobalAvgPool(in[0])
	}, []*tensor.Dense{x}, []int{0})
}

func TestDenseCrossEntropyGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := randTensor(rng, 4, 5)
	w := randTensor(rng, 3, 5)
	b := randTensor(rng, 3)
	targets := make([]float64, 4*3)
	SmoothLabels(targets, []int{0, 2, 1, 2}, 3, 0.1)
	tt := tensor.New(tensor.WithShape(4, 3), tensor.WithBacking(targets))
	worst := gradCheck(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		y, err := Dense(in[0], in[1], in[2])
		if err != nil {
			return nil, err
		}
		return SoftmaxCrossEntropy(y, in[3])
	}, []*tensor.Dense{x, w, b, tt}, []int{0, 1, 2})
	t.Logf("max relative error %.3g", worst)
}
