package trainer

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
	"github.com/cifar-resnet/trainer/graph/gpu"
)

// DeviceParam is one learnable tensor on a device as DeviceOptimizer
// sees it: Param with float32 device tensors of one size in place of the
// host slices.
type DeviceParam struct {
	// Name identifies the tensor, as Param.Name.
	Name string
	// Data holds the values, updated in place by Step.
	Data *tensor.Dense
	// Grad is the gradient of the loss with respect to Data; only read.
	Grad *tensor.Dense
	// Decay says whether weight decay applies, as Param.Decay.
	Decay bool
}

// DeviceOptimizer is the optimizer of a configuration for parameters on a
// CUDA device: the update of Optimizer (the same arithmetic, computed by
// the kernels of package graph/cuda/kernels, which round where the host
// code rounds), with its state slots in device memory. Its state is the
// host optimizer's: a checkpoint written by one resumes on the other.
type DeviceOptimizer struct {
	be   *gpu.Backend
	cfg  config.Optimizer
	host optState // names, sizes, step; slots only while moving state
	// slots[k][i] is slot host.slotNames[k] of parameter i on the
	// device; nil until the first Step after creation or SetState.
	slots [][]*tensor.Dense
	// table describes the parameters and slots to the kernels; nil until
	// the first Step.
	table *kernels.OptTable
	// want is the table bindTable would make for the last params, kept
	// so that a step allocates nothing.
	want []kernels.OptParam
}

// NewDeviceOptimizer returns the optimizer cfg names (checked as
// NewOptimizer checks it) for parameters on be's device.
func NewDeviceOptimizer(cfg config.Optimizer, be *gpu.Backend) (*DeviceOptimizer, error) {
	o, err := NewOptimizer(cfg)
	if err != nil {
		return nil, err
	}
	d := &DeviceOptimizer{be: be, cfg: cfg}
	switch h := o.(type) {
	case *sgd:
		d.host = h.st
	case *adam:
		d.host = h.st
	default:
		return nil, fmt.Errorf("optimizer: internal error: no device version of %q", cfg.Name)
	}
	return d, nil
}

// bind checks params against the state, records their layout at the
// first step and puts the slots on the device.
func (o *DeviceOptimizer) bind(params []DeviceParam) error {
	e := o.be.Engine()
	for _, p := range params {
		for _, t := range []*tensor.Dense{p.Data, p.Grad} {
			if !e.Holds(t) || t.Dtype() != tensor.Float32 {
				return fmt.Errorf("optimizer %s: parameter %q: values and gradient must be float32 tensors of the device", o.host.name, p.Name)
			}
		}
		if p.Data.Shape().TotalSize() != p.Grad.Shape().TotalSize() {
			return fmt.Errorf("optimizer %s: parameter %q has %d values but %d gradients", o.host.name, p.Name, p.Data.Shape().TotalSize(), p.Grad.Shape().TotalSize())
		}
	}
	if o.host.names == nil {
		o.host.names = make([]string, len(params))
		o.host.sizes = make([]int, len(params))
		for i, p := range params {
			o.host.names[i], o.host.sizes[i] = p.Name, p.Data.Shape().TotalSize()
		}
	} else {
		if len(params) != len(o.host.names) {
			return fmt.Errorf("optimizer %s: stepped with %d parameters, state has %d", o.host.name, len(params), len(o.host.names))
		}
		if o.host.sizes == nil {
			o.host.sizes = make([]int, len(params))
			for i, p := range params {
				o.host.sizes[i] = p.Data.Shape().TotalSize()
			}
		}
		for i, p := range params {
			if p.Name != o.host.names[i] || p.Data.Shape().TotalSize() != o.host.sizes[i] {
				return fmt.Errorf("optimizer %s: parameter %d is %q of length %d, state has %q of length %d", o.host.name, i, p.Name, p.Data.Shape().TotalSize(), o.host.names[i], o.host.sizes[i])
			}
		}
	}
	if o.slots != nil {
		return nil
	}
	slots := make([][]*tensor.Dense, len(o.host.slotNames))
	for k := range slots {
		slots[k] = make([]*tensor.Dense, len(params))
		for i, n := range o.host.sizes {
			t, err := e.NewTensor(tensor.Float32, n)
			if err != nil {
				return fmt.Errorf("optimizer %s: slot %s of %q: %w", o.host.name, o.host.slotNames[k], params[i].Name, err)
			}
			src := make([]float32, n)
			if o.host.slots != nil {
				src = o.host.slots[k][i]
			}
			if err := e.Upload(t, src); err != nil {
				return fmt.Errorf("optimizer %s: %w", o.host.name, err)
			}
			slots[k][i] = t
		}
	}
	o.slots, o.host.slots = slots, nil
	return nil
}

