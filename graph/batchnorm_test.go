package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestBatchNormClosedForm compares the backward pass with the textbook
// formulas, written out separately through dL/dσ² and dL/dμ.
func TestBatchNormClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, c, hw = 3, 2, 4
	x := randTensor(rng, n, c, 2, 2)
	gamma := randTensor(rng, c)
	beta := randTensor(rng, c)
	dyv := randTensor(rng, n, c, 2, 2)
	const eps = 1e-5

	g := G.NewGraph()
	xn, gn, bn := node(g, "x", x), node(g, "gamma", gamma), node(g, "beta", beta)
	y, err := BatchNorm(xn, gn, bn, NewBNState(c, 0.1, eps), NewBNBatch(c))
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, node(g, "dy", dyv)))))
	grads := runGrad(t, g, cost, xn, gn, bn)
	gotDx := grads[0].Value().Data().([]float64)
	gotDg := grads[1].Value().Data().([]float64)
	gotDb := grads[2].Value().Data().([]float64)

	xs, dy, gs := x.Data().([]float64), dyv.Data().([]float64), gamma.Data().([]float64)
	at := func(i, ch, j int) int { return (i*c+ch)*hw + j }
	const M = n * hw
	for ch := range c {
		var mu, v float64
		for i := range n {
			for j := range hw {
				mu += xs[at(i, ch, j)] / M
			}
		}
		for i := range n {
			for j := range hw {
				d := xs[at(i, ch, j)] - mu
				v += d * d / M
			}
		}
		var dvar, dmu, sumCentered, dgamma, dbeta float64
		for i := range n {
			for j := range hw {
				k := at(i, ch, j)
				dxhat := dy[k] * gs[ch]
				dvar += dxhat * (xs[k] - mu) * -0.5 * math.Pow(v+eps, -1.5)
				dmu += -dxhat / math.Sqrt(v+eps)
				sumCentered += -2 * (xs[k] - mu)
				dgamma += dy[k] * (xs[k] - mu) / math.Sqrt(v+eps)
				dbeta += dy[k]
			}
		}
		dmu += dvar * sumCentered / M
		for i := range n {
			for j := range hw {
				k := at(i, ch, j)
				want := dy[k]*gs[ch]/math.Sqrt(v+eps) + dvar*2*(xs[k]-mu)/M + dmu/M
				if math.Abs(gotDx[k]-want) > 1e-12 {
					t.Errorf("dx[%d] = %.15g, closed form %.15g", k, gotDx[k], want)
				}
			}
		}
		if math.Abs(gotDg[ch]-dgamma) > 1e-12 || math.Abs(gotDb[ch]-dbeta) > 1e-12 {
			t.Errorf("channel %d: dγ, dβ = %.15g, %.15g; closed form %.15g, %.15g", ch, gotDg[ch], gotDb[ch], dgamma, dbeta)
		}
	}
}

// bnMachine builds x → BatchNorm on the shared state s, with γ = 1, β = 0,
// for float32 input of shape (2, 1, 1, 2).
func bnMachine(t *testing.T, s *BNState, training bool) (G.VM, []float32, *G.Node) {
	t.Helper()
	g := G.NewGraph()
	xv := tensor.New(tensor.WithShape(2, 1, 1, 2), tensor.Of(tensor.Float32))
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 1, 1, 2), G.WithValue(xv), G.WithName("x"))
	gamma := G.NewVector(g, tensor.Float32, G.WithShape(1), G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{1}))), G.WithName("gamma"))
	beta := G.NewVector(g, tensor.Float32, G.WithShape(1), G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{0}))), G.WithName("beta"))
	var b *BNBatch
	if training {
		b = NewBNBatch(1)
	}
	y, err := BatchNorm(x, gamma, beta, s, b)
	if err != nil {
		t.Fatal(err)
	}
	return G.NewTapeMachine(g), xv.Data().([]float32), y
}

func run(t *testing.T, m G.VM) {
	t.Helper()
	m.Reset()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
}

