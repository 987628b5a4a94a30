package graph

import (
	"fmt"
	"github.com/cifar-resnet/trainer/graph/cpu/simd"
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
	relu     bool // apply max(·, 0) to the output
	// The batch mean and inverse standard deviation of the last forward
	// pass in training mode, read by the backward operations.
	mean, invstd []float64
	// gen counts forward passes. The backward operations share the
	// per-channel sums Σdy and Σdy·x̂, computed once per pass by whichever
	// of them runs first (sumsGen records the pass they belong to).
	gen, sumsGen     uint64
	sumDy, sumDyXhat []float64
}

// BatchNorm applies spatial batch normalisation to the NCHW tensor x with
// the per-channel scale gamma and shift beta (vectors of length C). In
// training mode it normalises with the statistics of the batch (biased
// variance) and updates the running statistics of s (unbiased variance);
// in evaluation mode it normalises with the running statistics and leaves
// them unchanged.
func BatchNorm(x, gamma, beta *G.Node, s *BNState, training bool) (*G.Node, error) {
	return batchNorm(x, gamma, beta, s, training, false)
}

// BatchNormReLU is max(BatchNorm(x, gamma, beta), 0) in one operation: the
// same result as ReLU of BatchNorm, with one pass less over memory forward
// and backward.
func BatchNormReLU(x, gamma, beta *G.Node, s *BNState, training bool) (*G.Node, error) {
	return batchNorm(x, gamma, beta, s, training, true)
}

