package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
)

// A model whose Backend is a device (backend.Device, such as a GPU's)
// keeps device copies of its parameters and batch norm statistics, made
// when the first net is built: the nets read and update those, and the
// host values (Param.Value, BN.State) are stale until ToHost. A net's
// input and targets are host buffers as on the CPU, but in the device's
// fast host memory (NewHostTensor), freed when the net is closed; Run
// uploads them, and LogitsValue and Gradient copy results back.

// device returns the model's device, or nil.
func (m *Model) device() backend.Device {
	d, _ := m.Backend.(backend.Device)
	return d
}

// value returns the tensor a net binds for p: p.Value, or its device copy.
func (m *Model) value(p *Param) (*tensor.Dense, error) {
	dev := m.device()
	if dev == nil {
		return p.Value, nil
	}
	if m.devValues == nil {
		m.devValues = map[*Param]*tensor.Dense{}
	}
	if v, ok := m.devValues[p]; ok {
		return v, nil
	}
	v, err := dev.NewTensor(m.dtype, p.Value.Shape().Clone()...)
	if err != nil {
		return nil, fmt.Errorf("model: %s on the device: %w", p.Name, err)
	}
	if err := dev.Upload(v, p.Data()); err != nil {
		return nil, fmt.Errorf("model: %s on the device: %w", p.Name, err)
	}
	m.devValues[p] = v
	return v, nil
}

// DeviceValue returns the device copy of parameter i, which a device
// optimizer updates, or nil when no net has been built on a device.
func (m *Model) DeviceValue(i int) *tensor.Dense { return m.devValues[m.Params[i]] }

// ToHost copies the parameters and batch norm statistics from the device
// to Param.Value and BN.State, for a checkpoint or an evaluation on the
// host; without a device it does nothing.
func (m *Model) ToHost() error {
	dev := m.device()
	if dev == nil {
		return nil
	}
	for _, p := range m.Params {
		if v, ok := m.devValues[p]; ok {
			if err := dev.Download(p.Data(), v); err != nil {
				return fmt.Errorf("model: %s from the device: %w", p.Name, err)
			}
		}
	}
	for _, bn := range m.BNs {
		if err := bn.State.ToHost(); err != nil {
			return fmt.Errorf("model: %s: %w", bn.Name, err)
		}
	}
	return nil
}

// ToDevice copies Param.Value and BN.State to the device copies after
// they changed on the host; without a device, or before the first net, it
// does nothing. SetParams and SetStats call it for what they change.
func (m *Model) ToDevice() error {
	if err := m.paramsToDevice(); err != nil {
		return err
	}
	return m.statsToDevice()
}

// paramsToDevice copies Param.Value to the device copies.
func (m *Model) paramsToDevice() error {
	dev := m.device()
	if dev == nil {
		return nil
	}
	for _, p := range m.Params {
		if v, ok := m.devValues[p]; ok {
			if err := dev.Upload(v, p.Data()); err != nil {
				return fmt.Errorf("model: %s to the device: %w", p.Name, err)
			}
		}
	}
	return nil
}

// statsToDevice copies BN.State to the device copies.
func (m *Model) statsToDevice() error {
	for _, bn := range m.BNs {
		if err := bn.State.ToDevice(); err != nil {
			return fmt.Errorf("model: %s: %w", bn.Name, err)
		}
	}
	return nil
}

// deviceNet is the device side of a net: device copies of its host
// buffers, uploaded by Run, and host buffers for the values it downloads.
// A nil *deviceNet, or one with a nil dev, is a net on the host.
type deviceNet struct {
	dev  backend.Device
	ups  []upload
	down map[*G.Node][]float32
}

// upload is a host buffer of a net and its device copy, or the error of
// allocating that copy. pinned marks a host buffer of the device's
// NewHostTensor.
type upload struct {
	host, dev *tensor.Dense
	pinned    bool
	err       error
}

// newDeviceNet returns the device side of n: nil on the host.
func (m *Model) newDeviceNet(n *Net) (*deviceNet, error) {
	dev := m.device()
	if dev == nil {
		return &deviceNet{}, nil
	}
	if m.dtype != tensor.Float32 {
		return nil, fmt.Errorf("model: a device computes in float32, the model is %v", m.dtype)
	}
	return &deviceNet{dev: dev, down: map[*G.Node][]float32{}}, nil
}

// input returns a zeroed host buffer of the net, of dtype dt and shape,
// and the tensor the net binds for it: the buffer itself on the host; on
// a device, a device copy that Run uploads the buffer to. The buffer is
// then in the device's fast host memory (NewHostTensor), or in ordinary
// memory where the device has none to give. A failed allocation of the
// device copy is reported by the first upload.
func (d *deviceNet) input(dt tensor.Dtype, shape ...int) (host, bound *tensor.Dense) {
	ordinary := func() *tensor.Dense { return tensor.New(tensor.WithShape(shape...), tensor.Of(dt)) }
	if d.dev == nil {
		h := ordinary()
		return h, h
	}
	u := upload{}
	if u.dev, u.err = d.dev.NewTensor(dt, shape...); u.err == nil {
		u.host, _ = d.dev.NewHostTensor(dt, shape...)
		u.pinned = u.host != nil
	}
	if u.host == nil {
		u.host = ordinary()
	}
	d.ups = append(d.ups, u)
	if u.err != nil {
		return u.host, u.host
	}
	return u.host, u.dev
}

// release frees the device copies and the device's host buffers; the
// host buffers must not be used afterwards.
func (d *deviceNet) release() error {
	var err error
	for _, u := range d.ups {
		if u.dev != nil {
			if e := d.dev.Release(u.dev); err == nil {
				err = e
			}
		}
		if u.pinned {
			if e := d.dev.ReleaseHost(u.host); err == nil {
				err = e
			}
		}
	}
	d.ups = nil
	return err
}

// upload copies the host buffers to the device.
func (d *deviceNet) upload() error {
	for _, u := range d.ups {
		if u.err != nil {
			return fmt.Errorf("input of shape %v: %w", u.host.Shape(), u.err)
		}
		if err := d.dev.Upload(u.dev, u.host.Data()); err != nil {
			return err
		}
	}
	return nil
}

// download copies the value of node n, a float32 device tensor, to a host
// buffer of the net, which it returns. It returns nil if that fails.
func (d *deviceNet) download(n *G.Node) []float32 {
	t, ok := n.Value().(*tensor.Dense)
	if !ok {
		return nil
	}
	buf, ok := d.down[n]
	if !ok {
		buf = make([]float32, t.Shape().TotalSize())
		d.down[n] = buf
	}
	if err := d.dev.Download(buf, t); err != nil {
		return nil
	}
	return buf
}

// DeviceGradient returns ∂Loss/∂p for the i-th parameter after the last
// Run of a training net on a device, as a device tensor, or nil on the
// host.
func (n *Net) DeviceGradient(i int) *tensor.Dense {
	if n.dev.dev == nil {
		return nil
	}
	t, _ := n.Grads[i].Value().(*tensor.Dense)
	return t
}
