package graph

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BNState holds the running statistics of one batch norm layer. A training
// graph updates them; an evaluation graph built on the same state reads
// them. Nothing in a graph or machine ever resets them: the mode of a batch
// norm operation is fixed when it is created, so gorgonia.TapeMachine's
// SetTraining calls do not reach it.
type BNState struct {
	// Mean and Var are the running mean and (unbiased) variance per channel.
	Mean, Var []float32
	// Momentum weighs the newest batch, in PyTorch's convention:
	// running = (1-Momentum)·running + Momentum·batch.
	Momentum float64
	// Epsilon is added to the variance before the square root.
	Epsilon float64
}

// NewBNState returns the state of a layer with the given number of
// channels, with running mean 0 and running variance 1.
func NewBNState(channels int, momentum, epsilon float64) *BNState {
	s := &BNState{Mean: make([]float32, channels), Var: make([]float32, channels), Momentum: momentum, Epsilon: epsilon}
	for i := range s.Var {
		s.Var[i] = 1
	}
	return s
}

// bnOp normalises an NCHW tensor per channel and applies γ and β.
type bnOp struct {
	opBase
	state    *BNState
	training bool
	// The batch mean and inverse standard deviation of the last forward
	// pass in training mode, read by the backward operations.
	mean, invstd []float64
}

// BatchNorm applies spatial batch normalisation to the NCHW tensor x with
// the per-channel scale gamma and shift beta (vectors of length C). In
// training mode it normalises with the statistics of the batch (biased
// variance) and updates the running statistics of s (unbiased variance);
// in evaluation mode it normalises with the running statistics and leaves
// them unchanged.
func BatchNorm(x, gamma, beta *G.Node, s *BNState, training bool) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 4 {
		return nil, fmt.Errorf("graph: batch norm: input must be NCHW, got shape %v", xs)
	}
	c := xs[1]
	if !gamma.Shape().Eq(tensor.Shape{c}) || !beta.Shape().Eq(tensor.Shape{c}) {
		return nil, fmt.Errorf("graph: batch norm: γ %v and β %v must have shape (%d)", gamma.Shape(), beta.Shape(), c)
	}
	if len(s.Mean) != c || len(s.Var) != c {
		return nil, fmt.Errorf("graph: batch norm: state has %d channels, input has %d", len(s.Mean), c)
	}
	mode := "eval"
	if training {
		mode = "train"
	}
	op := &bnOp{opBase: newBase("BatchNorm(%s)", mode), state: s, training: training}
	return G.ApplyOp(op, x, gamma, beta)
}

func (op *bnOp) Arity() int         { return 3 }
func (op *bnOp) Type() hm.Type      { return fnType(tensorOf(4), tensorOf(1), tensorOf(1), tensorOf(4)) }
func (op *bnOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *bnOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}
func (op *bnOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *bnOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if len(s) != 4 || s[1] != len(op.state.Mean) {
		return nil, fmt.Errorf("graph: %s: input shape %v does not match %d channels", op.name, s, len(op.state.Mean))
	}
	y := op.output(prealloc, dt, s...)
	if dt == tensor.Float32 {
		bnForward(op, s, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), slice[float32](y))
	} else {
		bnForward(op, s, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), slice[float64](y))
	}
	return y, nil
}

// bnForward normalises x into y, channel by channel in parallel.
func bnForward[T float](op *bnOp, s tensor.Shape, x, gamma, beta, y []T) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	if len(op.mean) != c {
		op.mean, op.invstd = make([]float64, c), make([]float64, c)
	}
	st := op.state
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mean, invstd float64
			if op.training {
				var sum float64
				for i := range n {
					for _, v := range x[(i*c+ch)*hw:][:hw] {
						sum += float64(v)
					}
				}
				mean = sum / m
				var ss float64
				for i := range n {
					for _, v := range x[(i*c+ch)*hw:][:hw] {
						d := float64(v) - mean
						ss += d * d
					}
				}
				variance := ss / m
				invstd = 1 / math.Sqrt(variance+st.Epsilon)
				op.mean[ch], op.invstd[ch] = mean, invstd
				unbiased := variance
				if m > 1 {
					unbiased = ss / (m - 1)
				}
				st.Mean[ch] = float32((1-st.Momentum)*float64(st.Mean[ch]) + st.Momentum*mean)
				st.Var[ch] = float32((1-st.Momentum)*float64(st.Var[ch]) + st.Momentum*unbiased)
			} else {
				mean = float64(st.Mean[ch])
				invstd = 1 / math.Sqrt(float64(st.Var[ch])+st.Epsilon)
			}
			scale := T(float64(gamma[ch]) * invstd)
			shift := T(float64(beta[ch]) - mean*float64(gamma[ch])*invstd)
			for i := range n {
				src := x[(i*c+ch)*hw:][:hw]
				dst := y[(i*c+ch)*hw:][:hw]
				for j, v := range src {
					dst[j] = v*scale + shift
				}
			}
		}
	})
}

