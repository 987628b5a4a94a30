package trainer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/gpu"
)

// Device is where a run computes: the CPU, or a GPU's backend.
type Device struct {
	// Name is the configuration's device name, "cpu" or "cuda".
	Name string
	// GPU is the backend on the GPU for "cuda", nil for "cpu".
	GPU *gpu.Backend
}

// OpenDevice opens the device called name (config.DeviceNames; empty
// means "cpu"). For "cuda" it opens the first GPU and loads the kernels;
// without an NVIDIA driver or a GPU the error says which is missing, so a
// command can exit before it trains.
func OpenDevice(name string) (*Device, error) {
	c := config.Config{Device: name}
	switch c.EffectiveDevice() {
	case "cpu":
		return &Device{Name: "cpu"}, nil
	case "cuda":
		b, err := gpu.Open(0)
		if err != nil {
			return nil, err
		}
		return &Device{Name: "cuda", GPU: b}, nil
	}
	return nil, fmt.Errorf("device: unknown device %q (want %s)", name, strings.Join(config.DeviceNames(), " or "))
}

// Backend returns the backend a model computes with on the device: nil
// (the CPU backend) for the CPU.
func (d *Device) Backend() backend.Backend {
	if d.GPU == nil {
		return nil
	}
	return d.GPU
}

// String describes the device: "cpu", or the GPU, e.g. "cuda:0 (NVIDIA
// H200, compute 9.0, 139.8 GiB)".
func (d *Device) String() string {
	if d.GPU == nil {
		return "cpu"
	}
	return d.GPU.Device().String()
}

// Close closes the GPU, if any.
func (d *Device) Close() error {
	if d.GPU == nil {
		return nil
	}
	return d.GPU.Close()
}

// batchSizeKey is the configuration key of the training batch size.
const batchSizeKey = "solver.batch_size"

// OutOfMemory returns err, or for an error of a device that ran out of
// memory an error that names the batch size and the setting that lowers
// it (solver.batch_size for training, -batch for cmd/bench).
func (d *Device) OutOfMemory(err error, batch int, setting string) error {
	if err == nil || !errors.Is(err, cuda.ErrorOutOfMemory) {
		return err
	}
	return fmt.Errorf("out of device memory on %v at batch size %d; lower %s: %w", d, batch, setting, err)
}