func batchNorm(x, gamma, beta *G.Node, s *BNState, training, relu bool) (*G.Node, error) {
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
	name := "BatchNorm"
	if relu {
		name = "BatchNormReLU"
	}
	op := &bnOp{opBase: newBase("%s(%s)", name, mode), state: s, training: training, relu: relu}
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
	op.gen++
	st := op.state
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mean, invstd float64
			if op.training {
				// One pass: the sums are taken around the first value of
				// the channel, which keeps Σd² - (Σd)²/m well conditioned.
				ref := float64(x[ch*hw])
				var sum, sq float64
				for i := range n {
					row := x[(i*c+ch)*hw:][:hw]
					if r32, ok := any(row).([]float32); ok {
						ps, pq := simd.Stats(r32, float32(ref))
						sum += ps
						sq += pq
						continue
					}
					var ps, pq T
					for _, v := range row {
						d := v - T(ref)
						ps += d
						pq += d * d
					}
					sum += float64(ps)
					sq += float64(pq)
				}
				mean = ref + sum/m
				ss := max(0, sq-sum*sum/m)
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
				if s32, ok := any(src).([]float32); ok {
					simd.ScaleShift(any(dst).([]float32), s32, float32(scale), float32(shift), op.relu)
					continue
				}
				if op.relu {
					for j, v := range src {
						dst[j] = max(v*scale+shift, 0)
					}
					continue
				}
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
	args := G.Nodes{in[0], in[1], grad}
	if op.relu {
		args = append(args, out) // the output masks the gradient
	}
	var ds G.Nodes
	for _, wrt := range []bnWRT{bnX, bnGamma, bnBeta} {
		d, err := G.ApplyOp(&bnGradOp{opBase: newBase("%sGrad%s", op.name, [...]string{"X", "Gamma", "Beta"}[wrt]), fwd: op, wrt: wrt}, args...)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// bnWRT names the input a bnGradOp differentiates with respect to.
type bnWRT int

const (
	bnX bnWRT = iota
	bnGamma
	bnBeta
)

// bnGradOp computes one gradient of a training-mode batch norm from
// (x, γ, dy), or (x, γ, dy, y) when the batch norm includes the ReLU (dy is
// then masked by y > 0 first), and the batch statistics its forward pass
// saved:
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

func (op *bnGradOp) Arity() int {
	if op.fwd.relu {
		return 4
	}
	return 3
}

func (op *bnGradOp) Type() hm.Type {
	ts := []hm.Type{tensorOf(4), tensorOf(1), tensorOf(4)}
	if op.fwd.relu {
		ts = append(ts, tensorOf(4))
	}
	if op.wrt == bnX {
		return fnType(append(ts, tensorOf(4))...)
	}
	return fnType(append(ts, tensorOf(1))...)
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
	in, dt, err := inputs(op.name, op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if !in[2].Shape().Eq(s) || op.fwd.relu && !in[3].Shape().Eq(s) {
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
		bnBackward(op, s, in, slice[float32](out))
	} else {
		bnBackward(op, s, in, slice[float64](out))
	}
	return out, nil
}

// bnSums computes Σdy and Σdy·x̂ per channel for the current forward pass,
// unless another backward operation already did.
func bnSums[T float](f *bnOp, s tensor.Shape, x, dy, y []T) {
	if f.sumsGen == f.gen && len(f.sumDy) == s[1] {
		return
	}
	n, c, hw := s[0], s[1], s[2]*s[3]
	if len(f.sumDy) != c {
		f.sumDy, f.sumDyXhat = make([]float64, c), make([]float64, c)
	}
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean := T(f.mean[ch])
			var sumDy, sumDyXc float64
			for i := range n {
				off := (i*c + ch) * hw
				xs, ds := x[off:off+hw], dy[off:off+hw]
				if x32, ok := any(xs).([]float32); ok {
					var ys []float32
					if y != nil {
						ys = any(y).([]float32)[off : off+hw]
					}
					a, b := simd.BNSums(any(ds).([]float32), x32, ys, float32(mean))
					sumDy += a
					sumDyXc += b
					continue
				}
				var a, b T
				if y != nil {
					ys := y[off : off+hw]
					for j, d := range ds {
						if ys[j] > 0 {
							a += d
							b += d * (xs[j] - mean)
						}
					}
				} else {
					for j, d := range ds {
						a += d
						b += d * (xs[j] - mean)
					}
				}
				sumDy += float64(a)
				sumDyXc += float64(b)
			}
			f.sumDy[ch], f.sumDyXhat[ch] = sumDy, sumDyXc*f.invstd[ch]
		}
	})
	f.sumsGen = f.gen
}

func bnBackward[T float](op *bnGradOp, s tensor.Shape, in []*tensor.Dense, out []T) {
	x, gamma, dy := slice[T](in[0]), slice[T](in[1]), slice[T](in[2])
	var y []T
	if op.fwd.relu {
		y = slice[T](in[3])
	}
	f := op.fwd
	bnSums(f, s, x, dy, y)
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	switch op.wrt {
	case bnBeta:
		for ch := range c {
			out[ch] = T(f.sumDy[ch])
		}
		return
	case bnGamma:
		for ch := range c {
			out[ch] = T(f.sumDyXhat[ch])
		}
		return
	}
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean, invstd := f.mean[ch], f.invstd[ch]
			// dx = k·dy + a·x + b with the constants folded per channel.
			k := float64(gamma[ch]) * invstd
			a := -k * invstd * f.sumDyXhat[ch] / m
			b := -k*f.sumDy[ch]/m - a*mean
			kT, aT, bT := T(k), T(a), T(b)
			for i := range n {
				off := (i*c + ch) * hw
				xs, ds, dst := x[off:off+hw], dy[off:off+hw], out[off:off+hw]
				if o32, ok := any(dst).([]float32); ok {
					var ys []float32
					if y != nil {
						ys = any(y).([]float32)[off : off+hw]
					}
					simd.BNDx(o32, any(ds).([]float32), any(xs).([]float32), ys, float32(kT), float32(aT), float32(bT))
					continue
				}
				if y != nil {
					ys := y[off : off+hw]
					for j := range dst {
						d := ds[j]
						if ys[j] <= 0 {
							d = 0
						}
						dst[j] = kT*d + aT*xs[j] + bT
					}
					continue
				}
				for j := range dst {
					dst[j] = kT*ds[j] + aT*xs[j] + bT
				}
			}
		}
	})
}