func TestBatchNormRunningStatistics(t *testing.T) {
	s := NewBNState(1, 0.1, 1e-5)
	train, x, _ := bnMachine(t, s, true)
	defer train.Close()
	// Hand-computed with momentum 0.1 and the unbiased batch variance
	// (M = 4 values per channel), starting from mean 0, variance 1:
	//   [1 2 3 4]: μ=2.5, s²=5/3  → mean 0.25,   var 0.9·1      + 0.1·5/3  = 1.0666667
	//   [0 0 4 4]: μ=2,   s²=16/3 → mean 0.425,  var 0.9·1.0666667 + 0.1·16/3 = 1.4933333
	//   [2 2 2 2]: μ=2,   s²=0    → mean 0.5825, var 0.9·1.4933333          = 1.344
	steps := []struct {
		x        []float32
		mean, vr float64
	}{
		{[]float32{1, 2, 3, 4}, 0.25, 1.0666667},
		{[]float32{0, 0, 4, 4}, 0.425, 1.4933333},
		{[]float32{2, 2, 2, 2}, 0.5825, 1.344},
	}
	for i, st := range steps {
		copy(x, st.x)
		run(t, train)
		if math.Abs(float64(s.Mean[0])-st.mean) > 1e-6 || math.Abs(float64(s.Var[0])-st.vr) > 1e-6 {
			t.Fatalf("step %d: running mean, var = %v, %v; want %v, %v", i+1, s.Mean[0], s.Var[0], st.mean, st.vr)
		}
	}

	// Evaluation mode reads the statistics and leaves them unchanged, even
	// though creating a TapeMachine calls SetTraining on training-mode ops.
	eval, ex, ey := bnMachine(t, s, false)
	defer eval.Close()
	copy(ex, []float32{0, 1, 2, 3})
	run(t, eval)
	if s.Mean[0] != float32(0.5825) || math.Abs(float64(s.Var[0])-1.344) > 1e-6 {
		t.Fatalf("evaluation changed the running statistics: %v, %v", s.Mean[0], s.Var[0])
	}
	got := ey.Value().Data().([]float32)
	for i, v := range []float32{0, 1, 2, 3} {
		want := (float64(v) - 0.5825) / math.Sqrt(1.344+1e-5)
		if math.Abs(float64(got[i])-want) > 1e-5 {
			t.Errorf("eval output %d = %v, want %v", i, got[i], want)
		}
	}

	// Switching back to training: a new training machine does not reset
	// the statistics, and the next step continues from them.
	train2, x2, _ := bnMachine(t, s, true)
	defer train2.Close()
	if s.Mean[0] != float32(0.5825) {
		t.Fatalf("a new training machine reset the running mean to %v", s.Mean[0])
	}
	copy(x2, []float32{2, 2, 2, 2})
	run(t, train2)
	if want := 0.9*0.5825 + 0.2; math.Abs(float64(s.Mean[0])-want) > 1e-6 {
		t.Fatalf("running mean after train → eval → train = %v, want %v", s.Mean[0], want)
	}
}

// TestConvBNEval checks the folded evaluation operation against a
// convolution followed by an evaluation-mode batch norm (and ReLU).
func TestConvBNEval(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, relu := range []bool{false, true} {
		for _, geo := range []struct{ k, r, stride, pad int }{{4, 3, 1, 1}, {4, 3, 2, 1}, {4, 1, 2, 0}} {
			x := randTensor(rng, 2, 3, 6, 6)
			w := randTensor(rng, geo.k, 3, geo.r, geo.r)
			gamma, beta := randTensor(rng, geo.k), randTensor(rng, geo.k)
			s := NewBNState(geo.k, 0.1, 1e-5)
			for i := range s.Mean {
				s.Mean[i] = float32(rng.NormFloat64())
				s.Var[i] = float32(0.5 + rng.Float64())
			}
			g := G.NewGraph()
			xn, wn, gn, bn := node(g, "x", x), node(g, "w", w), node(g, "gamma", gamma), node(g, "beta", beta)
			fused, err := ConvBNEval(xn, wn, gn, bn, s, geo.stride, geo.pad, relu)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Conv2D(xn, wn, geo.stride, geo.pad)
			if err != nil {
				t.Fatal(err)
			}
			var ref *G.Node
			if relu {
				ref, err = BatchNormReLU(c, gn, bn, s, nil)
			} else {
				ref, err = BatchNorm(c, gn, bn, s, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			// The end of a residual block: ReLU(conv+BN + skip).
			var res, resRef *G.Node
			if !relu {
				skip := node(g, "skip", randTensor(rng, ref.Shape()...))
				if res, err = ConvBNAddReLUEval(xn, wn, gn, bn, skip, s, geo.stride, geo.pad); err != nil {
					t.Fatal(err)
				}
				if resRef, err = AddReLU(ref, skip); err != nil {
					t.Fatal(err)
				}
			}
			m := G.NewTapeMachine(g)
			if err := m.RunAll(); err != nil {
				t.Fatal(err)
			}
			got, want := fused.Value().Data().([]float64), ref.Value().Data().([]float64)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-12 {
					t.Fatalf("relu=%v %+v: element %d = %v, want %v", relu, geo, i, got[i], want[i])
				}
			}
			if res != nil {
				got, want := res.Value().Data().([]float64), resRef.Value().Data().([]float64)
				zeros := 0
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-12 {
						t.Fatalf("residual %+v: element %d = %v, want %v", geo, i, got[i], want[i])
					}
					if want[i] == 0 {
						zeros++
					}
				}
				if zeros == 0 || zeros == len(want) {
					t.Fatalf("residual %+v: %d of %d outputs are 0: the ReLU is not tested", geo, zeros, len(want))
				}
			}
			m.Close()
		}
	}
}
