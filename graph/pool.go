package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gapOp averages each channel of an NCHW tensor over its H·W positions,
// giving an N×C matrix.
type gapOp struct{ opBase }

// GlobalAvgPool averages the NCHW tensor x over height and width, giving an
// N×C matrix. Unlike gorgonia.GlobalAveragePool2D it is differentiable.
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	if len(x.Shape()) != 4 {
		return nil, fmt.Errorf("graph: global average pool: input must be NCHW, got shape %v", x.Shape())
	}
	return G.ApplyOp(&gapOp{newBase("GlobalAvgPool")}, x)
}

func (op *gapOp) Arity() int         { return 1 }
func (op *gapOp) Type() hm.Type      { return fnType(tensorOf(4), tensorOf(2)) }
func (op *gapOp) DiffWRT(int) []bool { return []bool{true} }
func (op *gapOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	if len(s) != 4 {
		return nil, fmt.Errorf("graph: %s: input must be NCHW, got shape %v", op.name, s)
	}
	return tensor.Shape{s[0], s[1]}, nil
}
func (op *gapOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *gapOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("graph: %s: input must be NCHW, got shape %v", op.name, s)
	}
	y := op.output(prealloc, dt, s[0], s[1])
	return op.done(y, op.be.GlobalAvgPool(in[0], y))
}

func (op *gapOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&gapGradOp{opBase: newBase("GlobalAvgPoolGrad"), xshape: in[0].Shape().Clone()}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// gapGradOp spreads dy (N×C) evenly over the H·W positions of each channel.
type gapGradOp struct {
	opBase
	xshape tensor.Shape
}

func (op *gapGradOp) Arity() int    { return 1 }
func (op *gapGradOp) Type() hm.Type { return fnType(tensorOf(2), tensorOf(4)) }
func (op *gapGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.xshape.Clone(), nil
}
func (op *gapGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *gapGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	if !in[0].Shape().Eq(tensor.Shape{op.xshape[0], op.xshape[1]}) {
		return nil, fmt.Errorf("graph: %s: gradient shape %v does not match input %v", op.name, in[0].Shape(), op.xshape)
	}
	dx := op.output(prealloc, dt, op.xshape...)
	return op.done(dx, op.be.GlobalAvgPoolBackward(in[0], dx))
}
