package trainer

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cuda"
)

// TestOutOfMemoryNamesBatch checks that a device's out-of-memory error,
// however deeply wrapped, becomes an error naming the batch size and the
// configuration key to lower, and that other errors pass unchanged.
func TestOutOfMemoryNamesBatch(t *testing.T) {
	be := deviceBackend(t)
	d := &Device{Name: "cuda", GPU: be}
	_, oom := be.Device().Alloc(2 * be.Device().TotalMem)
	if oom == nil {
		t.Fatal("allocating twice the device's memory succeeded")
	}
	wrapped := fmt.Errorf("model: run: %w", fmt.Errorf("graph: Conv2D: %w", oom))
	err := d.OutOfMemory(wrapped, 4096, "solver.batch_size")
	want := fmt.Sprintf("out of device memory on %v at batch size 4096; lower solver.batch_size: %v", be.Device(), wrapped)
	if err == nil || err.Error() != want {
		t.Errorf("OutOfMemory: %v, want %s", err, want)
	}
	other := errors.New("model: run: something else")
	if got := d.OutOfMemory(other, 4096, "solver.batch_size"); got != other {
		t.Errorf("another error became %v", got)
	}
	if got := d.OutOfMemory(nil, 4096, "solver.batch_size"); got != nil {
		t.Errorf("no error became %v", got)
	}
}

// TestOpenDeviceNames checks the device names OpenDevice takes.
func TestOpenDeviceNames(t *testing.T) {
	for _, name := range []string{"", "cpu"} {
		d, err := OpenDevice(name)
		if err != nil || d.Name != "cpu" || d.Backend() != nil || d.String() != "cpu" {
			t.Errorf("OpenDevice(%q) = %+v, %v; want the CPU", name, d, err)
		}
	}
	_, err := OpenDevice("tpu")
	if err == nil || err.Error() != `device: unknown device "tpu" (want cpu or cuda, or cuda:N for GPU N)` {
		t.Errorf("OpenDevice(tpu): %v", err)
	}
	_, err = OpenDevice("cuda:x")
	if err == nil || err.Error() != `device: "cuda:x": the GPU index after cuda: must be a number 0 or more, got "x"` {
		t.Errorf("OpenDevice(cuda:x): %v", err)
	}
}

// TestOpenDeviceIndex checks that cuda:N opens GPU N, and that asking for
// a GPU the machine does not have says how many it has.
func TestOpenDeviceIndex(t *testing.T) {
	be := deviceBackend(t) // loads the GPU's driver, or the emulator
	n := be.Device().Index
	d, err := OpenDevice(fmt.Sprintf("cuda:%d", n))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name != fmt.Sprintf("cuda:%d", n) || d.GPU.Device().Index != n || !strings.HasPrefix(d.String(), fmt.Sprintf("cuda:%d (", n)) {
		t.Errorf("OpenDevice(cuda:%d): %s named %s", n, d, d.Name)
	}
	count, err := cuda.Count()
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenDevice(fmt.Sprintf("cuda:%d", count))
	want := fmt.Sprintf("device cuda: cuda: device %d requested, but this machine has %d (devices 0 to %d)", count, count, count-1)
	if err == nil || err.Error() != want {
		t.Errorf("OpenDevice(cuda:%d): %v, want %s", count, err, want)
	}
}
