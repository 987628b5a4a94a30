package graph

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// xentOp is the mean over a batch of the cross-entropy between
// softmax(logits/t) and target rows, times t², computed through a stable
// log-softmax; with kl set, the targets' own entropy is subtracted, which
// makes it a Kullback-Leibler divergence.
type xentOp struct {
	opBase
	t  float64 // temperature
	kl bool
}

// SoftmaxCrossEntropy returns the scalar
//
//	-1/N · Σₙ Σₖ target[n,k] · log softmax(logits[n])ₖ
//
// for N×K logits and N×K targets whose rows are probability distributions
// (one-hot labels, or labels smoothed with SmoothLabels). The gradient with
// respect to the logits is (softmax(logits) - target)/N; targets get none.
func SoftmaxCrossEntropy(logits, targets *G.Node) (*G.Node, error) {
	if err := checkXent(logits, targets, 1); err != nil {
		return nil, err
	}
	return G.ApplyOp(&xentOp{newBase("SoftmaxCrossEntropy"), 1, false}, logits, targets)
}

// SoftmaxKLDivergence returns the distillation term of Hinton et al.
// (2015) at temperature t > 0,
//
//	t²/N · Σₙ Σₖ target[n,k] · (log(target[n,k]/Sₙ) - log softmax(logits[n]/t)ₖ)
//
// where Sₙ is the sum of row n of the targets: Sₙ times the
// Kullback-Leibler divergence of softmax(logits[n]/t) from the target
// distribution target[n]/Sₙ, so that a row w·q weighs the divergence from q
// by w. The t² keeps the gradient's scale independent of t. The gradient
// with respect to the logits is t·(Sₙ·softmax(logits[n]/t) - target[n])/N,
// that of the cross-entropy, from which the divergence differs by the
// targets' entropy; targets get none.
func SoftmaxKLDivergence(logits, targets *G.Node, t float64) (*G.Node, error) {
	if err := checkXent(logits, targets, t); err != nil {
		return nil, err
	}
	return G.ApplyOp(&xentOp{newBase("SoftmaxKLDivergence(T=%g)", t), t, true}, logits, targets)
}

func checkXent(logits, targets *G.Node, t float64) error {
	if len(logits.Shape()) != 2 || !logits.Shape().Eq(targets.Shape()) {
		return fmt.Errorf("graph: cross-entropy: logits %v and targets %v must both be N×K", logits.Shape(), targets.Shape())
	}
	if !(t > 0) || math.IsInf(t, 1) {
		return fmt.Errorf("graph: cross-entropy: the temperature must be positive and finite, got %g", t)
	}
	return nil
}

// SmoothLabels writes into dst (N×k) the targets for the given labels with
// label smoothing eps: (1-eps) on the true class plus eps/k on every class.
func SmoothLabels[T float](dst []T, labels []int, k int, eps float64) {
	off := T(eps / float64(k))
	on := T(1-eps) + off
	for n, l := range labels {
		row := dst[n*k : (n+1)*k]
		for j := range row {
			row[j] = off
		}
		row[l] = on
	}
}

func (op *xentOp) Arity() int         { return 2 }
func (op *xentOp) Type() hm.Type      { return fnType(tensorOf(2), tensorOf(2), hmA()) }
func (op *xentOp) DiffWRT(int) []bool { return []bool{true, false} }
func (op *xentOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *xentOp) Do(vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if len(s) != 2 || !in[1].Shape().Eq(s) {
		return nil, fmt.Errorf("graph: %s: logits %v and targets %v must both be N×K", op.name, s, in[1].Shape())
	}
	l, err := op.be.SoftmaxCrossEntropy(in[0], in[1], op.t, op.kl)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", op.name, err)
	}
	if dt == tensor.Float32 {
		return G.NewF32(float32(l)), nil
	}
	return G.NewF64(l), nil
}

func (op *xentOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&xentGradOp{newBase("%sGrad", op.name), op.t}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// xentGradOp computes g·t·(S·softmax(logits/t) - targets)/N from
// (logits, targets, g), S being the sum of each target row.
type xentGradOp struct {
	opBase
	t float64 // temperature
}

func (op *xentGradOp) Arity() int    { return 3 }
func (op *xentGradOp) Type() hm.Type { return fnType(tensorOf(2), tensorOf(2), hmA(), tensorOf(2)) }
func (op *xentGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}
func (op *xentGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *xentGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	if len(vs) != 3 {
		return nil, fmt.Errorf("graph: %s: expected 3 inputs, got %d", op.name, len(vs))
	}
	in, dt, err := inputs(op.name, 2, vs[:2])
	if err != nil {
		return nil, err
	}
	g, err := scalar(vs[2])
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", op.name, err)
	}
	s := in[0].Shape()
	d := op.output(prealloc, dt, s...)
	return op.done(d, op.be.SoftmaxCrossEntropyBackward(in[0], in[1], g, op.t, d))
}
