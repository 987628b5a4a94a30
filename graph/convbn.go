package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convBNOp is an evaluation-mode convolution followed by batch norm (and
// optionally the addition of a residual input and ReLU), computed in one
// call of the backend, which can fold the normalisation into the filter
// and save the separate passes over memory.
type convBNOp struct {
	opBase
	stride, pad int
	relu        bool
	residual    bool // a fifth input is added before the ReLU
	state       *BNState
}

// ConvBNEval returns BatchNorm(Conv2D(x, w, stride, pad), gamma, beta, s,
// nil), followed by ReLU when relu is set, computed in one pass. It is for
// evaluation only: it has no gradient.
func ConvBNEval(x, w, gamma, beta *G.Node, s *BNState, stride, pad int, relu bool) (*G.Node, error) {
	g, err := newConvGeom(x.Shape(), w.Shape(), stride, pad)
	if err != nil {
		return nil, err
	}
	if !gamma.Shape().Eq(tensor.Shape{g.K}) || !beta.Shape().Eq(tensor.Shape{g.K}) || len(s.Mean) != g.K {
		return nil, fmt.Errorf("graph: conv+bn: γ %v, β %v and the statistics (%d) must have %d channels", gamma.Shape(), beta.Shape(), len(s.Mean), g.K)
	}
	op := &convBNOp{opBase: newBase("ConvBNEval(s=%d,p=%d,relu=%v)", stride, pad, relu), stride: stride, pad: pad, relu: relu, state: s}
	return G.ApplyOp(op, x, w, gamma, beta)
}

// ConvBNAddReLUEval returns ReLU(BatchNorm(Conv2D(x, w, stride, pad),
// gamma, beta, s, nil) + skip), the end of a residual block, computed in
// one pass: the skip is added to each image's output while it is in
// cache. It is for evaluation only: it has no gradient.
func ConvBNAddReLUEval(x, w, gamma, beta, skip *G.Node, s *BNState, stride, pad int) (*G.Node, error) {
	g, err := newConvGeom(x.Shape(), w.Shape(), stride, pad)
	if err != nil {
		return nil, err
	}
	if !gamma.Shape().Eq(tensor.Shape{g.K}) || !beta.Shape().Eq(tensor.Shape{g.K}) || len(s.Mean) != g.K {
		return nil, fmt.Errorf("graph: conv+bn+add: γ %v, β %v and the statistics (%d) must have %d channels", gamma.Shape(), beta.Shape(), len(s.Mean), g.K)
	}
	if want := outShape(g); !skip.Shape().Eq(want) {
		return nil, fmt.Errorf("graph: conv+bn+add: skip has shape %v, the convolution %v", skip.Shape(), want)
	}
	op := &convBNOp{opBase: newBase("ConvBNAddReLUEval(s=%d,p=%d)", stride, pad), stride: stride, pad: pad, relu: true, residual: true, state: s}
	return G.ApplyOp(op, x, w, gamma, beta, skip)
}

func (op *convBNOp) Arity() int {
	if op.residual {
		return 5
	}
	return 4
}
func (op *convBNOp) Type() hm.Type {
	if op.residual {
		return fnType(tensorOf(4), tensorOf(4), tensorOf(1), tensorOf(1), tensorOf(4), tensorOf(4))
	}
	return fnType(tensorOf(4), tensorOf(4), tensorOf(1), tensorOf(1), tensorOf(4))
}
func (op *convBNOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *convBNOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("graph: %s: evaluation-only operation has no gradient", op.name)
}

func (op *convBNOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return convShape(ds, op.stride, op.pad)
}

func (op *convBNOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convBNOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeom(in[0].Shape(), in[1].Shape(), op.stride, op.pad)
	if err != nil {
		return nil, err
	}
	y := op.output(prealloc, dt, outShape(g)...)
	var skip *tensor.Dense
	if op.residual {
		skip = in[4]
	}
	st, err := op.state.running(op.be)
	if err != nil {
		return op.done(nil, err)
	}
	return op.done(y, op.be.Conv2DBNEval(in[0], in[1], in[2], in[3], skip, y, g, st, op.relu))
}
