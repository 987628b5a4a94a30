package emu

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ebitengine/purego"

	"github.com/cifar-resnet/trainer/graph/cuda"
)

// OpenDevice opens the device the GPU tests run on: device 0 of the
// machine's GPUs when there is one, otherwise the CPU emulator (built by
// Build), which it installs with cuda.SetDriverLibrary. It must be called
// before anything else loads the CUDA driver in the process. kind says
// which it is: "GPU" or "CPU emulator". Without a GPU and a C++ compiler
// its error wraps ErrNoCompiler.
func OpenDevice() (dev *cuda.Device, kind string, err error) {
	if hasGPU() {
		dev, err = cuda.Open(0)
		return dev, "GPU", err
	}
	lib, err := Build()
	if err != nil {
		return nil, "", err
	}
	if err := cuda.SetDriverLibrary(lib); err != nil {
		return nil, "", fmt.Errorf("emu: %w", err)
	}
	dev, err = cuda.Open(0)
	return dev, "CPU emulator", err
}

// Require is how a test takes the error err of OpenDevice or Build: it
// skips tb, saying why, when the machine has neither a GPU nor a C++
// compiler for the emulator, and fails it on any other error.
func Require(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNoCompiler) {
		tb.Skipf("no GPU and %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// hasGPU reports whether the CUDA driver loads and sees at least one
// device. It opens the driver library on its own, so that the choice
// leaves package cuda free to load either library; the library stays
// loaded (unloading an initialised driver is not safe).
func hasGPU() bool {
	h, err := purego.Dlopen(cuda.DriverLibrary, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return false
	}
	var cuInit func(uint32) int32
	var cuDeviceGetCount func(*int32) int32
	for _, s := range []struct {
		name string
		fn   any
	}{{"cuInit", &cuInit}, {"cuDeviceGetCount", &cuDeviceGetCount}} {
		addr, err := purego.Dlsym(h, s.name)
		if err != nil || addr == 0 {
			return false
		}
		purego.RegisterFunc(s.fn, addr)
	}
	var n int32
	return cuInit(0) == 0 && cuDeviceGetCount(&n) == 0 && n > 0
}
