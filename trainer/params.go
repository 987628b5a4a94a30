package trainer

import (
	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
)

// ModelParams returns the parameters of m as the optimizer of opt updates
// them, in the order of m.Params: their host values, with weight decay
// where the model applies it by default, or everywhere when
// opt.DecayBNAndBias asks for it.
func ModelParams(m *model.Model, opt config.Optimizer) []Param {
	ps := make([]Param, len(m.Params))
	for i, p := range m.Params {
		ps[i] = Param{Name: p.Name, Data: p.Data(), Decay: p.Decay || opt.DecayBNAndBias}
	}
	return ps
}

// DeviceParams sets dst[i] to parameter i of params (ModelParams of m) on
// m's device, with its gradient from the last Run of net, a training net
// of m on that device.
func DeviceParams(dst []DeviceParam, params []Param, m *model.Model, net *model.Net) {
	for i, p := range params {
		dst[i] = DeviceParam{Name: p.Name, Data: m.DeviceValue(i), Grad: net.DeviceGradient(i), Decay: p.Decay}
	}
}
