package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// reluOp is y = max(x, 0), or y = max(a+b, 0) when it has two inputs (the
// end of a residual block).
type reluOp struct {
	opBase
	arity int
}

// ReLU returns max(x, 0) elementwise.
func ReLU(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(&reluOp{opBase: newBase("ReLU"), arity: 1}, x)
}

// AddReLU returns max(a+b, 0) elementwise: the residual addition and the
// activation after it, in one pass over memory.
func AddReLU(a, b *G.Node) (*G.Node, error) {
	if !a.Shape().Eq(b.Shape()) {
		return nil, fmt.Errorf("graph: add+relu: shapes %v and %v differ", a.Shape(), b.Shape())
	}
	return G.ApplyOp(&reluOp{opBase: newBase("AddReLU"), arity: 2}, a, b)
}

func (op *reluOp) Arity() int { return op.arity }
func (op *reluOp) Type() hm.Type {
	t := hmA()
	if op.arity == 2 {
		return fnType(t, t, t)
	}
	return fnType(t, t)
}
func (op *reluOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *reluOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}
func (op *reluOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *reluOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, op.arity, vs)
	if err != nil {
		return nil, err
	}
	if op.arity == 2 && !in[0].Shape().Eq(in[1].Shape()) {
		return nil, fmt.Errorf("graph: %s: shapes %v and %v differ", op.name, in[0].Shape(), in[1].Shape())
	}
	y := op.output(prealloc, dt, in[0].Shape()...)
	var b *tensor.Dense
	if op.arity == 2 {
		b = in[1]
	}
	return op.done(y, op.be.AddReLU(in[0], b, y))
}

func (op *reluOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&reluGradOp{opBase: newBase("ReLUGrad")}, out, grad)
	if err != nil {
		return nil, err
	}
	if op.arity == 2 {
		// Both summands receive the same gradient.
		return G.Nodes{d, d}, nil
	}
	return G.Nodes{d}, nil
}

// reluGradOp computes dx = dy where y > 0 and 0 elsewhere, from (y, dy).
type reluGradOp struct{ opBase }

func (op *reluGradOp) Arity() int    { return 2 }
func (op *reluGradOp) Type() hm.Type { t := hmA(); return fnType(t, t, t) }
func (op *reluGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}
func (op *reluGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *reluGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	if !in[0].Shape().Eq(in[1].Shape()) {
		return nil, fmt.Errorf("graph: %s: shapes %v and %v differ", op.name, in[0].Shape(), in[1].Shape())
	}
	dx := op.output(prealloc, dt, in[0].Shape()...)
	return op.done(dx, op.be.ReLUBackward(in[0], in[1], dx))
}
