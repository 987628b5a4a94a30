package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// denseOp is y = x·wᵀ + b for x of shape N×I, w of shape O×I (PyTorch's
// layout) and b of length O.
type denseOp struct{ opBase }

// Dense applies the fully connected layer y = x·wᵀ + b to the N×I matrix
// x, with weights w of shape O×I and bias b of length O.
func Dense(x, w, b *G.Node) (*G.Node, error) {
	xs, ws, bs := x.Shape(), w.Shape(), b.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] || !bs.Eq(tensor.Shape{ws[0]}) {
		return nil, fmt.Errorf("graph: dense: incompatible shapes x %v, w %v, b %v (want N×I, O×I, O)", xs, ws, bs)
	}
	return G.ApplyOp(&denseOp{newBase("Dense")}, x, w, b)
}

func (op *denseOp) Arity() int         { return 3 }
func (op *denseOp) Type() hm.Type      { return fnType(tensorOf(2), tensorOf(2), tensorOf(1), tensorOf(2)) }
func (op *denseOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *denseOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(ds, 1)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{xs[0], ws[0]}, nil
}
func (op *denseOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *denseOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	xs, ws := in[0].Shape(), in[1].Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] || in[2].Shape().TotalSize() != ws[0] {
		return nil, fmt.Errorf("graph: %s: incompatible shapes x %v, w %v, b %v", op.name, xs, ws, in[2].Shape())
	}
	y := op.output(prealloc, dt, xs[0], ws[0])
	return op.done(y, op.be.Dense(in[0], in[1], in[2], y))
}

func (op *denseOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	var ds G.Nodes
	for _, wrt := range []denseWRT{denseX, denseW, denseB} {
		d, err := G.ApplyOp(&denseGradOp{opBase: newBase("DenseGrad%d", wrt), wrt: wrt}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// denseWRT names the input a denseGradOp differentiates with respect to.
type denseWRT int

const (
	denseX denseWRT = iota
	denseW
	denseB
)

// denseGradOp computes one gradient of a dense layer from (x, w, dy):
// ∂L/∂x = dy·w, ∂L/∂w = dyᵀ·x, ∂L/∂b = Σₙ dy.
type denseGradOp struct {
	opBase
	wrt denseWRT
}

func (op *denseGradOp) Arity() int { return 3 }
func (op *denseGradOp) Type() hm.Type {
	if op.wrt == denseB {
		return fnType(tensorOf(2), tensorOf(2), tensorOf(2), tensorOf(1))
	}
	return fnType(tensorOf(2), tensorOf(2), tensorOf(2), tensorOf(2))
}
func (op *denseGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(ds, 1)
	if err != nil {
		return nil, err
	}
	switch op.wrt {
	case denseX:
		return xs.Clone(), nil
	case denseW:
		return ws.Clone(), nil
	}
	return tensor.Shape{ws[0]}, nil
}
func (op *denseGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *denseGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	xs, ws := in[0].Shape(), in[1].Shape()
	n, i, o := xs[0], xs[1], ws[0]
	if !in[2].Shape().Eq(tensor.Shape{n, o}) {
		return nil, fmt.Errorf("graph: %s: gradient shape %v, want %v", op.name, in[2].Shape(), tensor.Shape{n, o})
	}
	var dx, dw, db *tensor.Dense
	switch op.wrt {
	case denseX:
		dx = op.output(prealloc, dt, n, i)
		return op.done(dx, op.be.DenseBackward(in[0], in[1], in[2], dx, nil, nil))
	case denseW:
		dw = op.output(prealloc, dt, o, i)
		return op.done(dw, op.be.DenseBackward(in[0], in[1], in[2], nil, dw, nil))
	}
	db = op.output(prealloc, dt, o)
	return op.done(db, op.be.DenseBackward(in[0], in[1], in[2], nil, nil, db))
}
