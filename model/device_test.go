package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph/gpu"
	"github.com/cifar-resnet/trainer/graph/gpu/gputest"
	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// deviceBackend returns the backend the tests share (gputest.Backend): a
// GPU where there is one, else the CPU emulator.
func deviceBackend(t *testing.T) *gpu.Backend {
	t.Helper()
	be, _ := gputest.Backend(t)
	return be
}

// closeTo fails the test unless got and want agree to a relative error of
// 1e-4 of the largest magnitude of want.
func closeTo(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 1e-30
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if e := math.Abs(float64(got[i]-want[i])) / scale; !(e <= 1e-4) {
			t.Errorf("%s: element %d is %v on the device, %v on the CPU (relative error %.3g)", what, i, got[i], want[i], e)
			return
		}
	}
}

// TestDeviceNet builds a small float32 network (8×8 images; an identity
// block and a projection block) on the CPU and on the device from the same
// weights and compares two training runs (loss, logits, every gradient),
// the running statistics after them (ToHost) and an evaluation run; then
// weights changed on the host reach the device with ToDevice.
func TestDeviceNet(t *testing.T) {
	be := deviceBackend(t)
	cfg := testConfig(3, []config.Stage{{Channels: 3, Blocks: 1, Stride: 1}, {Channels: 4, Blocks: 1, Stride: 2}})
	models := make([]*Model, 2)
	for i := range models {
		m, err := newModel(cfg, 3, tensor.Float32)
		if err != nil {
			t.Fatal(err)
		}
		m.size = 8
		models[i] = m
	}
	host, dev := models[0], models[1]
	dev.Backend = be
	const batch = 3
	nets := make([]*Net, 2)
	for i, m := range models {
		n, err := m.Build(batch, true)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nets[i] = n
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := 1; step <= 2; step++ {
		x := make([]float32, len(nets[0].Input()))
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		labels := []int{rng.IntN(10), rng.IntN(10), rng.IntN(10)}
		for _, n := range nets {
			copy(n.Input(), x)
			if err := n.SetLabels(labels, 0.1); err != nil {
				t.Fatal(err)
			}
			if err := n.Run(); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := nets[1].LossValue(), nets[0].LossValue(); !(math.Abs(got-want) <= 1e-4*math.Abs(want)) {
			t.Errorf("step %d: loss %v on the device, %v on the CPU", step, got, want)
		}
		closeTo(t, fmt.Sprintf("step %d: logits", step), nets[1].LogitsValue(), nets[0].LogitsValue())
		for i, p := range host.Params {
			closeTo(t, fmt.Sprintf("step %d: gradient of %s", step, p.Name), nets[1].Gradient(i), nets[0].Gradient(i))
			if nets[1].DeviceGradient(i) == nil || nets[0].DeviceGradient(i) != nil {
				t.Fatalf("DeviceGradient(%d): %v on the device, %v on the CPU", i, nets[1].DeviceGradient(i), nets[0].DeviceGradient(i))
			}
		}
	}
	if err := dev.ToHost(); err != nil {
		t.Fatal(err)
	}
	for i, bn := range host.BNs {
		closeTo(t, bn.Name+" running mean", dev.BNs[i].State.Mean, bn.State.Mean)
		closeTo(t, bn.Name+" running variance", dev.BNs[i].State.Var, bn.State.Var)
	}

	// New weights on the host, then an evaluation net on each.
	for i, p := range host.Params {
		for j := range p.Data() {
			p.Data()[j] = float32(rng.NormFloat64() * 0.5)
		}
		copy(dev.Params[i].Data(), p.Data())
	}
	if err := dev.ToDevice(); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, batch*3*8*8)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	var logits [2][]float32
	for i, m := range models {
		n, err := m.Build(batch, false)
		if err != nil {
			t.Fatal(err)
		}
		copy(n.Input(), x)
		if err := n.Run(); err != nil {
			t.Fatal(err)
		}
		logits[i] = append([]float32(nil), n.LogitsValue()...)
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	closeTo(t, "evaluation logits", logits[1], logits[0])
}

// TestDeviceNetHostBuffers checks that a net on a device keeps its input
// and targets in the device's page-locked host memory, and frees them
// with its device memory when closed.
func TestDeviceNetHostBuffers(t *testing.T) {
	be := deviceBackend(t)
	cfg := testConfig(3, []config.Stage{{Channels: 3, Blocks: 1, Stride: 1}})
	m, err := newModel(cfg, 3, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	m.size = 8
	m.Backend = be
	e := be.Engine()
	host, dev := e.HostAllocated(), e.Allocated()
	n, err := m.Build(3, true)
	if err != nil {
		t.Fatal(err)
	}
	// 3 images of 3×8×8 and 3 rows of 10 targets, float32.
	if got, want := e.HostAllocated()-host, uint64(4*(3*3*8*8+3*10)); got != want {
		t.Errorf("a training net holds %d bytes of page-locked memory, want %d", got, want)
	}
	if len(n.Input()) != 3*3*8*8 {
		t.Errorf("Input has %d values", len(n.Input()))
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	params := e.Allocated() - dev // the model's device copies stay
	if got := e.HostAllocated(); got != host {
		t.Errorf("after Close: %d bytes of page-locked memory, want %d", got, host)
	}
	n, err = m.Build(3, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := e.Allocated() - dev; got != params {
		t.Errorf("a second net left %d bytes of device memory, the first %d", got, params)
	}
}

// TestFromCheckpointOnDevice loads one checkpoint on the CPU and, with
// OnDevice, on the device and compares the classifiers' logits.
func TestFromCheckpointOnDevice(t *testing.T) {
	be := deviceBackend(t)
	cfg := config.Default()
	cfg.Model.StemChannels = 2
	cfg.Model.Stages = []config.Stage{{Channels: 2, Blocks: 1, Stride: 2}}
	m, err := New(cfg.Model, 5)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 9))
	randomStats(rng, m)
	f := &checkpoint.File{Config: cfg, Params: m.ParamTensors(), Stats: m.StatTensors()}
	images := make([]float32, 2*3*32*32)
	for i := range images {
		images[i] = float32(rng.NormFloat64())
	}
	var logits [2][]float32
	for i, opts := range [][]Option{nil, {OnDevice(be)}} {
		c, err := FromCheckpoint(f, opts...)
		if err != nil {
			t.Fatal(err)
		}
		before := be.Engine().Allocated()
		if logits[i], err = c.Logits(images); err != nil {
			t.Fatal(err)
		}
		if onDevice := be.Engine().Allocated() > before; onDevice != (i == 1) {
			t.Errorf("classifier %d: device memory allocated %v, want %v", i, onDevice, i == 1)
		}
		c.Close()
	}
	closeTo(t, "logits", logits[1], logits[0])
}

// TestDeviceDistillation runs a distillation net (its loss a weighted sum
// of two loss nodes, computed by Gorgonia's scalar operations) on the CPU
// and on the device and compares the loss and the gradients.
func TestDeviceDistillation(t *testing.T) {
	be := deviceBackend(t)
	cfg := testConfig(2, []config.Stage{{Channels: 2, Blocks: 1, Stride: 2}})
	rng := rand.New(rand.NewPCG(6, 7))
	x := make([]float32, 2*3*8*8)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	probs := make([]float32, 2*10)
	for i := range probs {
		probs[i] = 0.1
	}
	probs[3], probs[4], probs[13], probs[14] = 0.05, 0.15, 0.15, 0.05
	var nets [2]*Net
	for i := range nets {
		m, err := newModel(cfg, 3, tensor.Float32)
		if err != nil {
			t.Fatal(err)
		}
		m.size = 8
		if i == 1 {
			m.Backend = be
		}
		n, err := m.BuildDistillation(2, 0.7, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		copy(n.Input(), x)
		if err := n.SetLabels([]int{3, 7}, 0); err != nil {
			t.Fatal(err)
		}
		if err := n.SetTeacherProbs(probs); err != nil {
			t.Fatal(err)
		}
		if err := n.Run(); err != nil {
			t.Fatal(err)
		}
		nets[i] = n
	}
	if got, want := nets[1].LossValue(), nets[0].LossValue(); !(math.Abs(got-want) <= 1e-4*math.Abs(want)) {
		t.Errorf("loss %v on the device, %v on the CPU", got, want)
	}
	for i := range nets[0].Grads {
		closeTo(t, fmt.Sprintf("gradient %d", i), nets[1].Gradient(i), nets[0].Gradient(i))
	}
}

// TestDeviceNeedsFloat32 checks that a float64 model is refused on a
// device when a net is built, before anything reaches the device.
func TestDeviceNeedsFloat32(t *testing.T) {
	be := deviceBackend(t)
	cfg := testConfig(3, []config.Stage{{Channels: 3, Blocks: 1, Stride: 1}})
	m, err := newModel(cfg, 3, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	m.Backend = be
	n, err := m.Build(2, true)
	if err == nil {
		n.Close()
		t.Fatal("a float64 model built a net on the device")
	}
	if want := "model: a device computes in float32, the model is float64"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if len(m.devValues) != 0 {
		t.Errorf("%d parameters copied to the device", len(m.devValues))
	}
}
