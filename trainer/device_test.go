package trainer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
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
	if err == nil || !strings.Contains(err.Error(), `device: unknown device "tpu" (want cpu or cuda)`) {
		t.Errorf("OpenDevice(tpu): %v", err)
	}
}