// Step applies one update with learning rate lr to every parameter by
// queuing one kernel for all of them; it does not wait for it.
func (o *DeviceOptimizer) Step(params []DeviceParam, lr float64) error {
	if err := o.bind(params); err != nil {
		return err
	}
	if err := o.bindTable(params); err != nil {
		return err
	}
	o.host.step++
	m, c := o.be.Kernels(), o.cfg
	var err error
	if c.Name == "sgd" {
		err = m.SGD(o.table, lr, c.Momentum, c.WeightDecay, c.Nesterov)
	} else {
		err = m.Adam(o.table, o.host.step, lr, c.Beta1, c.Beta2, c.Epsilon, c.WeightDecay, c.Name == "adamw")
	}
	if err != nil {
		return fmt.Errorf("optimizer %s: %w", o.host.name, err)
	}
	return nil
}

// bindTable makes the table of the kernels describe params and the slots,
// making a new one when they moved (a new net's gradients, new slots).
func (o *DeviceOptimizer) bindTable(params []DeviceParam) error {
	o.want = slices.Grow(o.want[:0], len(params))[:len(params)]
	want := o.want
	for i, p := range params {
		want[i] = kernels.OptParam{W: devPtr(p.Data), Grad: devPtr(p.Grad), N: o.host.sizes[i], Decay: p.Decay}
		if len(o.slots) > 0 {
			want[i].S0 = devPtr(o.slots[0][i])
		}
		if len(o.slots) > 1 {
			want[i].S1 = devPtr(o.slots[1][i])
		}
	}
	if o.table != nil && slices.Equal(o.table.Params(), want) {
		return nil
	}
	if err := o.freeTable(); err != nil {
		return fmt.Errorf("optimizer %s: freeing the table of the last step: %w", o.host.name, err)
	}
	t, err := o.be.Kernels().NewOptTable(want)
	if err != nil {
		return fmt.Errorf("optimizer %s: %w", o.host.name, err)
	}
	o.table = t
	return nil
}

// freeTable releases the kernels' table, if any. Its error is the
// device's: freeing waits for the kernels queued before, and reports
// theirs.
func (o *DeviceOptimizer) freeTable() error {
	if o.table == nil {
		return nil
	}
	err := o.table.Free()
	o.table = nil
	return err
}

// State returns the optimizer's state, its slots copied from the device.
func (o *DeviceOptimizer) State() (OptimizerState, error) {
	if o.slots != nil {
		host := make([][][]float32, len(o.slots))
		for k, slot := range o.slots {
			host[k] = make([][]float32, len(slot))
			for i, t := range slot {
				host[k][i] = make([]float32, o.host.sizes[i])
				if err := o.be.Engine().Download(host[k][i], t); err != nil {
					return OptimizerState{}, fmt.Errorf("optimizer %s: %w", o.host.name, err)
				}
			}
		}
		o.host.slots = host
		defer func() { o.host.slots = nil }()
	}
	return o.host.state(), nil
}

// SetState replaces the optimizer's state with s, as Optimizer.SetState
// does; the slots go to the device at the next Step.
func (o *DeviceOptimizer) SetState(s OptimizerState) error {
	if err := o.host.setState(s); err != nil {
		return err
	}
	return o.Close()
}

// Close frees the device memory of the slots and of the kernels' table.
// The state is lost unless SetState follows (the next Step would start
// from zero slots). It returns the first error of freeing, which is
// that of a kernel queued before when the device failed; the memory is
// released either way.
func (o *DeviceOptimizer) Close() error {
	err := o.freeTable()
	for _, slot := range o.slots {
		for _, t := range slot {
			if e := o.be.Engine().Release(t); err == nil {
				err = e
			}
		}
	}
	o.slots = nil
	if err != nil {
		return fmt.Errorf("optimizer %s: %w", o.host.name, err)
	}
	return nil
}

// devPtr is the device address of a device tensor.
func devPtr(t *tensor.Dense) cuda.Ptr { return cuda.Ptr(t.Uintptr()) }
