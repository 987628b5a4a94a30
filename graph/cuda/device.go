package cuda

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
)

// Device attributes read by Open (CUdevice_attribute values of cuda.h).
const (
	attrMultiprocessorCount    = 16
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
)

// Device is one GPU with its primary context retained. Its methods may be
// called from any goroutine; each makes the context current on its OS
// thread first.
type Device struct {
	d *driver
	// Index is the device's ordinal among the driver's devices.
	Index int
	// Name is the product name, e.g. "NVIDIA H200".
	Name string
	// TotalMem is the device memory in bytes.
	TotalMem uint64
	// Major and Minor are the compute capability (9 and 0 for an H100 or
	// H200).
	Major, Minor int
	// Multiprocessors is the number of streaming multiprocessors.
	Multiprocessors int

	handle int32   // CUdevice
	ctx    uintptr // CUcontext, the primary context

	mu     sync.Mutex
	closed bool
}

// Count initialises the driver and returns the number of GPUs it sees
// (those CUDA_VISIBLE_DEVICES leaves visible). Without a driver the error
// wraps ErrNoDriver and names the missing library.
func Count() (int, error) {
	d, err := lib()
	if err != nil {
		return 0, err
	}
	return d.count()
}

// count returns the number of GPUs the loaded driver d sees.
func (d *driver) count() (int, error) {
	var count int32
	if r := d.cuDeviceGetCount(&count); r != Success {
		return 0, d.error(r, "cuDeviceGetCount", "")
	}
	return int(count), nil
}

// Open initialises the driver, retains the primary context of device
// index and returns the device. Without a driver the error wraps
// ErrNoDriver and names the missing library; with a driver but too few
// devices it says how many there are.
func Open(index int) (*Device, error) {
	d, err := lib()
	if err != nil {
		return nil, err
	}
	count, err := d.count()
	if err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, fmt.Errorf("cuda: the NVIDIA driver sees no GPU on this machine; use device: cpu")
	}
	if index < 0 || index >= count {
		return nil, fmt.Errorf("cuda: device %d requested, but this machine has %d (devices 0 to %d)", index, count, count-1)
	}
	dev := &Device{d: d, Index: index}
	if r := d.cuDeviceGet(&dev.handle, int32(index)); r != Success {
		return nil, d.error(r, "cuDeviceGet", fmt.Sprint(index))
	}
	name := make([]byte, 256)
	if r := d.cuDeviceGetName(&name[0], int32(len(name)), dev.handle); r != Success {
		return nil, d.error(r, "cuDeviceGetName", fmt.Sprint(index))
	}
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	dev.Name = string(name)
	if r := d.cuDeviceTotalMem_v2(&dev.TotalMem, dev.handle); r != Success {
		return nil, d.error(r, "cuDeviceTotalMem_v2", fmt.Sprint(index))
	}
	for _, a := range []struct {
		attr int32
		dst  *int
	}{
		{attrComputeCapabilityMajor, &dev.Major},
		{attrComputeCapabilityMinor, &dev.Minor},
		{attrMultiprocessorCount, &dev.Multiprocessors},
	} {
		var v int32
		if r := d.cuDeviceGetAttribute(&v, a.attr, dev.handle); r != Success {
			return nil, d.error(r, "cuDeviceGetAttribute", fmt.Sprintf("attribute %d", a.attr))
		}
		*a.dst = int(v)
	}
	if r := d.cuDevicePrimaryCtxRetain(&dev.ctx, dev.handle); r != Success {
		return nil, d.error(r, "cuDevicePrimaryCtxRetain", fmt.Sprint(index))
	}
	return dev, nil
}

// String describes the device, e.g. "cuda:0 (NVIDIA H200, compute 9.0,
// 139.8 GiB)".
func (dev *Device) String() string {
	return fmt.Sprintf("cuda:%d (%s, compute %d.%d, %.1f GiB)", dev.Index, dev.Name, dev.Major, dev.Minor, float64(dev.TotalMem)/(1<<30))
}

// Close releases the device's primary context. Memory, modules and streams
// of the device must not be used afterwards. Closing twice is an error.
func (dev *Device) Close() error {
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if dev.closed {
		return fmt.Errorf("cuda: device %d is already closed", dev.Index)
	}
	dev.closed = true
	if r := dev.d.cuDevicePrimaryCtxRelease(dev.handle); r != Success {
		return dev.d.error(r, "cuDevicePrimaryCtxRelease_v2", fmt.Sprint(dev.Index))
	}
	return nil
}

// do runs fn with the goroutine locked to its OS thread and the device's
// context current on that thread.
func (dev *Device) do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := dev.d.cuCtxSetCurrent(dev.ctx); r != Success {
		return dev.d.error(r, "cuCtxSetCurrent", "")
	}
	return fn()
}

// call runs one driver function in the device's context and turns a
// failure into an error naming fn and detail.
func (dev *Device) call(fn, detail string, f func() Result) error {
	return dev.do(func() error {
		if r := f(); r != Success {
			return dev.d.error(r, fn, detail)
		}
		return nil
	})
}

// Synchronize waits until all work queued on the device has finished and
// returns the first error of an asynchronous operation, if any.
func (dev *Device) Synchronize() error {
	return dev.call("cuCtxSynchronize", "", dev.d.cuCtxSynchronize)
}

// MemInfo returns the free and total device memory in bytes.
func (dev *Device) MemInfo() (free, total uint64, err error) {
	err = dev.call("cuMemGetInfo_v2", "", func() Result { return dev.d.cuMemGetInfo_v2(&free, &total) })
	return free, total, err
}
