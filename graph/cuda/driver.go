package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// DriverLibrary is the file name of the CUDA driver library, found by the
// dynamic loader's usual search (LD_LIBRARY_PATH, the ld.so cache, the
// system directories).
const DriverLibrary = "libcuda.so.1"

// ErrNoDriver is wrapped by the error every function of this package
// returns when the CUDA driver library cannot be loaded, the case of every
// machine without an NVIDIA driver.
var ErrNoDriver = errors.New("no NVIDIA driver on this machine (device: cuda needs one); use device: cpu")

// driver holds the entry points of the driver library. Each field is a Go
// function bound by purego to the C function of the same name; CUresult
// return values are Results.
type driver struct {
	path string

	cuInit                    func(flags uint32) Result
	cuDriverGetVersion        func(version *int32) Result
	cuDeviceGetCount          func(count *int32) Result
	cuDeviceGet               func(dev *int32, ordinal int32) Result
	cuDeviceGetName           func(name *byte, length int32, dev int32) Result
	cuDeviceTotalMem_v2       func(bytes *uint64, dev int32) Result
	cuDeviceGetAttribute      func(value *int32, attr int32, dev int32) Result
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) Result
	cuDevicePrimaryCtxRelease func(dev int32) Result
	cuCtxSetCurrent           func(ctx uintptr) Result
	cuCtxSynchronize          func() Result
	cuMemGetInfo_v2           func(free, total *uint64) Result
	cuMemAlloc_v2             func(ptr *Ptr, bytes uint64) Result
	cuMemFree_v2              func(ptr Ptr) Result
	cuMemAllocHost_v2         func(ptr *unsafe.Pointer, bytes uint64) Result
	cuMemFreeHost             func(ptr unsafe.Pointer) Result
	cuMemcpyHtoD_v2           func(dst Ptr, src unsafe.Pointer, bytes uint64) Result
	cuMemcpyHtoDAsync_v2      func(dst Ptr, src unsafe.Pointer, bytes uint64, stream uintptr) Result
	cuMemcpyDtoH_v2           func(dst unsafe.Pointer, src Ptr, bytes uint64) Result
	cuMemcpyDtoD_v2           func(dst, src Ptr, bytes uint64) Result
	cuMemcpyDtoDAsync_v2      func(dst, src Ptr, bytes uint64, stream uintptr) Result
	cuMemsetD32_v2            func(dst Ptr, value uint32, n uint64) Result
	cuMemsetD32Async          func(dst Ptr, value uint32, n uint64, stream uintptr) Result
	cuModuleLoadData          func(mod *uintptr, image unsafe.Pointer) Result
	cuModuleUnload            func(mod uintptr) Result
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name string) Result
	cuLaunchKernel            func(fn uintptr, gx, gy, gz, bx, by, bz, sharedBytes uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) Result
	cuStreamCreate            func(stream *uintptr, flags uint32) Result
	cuStreamDestroy_v2        func(stream uintptr) Result
	cuStreamSynchronize       func(stream uintptr) Result
	cuStreamWaitEvent         func(stream, event uintptr, flags uint32) Result
	cuEventCreate             func(event *uintptr, flags uint32) Result
	cuEventRecord             func(event, stream uintptr) Result
	cuEventSynchronize        func(event uintptr) Result
	cuEventDestroy_v2         func(event uintptr) Result
	cuEventElapsedTime        func(ms *float32, start, end uintptr) Result
	cuGetErrorName            func(r Result, name **byte) Result
	cuGetErrorString          func(r Result, desc **byte) Result
}

// symbols lists every driver function this package binds, each with the
// field of driver it is bound to. Versioned names (_v2) are the ones the
// CUDA headers map the plain names to since CUDA 4.0 (64-bit sizes and
// pointers); cuDevicePrimaryCtxRelease is bound to its _v2 symbol too.
func (d *driver) symbols() []struct {
	name string
	fn   any
} {
	return []struct {
		name string
		fn   any
	}{
		{"cuInit", &d.cuInit},
		{"cuDriverGetVersion", &d.cuDriverGetVersion},
		{"cuDeviceGetCount", &d.cuDeviceGetCount},
		{"cuDeviceGet", &d.cuDeviceGet},
		{"cuDeviceGetName", &d.cuDeviceGetName},
		{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem_v2},
		{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease},
		{"cuCtxSetCurrent", &d.cuCtxSetCurrent},
		{"cuCtxSynchronize", &d.cuCtxSynchronize},
		{"cuMemGetInfo_v2", &d.cuMemGetInfo_v2},
		{"cuMemAlloc_v2", &d.cuMemAlloc_v2},
		{"cuMemFree_v2", &d.cuMemFree_v2},
		{"cuMemAllocHost_v2", &d.cuMemAllocHost_v2},
		{"cuMemFreeHost", &d.cuMemFreeHost},
		{"cuMemcpyHtoD_v2", &d.cuMemcpyHtoD_v2},
		{"cuMemcpyHtoDAsync_v2", &d.cuMemcpyHtoDAsync_v2},
		{"cuMemcpyDtoH_v2", &d.cuMemcpyDtoH_v2},
		{"cuMemcpyDtoD_v2", &d.cuMemcpyDtoD_v2},
		{"cuMemcpyDtoDAsync_v2", &d.cuMemcpyDtoDAsync_v2},
		{"cuMemsetD32_v2", &d.cuMemsetD32_v2},
		{"cuMemsetD32Async", &d.cuMemsetD32Async},
		{"cuModuleLoadData", &d.cuModuleLoadData},
		{"cuModuleUnload", &d.cuModuleUnload},
		{"cuModuleGetFunction", &d.cuModuleGetFunction},
		{"cuLaunchKernel", &d.cuLaunchKernel},
		{"cuStreamCreate", &d.cuStreamCreate},
		{"cuStreamDestroy_v2", &d.cuStreamDestroy_v2},
		{"cuStreamSynchronize", &d.cuStreamSynchronize},
		{"cuStreamWaitEvent", &d.cuStreamWaitEvent},
		{"cuEventCreate", &d.cuEventCreate},
		{"cuEventRecord", &d.cuEventRecord},
		{"cuEventSynchronize", &d.cuEventSynchronize},
		{"cuEventDestroy_v2", &d.cuEventDestroy_v2},
		{"cuEventElapsedTime", &d.cuEventElapsedTime},
		{"cuGetErrorName", &d.cuGetErrorName},
		{"cuGetErrorString", &d.cuGetErrorString},
	}
}

