package trainer

import (
	"errors"
	"fmt"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/gpu"
)

// Device is where a run computes: the CPU, or a GPU's backend.
type Device struct {
	// Name is the device's name, as config.ParseDevice reads it: "cpu",
	// "cuda" or "cuda:N".
	Name string
	// GPU is the backend on the GPU for "cuda", nil for "cpu".
	GPU *gpu.Backend
}

// OpenDevice opens the device called name (config.ParseDevice: "cpu",
// "cuda" for the first GPU, "cuda:N" for GPU N; empty means "cpu"). For
// a GPU it opens the device and loads the kernels; without an NVIDIA
// driver, without a GPU or without GPU N the error says which is missing,
// so a command can exit before it trains.
func OpenDevice(name string) (*Device, error) {
	kind, index, err := config.ParseDevice(name)
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	if kind == "cpu" {
		return &Device{Name: "cpu"}, nil
	}
	b, err := gpu.Open(index)
	if err != nil {
		return nil, err
	}
	return &Device{Name: name, GPU: b}, nil
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
