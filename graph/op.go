package graph

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/graph/cpu"
)

// float is an element type of the tensors of this package.
type float interface{ ~float32 | ~float64 }

// nextID numbers operation instances so that two layers with the same
// hyperparameters never hash alike and are never merged by the graph.
var nextID atomic.Uint64

// defaultBackend computes the operations: the CPU backend.
var defaultBackend backend.Backend = cpu.New()

// opBase carries the parts of gorgonia.Op that every operation of this
// package shares.
type opBase struct {
	name string
	id   uint64
	// be computes the operation.
	be backend.Backend
	// buf is the operation's own output tensor, reused from one run of
	// the machine to the next when the machine offers no preallocated one.
	buf *tensor.Dense
	// allocErr is the error of the last device allocation of output,
	// which done reports in place of the backend's.
	allocErr error
}

func newBase(format string, args ...any) opBase {
	return opBase{name: fmt.Sprintf(format, args...), id: nextID.Add(1), be: defaultBackend}
}

// UseBackend makes every operation of this package in g, forward and
// backward, compute with be; a nil be is the CPU backend of package
// graph/cpu, which operations use until told otherwise. Call it once the
// graph is complete (after gorgonia.Grad) and before a machine runs it:
// operations created later get the CPU backend again.
func UseBackend(g *G.ExprGraph, be backend.Backend) {
	if be == nil {
		be = defaultBackend
	}
	for _, n := range g.AllNodes() {
		if o, ok := n.Op().(interface{ setBackend(backend.Backend) }); ok {
			o.setBackend(be)
		}
	}
}

func (o *opBase) setBackend(be backend.Backend) { o.be = be }

// ReleaseBuffers frees the device memory the operations of g hold (their
// output buffers and batch statistics) when their backend is a device
// (backend.Device); on the CPU it does nothing, the garbage collector
// frees host memory. The graph must not run again.
func ReleaseBuffers(g *G.ExprGraph) error {
	var first error
	release := func(dev backend.Device, t *tensor.Dense) {
		if t != nil && dev.Holds(t) {
			if err := dev.Release(t); err != nil && first == nil {
				first = err
			}
		}
	}
	for _, n := range g.AllNodes() {
		o, ok := n.Op().(interface{ base() *opBase })
		if !ok {
			continue
		}
		b := o.base()
		dev, ok := b.be.(backend.Device)
		if !ok {
			continue
		}
		release(dev, b.buf)
		b.buf = nil
		if bn, ok := n.Op().(*bnOp); ok && bn.batch != nil {
			release(dev, bn.batch.Mean)
			release(dev, bn.batch.InvStd)
		}
	}
	return first
}

func (o *opBase) base() *opBase { return o }

// done returns out, or the error of the backend call that computed it,
// with the operation's name.
func (o *opBase) done(out G.Value, err error) (G.Value, error) {
	if o.allocErr != nil {
		err, o.allocErr = o.allocErr, nil
	}
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", o.name, err)
	}
	return out, nil
}

func (o *opBase) ReturnsPtr() bool      { return false }
func (o *opBase) CallsExtern() bool     { return false }
func (o *opBase) OverwritesInput() int  { return -1 }
func (o *opBase) String() string        { return o.name }
func (o *opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", o.name, o.id) }
func (o *opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// tensorOf is the type of a tensor with dims dimensions of element type a.
func tensorOf(dims int) hm.Type { return G.TensorType{Dims: dims, Of: hm.TypeVariable('a')} }

// fnType builds the type of an operation from its input and output types.
func fnType(ts ...hm.Type) hm.Type { return hm.NewFnType(ts...) }

// shapeOf returns the shape of the i-th argument of InferShape.
func shapeOf(ds []G.DimSizer, i int) (tensor.Shape, error) {
	if i >= len(ds) {
		return nil, fmt.Errorf("graph: expected at least %d inputs, got %d", i+1, len(ds))
	}
	s, ok := ds[i].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graph: input %d: expected a tensor.Shape, got %T", i, ds[i])
	}
	return s, nil
}

// dense returns v as a *tensor.Dense.
func dense(v G.Value) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("graph: expected a *tensor.Dense, got %T", v)
	}
	return d, nil
}

// inputs converts the values of an operation to dense tensors of one
// element type and checks their number.
func inputs(name string, n int, vs []G.Value) ([]*tensor.Dense, tensor.Dtype, error) {
	if len(vs) != n {
		return nil, tensor.Dtype{}, fmt.Errorf("graph: %s: expected %d inputs, got %d", name, n, len(vs))
	}
	ds := make([]*tensor.Dense, n)
	var dt tensor.Dtype
	for i, v := range vs {
		d, err := dense(v)
		if err != nil {
			return nil, dt, fmt.Errorf("graph: %s: input %d: %w", name, i, err)
		}
		if i == 0 {
			dt = d.Dtype()
		} else if d.Dtype() != dt {
			return nil, dt, fmt.Errorf("graph: %s: input %d has dtype %v, want %v", name, i, d.Dtype(), dt)
		}
		ds[i] = d
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, dt, fmt.Errorf("graph: %s: unsupported dtype %v (want float32 or float64)", name, dt)
	}
	return ds, dt, nil
}

// output returns the tensor an operation writes its result to: prealloc
// when it is a dense tensor of the wanted shape and dtype, else the
// operation's own buffer from its previous run, else a new one. The machine
// may hand an operation a register last used by a node of another shape, so
// the check is needed. Every kernel overwrites its whole output.
//
// With a device backend (backend.Device) the output is a tensor of the
// device: a preallocated tensor must be one, and the operation's own
// buffer is allocated there. A failed allocation returns nil and is
// reported by done.
func (o *opBase) output(prealloc G.Value, dt tensor.Dtype, shape ...int) *tensor.Dense {
	dev, onDevice := o.be.(backend.Device)
	fits := func(d *tensor.Dense) bool {
		if d == nil || d.Dtype() != dt || !d.Shape().Eq(tensor.Shape(shape)) {
			return false
		}
		if onDevice {
			return dev.Holds(d)
		}
		return d.IsNativelyAccessible()
	}
	if d, ok := prealloc.(*tensor.Dense); ok && fits(d) {
		return d
	}
	if !fits(o.buf) {
		if !onDevice {
			o.buf = tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
			return o.buf
		}
		if o.buf != nil && dev.Holds(o.buf) {
			// A batch of another size: the old buffer goes.
			if err := dev.Release(o.buf); err != nil {
				o.allocErr = err
				return nil
			}
		}
		o.buf = nil
		b, err := dev.NewTensor(dt, shape...)
		if err != nil {
			o.allocErr = err
			return nil
		}
		o.buf = b
	}
	return o.buf
}

// scalar reads a scalar value such as the gradient seed of a loss.
func scalar(v G.Value) (float64, error) {
	switch d := v.Data().(type) {
	case float32:
		return float64(d), nil
	case float64:
		return d, nil
	case []float32:
		if len(d) == 1 {
			return float64(d[0]), nil
		}
	case []float64:
		if len(d) == 1 {
			return d[0], nil
		}
	}
	return 0, fmt.Errorf("graph: expected a scalar, got %v of type %T", v.Shape(), v.Data())
}

// hmA is the type variable standing for "any tensor type": operations that
// keep the type of their input use it.
func hmA() hm.Type { return hm.TypeVariable('a') }
