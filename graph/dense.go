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
	if dt == tensor.Float32 {
		denseForward(xs[0], xs[1], ws[0], slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), slice[float32](y))
	} else {
		denseForward(xs[0], xs[1], ws[0], slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), slice[float64](y))
	}
	return y, nil
}

func denseForward[T float](n, i, o int, x, w, b, y []T) {
	for r := range n {
		copy(y[r*o:(r+1)*o], b)
	}
	matmul(false, true, n, o, i, x, i, w, i, 1, y, o)
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
	var out *tensor.Dense
	switch op.wrt {
	case denseX:
		out = op.output(prealloc, dt, n, i)
	case denseW:
		out = op.output(prealloc, dt, o, i)
	default:
		out = op.output(prealloc, dt, o)
	}
	if dt == tensor.Float32 {
		denseBackward(op.wrt, n, i, o, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), slice[float32](out))
	} else {
		denseBackward(op.wrt, n, i, o, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), slice[float64](out))
	}
	return out, nil
}

func denseBackward[T float](wrt denseWRT, n, i, o int, x, w, dy, out []T) {
	switch wrt {
	case denseX:
		matmul(false, false, n, i, o, dy, o, w, i, 0, out, i)
	case denseW:
		matmul(true, false, o, i, n, dy, o, x, i, 0, out, i)
	case denseB:
		clear(out)
		for r := range n {
			for j, v := range dy[r*o : (r+1)*o] {
				out[j] += v
			}
		}
	}
}