// openDriver loads the driver library at path, binds every symbol and
// initialises the driver (cuInit). Its errors say what is missing.
func openDriver(path string) (*driver, error) {
	h, err := dlopen(path)
	if err != nil {
		return nil, loadError(path, err)
	}
	d := &driver{path: path}
	for _, s := range d.symbols() {
		addr, err := purego.Dlsym(h, s.name)
		if err != nil || addr == 0 {
			return nil, fmt.Errorf("cuda: %s has no %s: the NVIDIA driver is too old for this program; update it or use device: cpu", path, s.name)
		}
		purego.RegisterFunc(s.fn, addr)
	}
	if r := d.cuInit(0); r != Success {
		if r == ErrorNoDevice {
			return nil, fmt.Errorf("cuda: the NVIDIA driver (%s) is installed but finds no GPU (%w); use device: cpu", path, d.error(r, "cuInit", ""))
		}
		return nil, fmt.Errorf("%w; use device: cpu", d.error(r, "cuInit", ""))
	}
	return d, nil
}

// dlopen loads the library at path. dlerror's message, which purego.Dlopen
// reads after a failed dlopen, is the calling thread's: the goroutine stays
// on one thread for both calls, or its error could be another thread's (or
// empty) and a missing library be reported as a broken one.
func dlopen(path string) (uintptr, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
}

// loadError turns a failed dlopen of the driver library into the error a
// user sees: a missing file means there is no driver at all.
func loadError(path string, err error) error {
	if strings.Contains(err.Error(), "No such file or directory") || strings.Contains(err.Error(), "cannot open shared object file") {
		return fmt.Errorf("cuda: %s not found: %w", path, ErrNoDriver)
	}
	return fmt.Errorf("cuda: cannot load %s: %v (the NVIDIA driver installation looks broken); use device: cpu", path, err)
}

// The driver library is loaded once, by the first function that needs
// it; driverPath may be changed by SetDriverLibrary before that.
var (
	driverMu   sync.Mutex
	driverPath = DriverLibrary
	loaded     *driver
	loadErr    error
	loadedOnce bool
)

// SetDriverLibrary makes the package load the driver library from path
// instead of DriverLibrary. It must be called before any other function of
// the package; it returns an error once the driver has been loaded (or
// failed to load). Tests use it to run the package against a CPU emulation
// of the driver.
func SetDriverLibrary(path string) error {
	driverMu.Lock()
	defer driverMu.Unlock()
	if loadedOnce {
		return fmt.Errorf("cuda: the driver library %s is already loaded; cannot switch to %s", driverPath, path)
	}
	driverPath = path
	return nil
}

// lib returns the loaded driver, loading it on first use. A failure is
// remembered: the driver is not searched for again.
func lib() (*driver, error) {
	driverMu.Lock()
	defer driverMu.Unlock()
	if !loadedOnce {
		loaded, loadErr = openDriver(driverPath)
		loadedOnce = true
	}
	return loaded, loadErr
}

// Available reports whether the driver library loads and initialises, and
// otherwise returns the error that says why not. It does not check that a
// device is present; Open does.
func Available() error {
	_, err := lib()
	return err
}

// DriverVersion returns the CUDA version the driver supports, as
// major·1000 + minor·10 (12040 for CUDA 12.4).
func DriverVersion() (int, error) {
	d, err := lib()
	if err != nil {
		return 0, err
	}
	var v int32
	if r := d.cuDriverGetVersion(&v); r != Success {
		return 0, d.error(r, "cuDriverGetVersion", "")
	}
	return int(v), nil
}

// error returns the error of driver function fn failing with r; detail,
// when not empty, is printed in parentheses after the function name.
func (d *driver) error(r Result, fn, detail string) error {
	return &Error{Func: fn, Detail: detail, Code: r, desc: d.describe(r)}
}

// describe returns the driver's own description of r, or "" when it has
// none.
func (d *driver) describe(r Result) string {
	var p *byte
	if d == nil || d.cuGetErrorString == nil || d.cuGetErrorString(r, &p) != Success || p == nil {
		return ""
	}
	return goString(p)
}

// goString copies the NUL-terminated C string at p.
func goString(p *byte) string {
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