func (op *bnOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if !op.training {
		return nil, fmt.Errorf("graph: %s: gradients are only defined in training mode", op.name)
	}
	x, gamma := in[0], in[1]
	dx, err := G.ApplyOp(&bnGradOp{opBase: newBase("BatchNormGradX"), fwd: op, wrt: bnX}, x, gamma, grad)
	if err != nil {
		return nil, err
	}
	dg, err := G.ApplyOp(&bnGradOp{opBase: newBase("BatchNormGradGamma"), fwd: op, wrt: bnGamma}, x, gamma, grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&bnGradOp{opBase: newBase("BatchNormGradBeta"), fwd: op, wrt: bnBeta}, x, gamma, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dg, db}, nil
}

// bnWRT names the input a bnGradOp differentiates with respect to.
type bnWRT int

const (
	bnX bnWRT = iota
	bnGamma
	bnBeta
)

// bnGradOp computes one gradient of a training-mode batch norm from
// (x, γ, dy) and the batch statistics its forward pass saved:
//
//	x̂ = (x-μ)·invstd
//	∂L/∂β = Σ dy
//	∂L/∂γ = Σ dy·x̂
//	∂L/∂x = γ·invstd·(dy - ∂L/∂β/M - x̂·∂L/∂γ/M)
//
// with sums over the M = N·H·W values of a channel.
type bnGradOp struct {
	opBase
	fwd *bnOp
	wrt bnWRT
}

func (op *bnGradOp) Arity() int { return 3 }
func (op *bnGradOp) Type() hm.Type {
	if op.wrt == bnX {
		return fnType(tensorOf(4), tensorOf(1), tensorOf(4), tensorOf(4))
	}
	return fnType(tensorOf(4), tensorOf(1), tensorOf(4), tensorOf(1))
}
func (op *bnGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	if op.wrt == bnX {
		return s.Clone(), nil
	}
	return tensor.Shape{s[1]}, nil
}
func (op *bnGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *bnGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if !in[2].Shape().Eq(s) {
		return nil, fmt.Errorf("graph: %s: gradient shape %v differs from input shape %v", op.name, in[2].Shape(), s)
	}
	if len(op.fwd.mean) != s[1] {
		return nil, fmt.Errorf("graph: %s: the forward pass has not run", op.name)
	}
	var out *tensor.Dense
	if op.wrt == bnX {
		out = op.output(prealloc, dt, s...)
	} else {
		out = op.output(prealloc, dt, s[1])
	}
	if dt == tensor.Float32 {
		bnBackward(op, s, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), slice[float32](out))
	} else {
		bnBackward(op, s, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), slice[float64](out))
	}
	return out, nil
}

func bnBackward[T float](op *bnGradOp, s tensor.Shape, x, gamma, dy, out []T) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean, invstd := op.fwd.mean[ch], op.fwd.invstd[ch]
			var sumDy, sumDyXhat float64
			for i := range n {
				xs := x[(i*c+ch)*hw:][:hw]
				for j, d := range dy[(i*c+ch)*hw:][:hw] {
					sumDy += float64(d)
					sumDyXhat += float64(d) * (float64(xs[j]) - mean)
				}
			}
			sumDyXhat *= invstd
			switch op.wrt {
			case bnBeta:
				out[ch] = T(sumDy)
			case bnGamma:
				out[ch] = T(sumDyXhat)
			case bnX:
				// dx = k·dy + a·x + b with the constants folded per channel.
				k := float64(gamma[ch]) * invstd
				a := -k * invstd * sumDyXhat / m
				b := -k*sumDy/m - a*mean
				kT, aT, bT := T(k), T(a), T(b)
				for i := range n {
					xs := x[(i*c+ch)*hw:][:hw]
					ds := dy[(i*c+ch)*hw:][:hw]
					dst := out[(i*c+ch)*hw:][:hw]
					for j := range dst {
						dst[j] = kT*ds[j] + aT*xs[j] + bT
					}
				}
			}
		}
	})
}
