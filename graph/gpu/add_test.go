package gpu_test

import (
	"testing"

	"gorgonia.org/tensor"
)

// TestAdd checks tensor.Add on device tensors in each of its modes
// against the sum on the host, and that the mode without a device output
// returns one tensor per pair of operands instead of allocating every call.
func TestAdd(t *testing.T) {
	b := device(t)
	e := b.Engine()
	ts := newTensors(t, 13)
	x, y := ts.random(3, 4), ts.random(3, 4)
	sum := tensor.New(tensor.WithShape(3, 4), tensor.Of(tensor.Float32))
	for i, v := range x.h.Data().([]float32) {
		sum.Data().([]float32)[i] = v + y.h.Data().([]float32)[i]
	}
	want := pair{h: sum}

	hostReg := tensor.New(tensor.WithShape(3, 4), tensor.Of(tensor.Float32))
	r1, err := tensor.Add(x.d, y.d, tensor.WithReuse(hostReg))
	must(t, "Add with a host reuse tensor", err)
	before := e.Allocated()
	r2, err := tensor.Add(x.d, y.d, tensor.WithReuse(hostReg))
	must(t, "Add with a host reuse tensor", err)
	if r1 != r2 || e.Allocated() != before {
		t.Errorf("a second sum of the same operands allocated a new tensor (%d bytes before, %d after)", before, e.Allocated())
	}
	want.d = r2.(*tensor.Dense)
	ts.check("Add into the engine's tensor", want)

	out := ts.zeros(tensor.Float32, 3, 4)
	r, err := tensor.Add(x.d, y.d, tensor.WithReuse(out.d))
	must(t, "Add with a device reuse tensor", err)
	if r != out.d {
		t.Error("Add did not write to the device reuse tensor")
	}
	want.d = out.d
	ts.check("Add into the reuse tensor", want)

	incr := ts.copy(x.h)
	_, err = tensor.Add(y.d, x.d, tensor.WithIncr(incr.d))
	must(t, "Add with an increment", err)
	for i, v := range x.h.Data().([]float32) {
		sum.Data().([]float32)[i] += v
	}
	want.d = incr.d
	ts.check("Add onto the increment", want)

	r, err = tensor.Add(x.d, y.d, tensor.UseUnsafe())
	must(t, "unsafe Add", err)
	if r != x.d {
		t.Error("unsafe Add did not write to its first operand")
	}
	for i, v := range x.h.Data().([]float32) {
		sum.Data().([]float32)[i] -= v
	}
	want.d = x.d
	ts.check("unsafe Add", want)
}
