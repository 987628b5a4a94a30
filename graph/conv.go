package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
)

// newConvGeom checks the shapes of an input and a filter and derives the
// geometry of their convolution.
func newConvGeom(x, w tensor.Shape, stride, pad int) (backend.ConvGeom, error) {
	if len(x) != 4 {
		return backend.ConvGeom{}, fmt.Errorf("graph: conv: input must be NCHW, got shape %v", x)
	}
	if len(w) != 4 || w[2] != w[3] {
		return backend.ConvGeom{}, fmt.Errorf("graph: conv: filter must be K×C×R×R, got shape %v", w)
	}
	if w[1] != x[1] {
		return backend.ConvGeom{}, fmt.Errorf("graph: conv: filter has %d input channels, input has %d", w[1], x[1])
	}
	if stride < 1 || pad < 0 {
		return backend.ConvGeom{}, fmt.Errorf("graph: conv: stride %d and padding %d must be ≥ 1 and ≥ 0", stride, pad)
	}
	g := backend.NewConvGeom(x[0], x[1], x[2], x[3], w[0], w[2], stride, pad)
	if g.OH < 1 || g.OW < 1 {
		return g, fmt.Errorf("graph: conv: a %d×%d kernel does not fit a %d×%d input with padding %d", g.R, g.R, g.H, g.W, pad)
	}
	return g, nil
}

// outShape is the shape of the output of a convolution of geometry g.
func outShape(g backend.ConvGeom) tensor.Shape { return tensor.Shape{g.N, g.K, g.OH, g.OW} }

// convOp is y = conv(x, w) without bias.
type convOp struct {
	opBase
	stride, pad int
	// dataInput marks an input that is data, never differentiated.
	dataInput bool
}

// Conv2D convolves the NCHW input x with the K×C×R×R filter w, with the
// given stride and zero padding on each side, and no bias.
func Conv2D(x, w *G.Node, stride, pad int) (*G.Node, error) {
	return conv2D(x, w, stride, pad, false)
}

// Conv2DNoInputGrad is Conv2D for a first layer, whose input x is data:
// the operation reports x as not differentiable, so gorgonia.Grad builds
// the gradient of the filter only (asking it for the gradient of x is an
// error).
func Conv2DNoInputGrad(x, w *G.Node, stride, pad int) (*G.Node, error) {
	return conv2D(x, w, stride, pad, true)
}

func conv2D(x, w *G.Node, stride, pad int, dataInput bool) (*G.Node, error) {
	if _, err := newConvGeom(x.Shape(), w.Shape(), stride, pad); err != nil {
		return nil, err
	}
	op := &convOp{opBase: newBase("Conv2D(s=%d,p=%d)", stride, pad), stride: stride, pad: pad, dataInput: dataInput}
	return G.ApplyOp(op, x, w)
}

func (op *convOp) Arity() int         { return 2 }
func (op *convOp) Type() hm.Type      { return fnType(tensorOf(4), tensorOf(4), tensorOf(4)) }
func (op *convOp) DiffWRT(int) []bool { return []bool{!op.dataInput, true} }

func (op *convOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return convShape(ds, op.stride, op.pad)
}

// convShape infers the output shape of a convolution of input ds[0] with
// filter ds[1].
func convShape(ds []G.DimSizer, stride, pad int) (tensor.Shape, error) {
	xs, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(ds, 1)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeom(xs, ws, stride, pad)
	if err != nil {
		return nil, err
	}
	return outShape(g), nil
}

func (op *convOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeom(in[0].Shape(), in[1].Shape(), op.stride, op.pad)
	if err != nil {
		return nil, err
	}
	y := op.output(prealloc, dt, outShape(g)...)
	return op.done(y, op.be.Conv2D(in[0], in[1], y, g))
}

func (op *convOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	x, w := in[0], in[1]
	var dx *G.Node // nil for a data input
	if !op.dataInput {
		var err error
		if dx, err = G.ApplyOp(&convGradOp{opBase: newBase("Conv2DGradX(s=%d,p=%d)", op.stride, op.pad), fwd: op, wrtX: true, shape: x.Shape().Clone()}, w, grad); err != nil {
			return nil, err
		}
	}
	dw, err := G.ApplyOp(&convGradOp{opBase: newBase("Conv2DGradW(s=%d,p=%d)", op.stride, op.pad), fwd: op, shape: w.Shape().Clone()}, x, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// convGradOp computes a gradient of a convolution: ∂L/∂x from (w, dy)
// when wrtX is set, else ∂L/∂w from (x, dy).
type convGradOp struct {
	opBase
	fwd   *convOp
	wrtX  bool
	shape tensor.Shape // of x or w, the output
}

func (op *convGradOp) Arity() int    { return 2 }
func (op *convGradOp) Type() hm.Type { return fnType(tensorOf(4), tensorOf(4), tensorOf(4)) }
func (op *convGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *convGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	xs, ws := in[0].Shape(), op.shape
	if op.wrtX {
		xs, ws = op.shape, in[0].Shape()
	}
	g, err := newConvGeom(xs, ws, op.fwd.stride, op.fwd.pad)
	if err != nil {
		return nil, err
	}
	if !in[1].Shape().Eq(outShape(g)) {
		return nil, fmt.Errorf("graph: %s: gradient has shape %v, want %v", op.name, in[1].Shape(), outShape(g))
	}
	d := op.output(prealloc, dt, op.shape...)
	if op.wrtX {
		return op.done(d, op.be.Conv2DBackwardData(in[0], in[1], d, g))
	}
	return op.done(d, op.be.Conv2DBackwardFilter(in[0], in[1], d, g))
}
