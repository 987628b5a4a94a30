package gpu

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/cuda"
)

// Add sets a result to a + b for two float32 device tensors of one shape,
// as tensor.Add does: into the tensor.WithIncr tensor (added to it), the
// tensor.WithReuse tensor, or a (tensor.UseUnsafe), when those are device
// tensors of the engine. Otherwise the result is a device tensor the
// engine keeps for the pair of operands and returns again for the same
// pair: a gorgonia.TapeMachine asks for the gradient sums of every run
// with a new host register as the reuse tensor, and the operands, the
// outputs of the graph's operations, are the same tensors from run to
// run, so the device memory does not grow.
func (e *Engine) Add(a, b tensor.Tensor, opts ...tensor.FuncOpt) (tensor.Tensor, error) {
	da, ok1 := a.(*tensor.Dense)
	db, ok2 := b.(*tensor.Dense)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("gpu: Add of %T and %T: want *tensor.Dense", a, b)
	}
	pa, err := e.ptr(da, tensor.Float32, "Add operand a")
	if err != nil {
		return nil, err
	}
	pb, err := e.ptr(db, tensor.Float32, "Add operand b")
	if err != nil {
		return nil, err
	}
	if !da.Shape().Eq(db.Shape()) {
		return nil, fmt.Errorf("gpu: Add of shapes %v and %v", da.Shape(), db.Shape())
	}
	n := da.Shape().TotalSize()
	fo := tensor.ParseFuncOpts(opts...)
	held := func(t tensor.Tensor) (*tensor.Dense, bool) {
		d, ok := t.(*tensor.Dense)
		return d, ok && d != nil && d.Dtype() == tensor.Float32 && d.Shape().TotalSize() == n && e.Holds(d)
	}
	if incr, ok := held(fo.Incr()); ok {
		p := cuda.Ptr(incr.Uintptr())
		if err := e.mod.Add(p, p, pa, n); err != nil {
			return nil, err
		}
		return incr, e.mod.Add(p, p, pb, n)
	}
	if fo.Incr() != nil {
		return nil, fmt.Errorf("gpu: Add with an increment tensor that is not a device tensor")
	}
	var y *tensor.Dense
	if r, ok := held(fo.Reuse()); ok {
		y = r
	} else if !fo.Safe() {
		y = da
	} else {
		key := [2]cuda.Ptr{pa, pb}
		e.mu.Lock()
		y = e.sums[key]
		e.mu.Unlock()
		if _, ok := held(y); !ok || !y.Shape().Eq(da.Shape()) {
			if y, err = e.NewTensor(tensor.Float32, da.Shape().Clone()...); err != nil {
				return nil, err
			}
			e.mu.Lock()
			e.sums[key] = y
			e.mu.Unlock()
		}
	}
	return y, e.mod.Add(cuda.Ptr(y.Uintptr()), pa, pb, n)
}

// AddScalar returns an error: the device has no tensor-scalar addition.
func (e *Engine) AddScalar(a tensor.Tensor, b any, leftTensor bool, opts ...tensor.FuncOpt) (tensor.Tensor, error) {
	return nil, fmt.Errorf("gpu: adding a scalar to a device tensor is not supported")
}

var _ tensor.Adder = (*Engine)(nil)
