package model

import (
	"fmt"
	"math"

	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// ParamTensors returns a copy of every parameter as a named tensor, in
// model order.
func (m *Model) ParamTensors() []checkpoint.Tensor {
	ts := make([]checkpoint.Tensor, len(m.Params))
	for i, p := range m.Params {
		ts[i] = checkpoint.Tensor{Name: p.Name, Shape: append([]int(nil), p.Value.Shape()...), Data: append([]float32(nil), p.Data()...)}
	}
	return ts
}

// StatTensors returns a copy of the batch norm running statistics as named
// tensors: NAME.running_mean and NAME.running_var for every layer.
func (m *Model) StatTensors() []checkpoint.Tensor {
	ts := make([]checkpoint.Tensor, 0, 2*len(m.BNs))
	for _, b := range m.BNs {
		c := len(b.State.Mean)
		ts = append(ts,
			checkpoint.Tensor{Name: b.Name + ".running_mean", Shape: []int{c}, Data: append([]float32(nil), b.State.Mean...)},
			checkpoint.Tensor{Name: b.Name + ".running_var", Shape: []int{c}, Data: append([]float32(nil), b.State.Var...)})
	}
	return ts
}

// SetParams copies ts into the parameters, and into their device copies
// on a device. The names and shapes must be exactly those of
// ParamTensors; otherwise nothing is changed and the error names the first
// tensor that differs.
func (m *Model) SetParams(ts []checkpoint.Tensor) error {
	if err := checkpoint.MatchShapes(m.ParamTensors(), ts); err != nil {
		return fmt.Errorf("model: parameters do not fit this architecture: %w", err)
	}
	for i, p := range m.Params {
		copy(p.Data(), ts[i].Data)
	}
	return m.paramsToDevice()
}

// SetStats copies ts into the batch norm running statistics (and their
// device copies), with the same checks as SetParams.
func (m *Model) SetStats(ts []checkpoint.Tensor) error {
	if err := checkpoint.MatchShapes(m.StatTensors(), ts); err != nil {
		return fmt.Errorf("model: batch norm statistics do not fit this architecture: %w", err)
	}
	for i, b := range m.BNs {
		copy(b.State.Mean, ts[2*i].Data)
		copy(b.State.Var, ts[2*i+1].Data)
	}
	return m.statsToDevice()
}

// Finite reports whether every parameter is a finite number.
func (m *Model) Finite() bool {
	for _, p := range m.Params {
		for _, v := range p.Data() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return false
			}
		}
	}
	return true
}
