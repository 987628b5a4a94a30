// Package gputest gives the tests of other packages the GPU backend they
// run on: a GPU where the machine has one, else the CPU emulator of
// package emu.
package gputest

import (
	"sync"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cuda/emu"
	"github.com/cifar-resnet/trainer/graph/gpu"
)

var shared struct {
	once sync.Once
	be   *gpu.Backend
	kind string
	err  error
}

// Backend returns the backend the process's tests share and the kind of
// its device, "GPU" or "CPU emulator" (as emu.OpenDevice says). The first
// call opens the device with emu.OpenDevice, so it must come before
// anything else in the process loads the CUDA driver; the backend stays
// open until the process exits. Backend skips tb when the machine has
// neither a GPU nor a C++ compiler for the emulator, and fails it when the
// device or the backend does not open.
func Backend(tb testing.TB) (*gpu.Backend, string) {
	tb.Helper()
	shared.once.Do(func() {
		dev, kind, err := emu.OpenDevice()
		if err == nil {
			shared.be, err = gpu.New(dev)
		}
		shared.kind, shared.err = kind, err
	})
	emu.Require(tb, shared.err)
	return shared.be, shared.kind
}
