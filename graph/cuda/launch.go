package cuda

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// Module is a loaded image of compiled kernels (a fatbin, cubin or PTX).
type Module struct {
	dev *Device
	h   uintptr // CUmodule
}

// LoadModule loads image, a fatbin, cubin or NUL-terminated PTX text, into
// the device's context. The driver picks the image's code for the device's
// architecture, or compiles its PTX for it.
func (dev *Device) LoadModule(image []byte) (*Module, error) {
	if len(image) == 0 {
		return nil, fmt.Errorf("cuda: cuModuleLoadData: empty image")
	}
	m := &Module{dev: dev}
	err := dev.call("cuModuleLoadData", fmt.Sprintf("%d-byte image", len(image)), func() Result {
		return dev.d.cuModuleLoadData(&m.h, unsafe.Pointer(unsafe.SliceData(image)))
	})
	runtime.KeepAlive(image)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Unload unloads the module; its functions must not be launched any more.
func (m *Module) Unload() error {
	return m.dev.call("cuModuleUnload", "", func() Result { return m.dev.d.cuModuleUnload(m.h) })
}

// Function is a kernel of a module.
type Function struct {
	mod  *Module
	h    uintptr // CUfunction
	Name string
}

// Function returns the kernel called name (its extern "C" name).
func (m *Module) Function(name string) (*Function, error) {
	f := &Function{mod: m, Name: name}
	err := m.dev.call("cuModuleGetFunction", name, func() Result { return m.dev.d.cuModuleGetFunction(&f.h, m.h, name) })
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z int }

// Grid1 returns the one-dimensional grid of blocks of size block that
// covers n threads.
func Grid1(n, block int) Dim3 { return Dim3{X: (n + block - 1) / block, Y: 1, Z: 1} }

// The launch limits of every NVIDIA GPU since compute capability 3.0.
var (
	// MaxGrid is the largest grid: x below 2³¹, y and z at most 65535.
	MaxGrid = Dim3{X: math.MaxInt32, Y: 65535, Z: 65535}
	// maxBlock is the largest block size in each dimension; a block
	// also has at most maxThreads threads.
	maxBlock = Dim3{X: 1024, Y: 1024, Z: 64}
)

// maxThreads is the largest number of threads of a block.
const maxThreads = 1024

// check returns an error unless every component of d is in [1, limit's].
func (d Dim3) check(what string, limit Dim3) error {
	if d.X < 1 || d.Y < 1 || d.Z < 1 || d.X > limit.X || d.Y > limit.Y || d.Z > limit.Z {
		return fmt.Errorf("cuda: %s %v: sizes must be in [1, %d], [1, %d] and [1, %d]", what, d, limit.X, limit.Y, limit.Z)
	}
	return nil
}

// Launch queues kernel f on stream s (nil for the legacy default stream)
// with the given grid and block sizes and static shared memory only. The
// arguments are passed in order and must match the kernel's parameters:
// a Ptr for a pointer, an int (passed as a C int, so it must fit in 32
// bits), int32, uint32, float32 or float64. Launch does not wait for the
// kernel; an error it raises while running is returned by a later
// synchronizing call.
func (f *Function) Launch(grid, block Dim3, s *Stream, args ...any) error {
	if err := grid.check("grid", MaxGrid); err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	if err := block.check("block", maxBlock); err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	if n := block.X * block.Y * block.Z; n > maxThreads {
		return fmt.Errorf("%s: cuda: block %v: %d threads, more than %d", f.Name, block, n, maxThreads)
	}
	p, err := packArgs(args)
	if err != nil {
		return fmt.Errorf("cuda: %s: %w", f.Name, err)
	}
	dev := f.mod.dev
	err = dev.call("cuLaunchKernel", f.Name, func() Result {
		return dev.d.cuLaunchKernel(f.h, uint32(grid.X), uint32(grid.Y), uint32(grid.Z),
			uint32(block.X), uint32(block.Y), uint32(block.Z), 0, s.handle(), p.params(), nil)
	})
	runtime.KeepAlive(p)
	return err
}

// kernelArgs holds the packed arguments of a launch: each argument's
// value in its own 8-byte slot, and the array of pointers to the slots
// that cuLaunchKernel reads (kernelParams).
type kernelArgs struct {
	slots []uint64
	ptrs  []unsafe.Pointer
}

// params returns the kernelParams pointer, nil for a kernel without
// parameters.
func (k *kernelArgs) params() unsafe.Pointer {
	if len(k.ptrs) == 0 {
		return nil
	}
	return unsafe.Pointer(&k.ptrs[0])
}

// packArgs converts launch arguments to their C representation. Values
// are stored little-endian at the start of their slot, which is how the
// driver reads a 4-byte parameter through its pointer.
func packArgs(args []any) (*kernelArgs, error) {
	k := &kernelArgs{slots: make([]uint64, len(args)), ptrs: make([]unsafe.Pointer, len(args))}
	for i, a := range args {
		var v uint64
		switch x := a.(type) {
		case Ptr:
			v = uint64(x)
		case int:
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, fmt.Errorf("argument %d: int %d does not fit a C int", i, x)
			}
			v = uint64(uint32(int32(x)))
		case int32:
			v = uint64(uint32(x))
		case uint32:
			v = uint64(x)
		case float32:
			v = uint64(math.Float32bits(x))
		case float64:
			v = math.Float64bits(x)
		default:
			return nil, fmt.Errorf("argument %d: unsupported type %T (want Ptr, int, int32, uint32, float32 or float64)", i, a)
		}
		k.slots[i] = v
		k.ptrs[i] = unsafe.Pointer(&k.slots[i])
	}
	return k, nil
}

// Stream is a queue of device work, run in order. A stream of NewStream
// is a blocking stream: it synchronises with the legacy default stream, so
// Download sees the results of the work queued on it. A stream of
// NewNonBlockingStream does not: Events order its work.
type Stream struct {
	dev *Device
	h   uintptr // CUstream
}

// NewStream creates a stream on the device.
func (dev *Device) NewStream() (*Stream, error) { return dev.newStream(0) }

// NewNonBlockingStream creates a stream whose work runs alongside the
// work of the legacy default stream, with no implicit synchronisation
// between the two (CU_STREAM_NON_BLOCKING): only Events order them.
// Download does not wait for it.
func (dev *Device) NewNonBlockingStream() (*Stream, error) { return dev.newStream(streamNonBlocking) }

// streamNonBlocking is CU_STREAM_NON_BLOCKING.
const streamNonBlocking = 0x1

func (dev *Device) newStream(flags uint32) (*Stream, error) {
	s := &Stream{dev: dev}
	if err := dev.call("cuStreamCreate", "", func() Result { return dev.d.cuStreamCreate(&s.h, flags) }); err != nil {
		return nil, err
	}
	return s, nil
}

// handle returns the driver's handle of s, 0 (the legacy default stream)
// for a nil s.
func (s *Stream) handle() uintptr {
	if s == nil {
		return 0
	}
	return s.h
}

// Synchronize waits until the work queued on the stream has finished.
func (s *Stream) Synchronize() error {
	return s.dev.call("cuStreamSynchronize", "", func() Result { return s.dev.d.cuStreamSynchronize(s.h) })
}

// Destroy destroys the stream once its queued work has finished.
func (s *Stream) Destroy() error {
	return s.dev.call("cuStreamDestroy_v2", "", func() Result { return s.dev.d.cuStreamDestroy_v2(s.h) })
}

// CopyAsync queues a copy of bytes from device memory at src to dst on the
// stream.
func (s *Stream) CopyAsync(dst, src Ptr, bytes uint64) error {
	if bytes == 0 {
		return nil
	}
	return s.dev.call("cuMemcpyDtoDAsync_v2", fmt.Sprintf("%d bytes", bytes), func() Result {
		return s.dev.d.cuMemcpyDtoDAsync_v2(dst, src, bytes, s.h)
	})
}

// Fill32Async queues setting n 32-bit words at dst to value on the stream.
func (s *Stream) Fill32Async(dst Ptr, value uint32, n uint64) error {
	if n == 0 {
		return nil
	}
	return s.dev.call("cuMemsetD32Async", fmt.Sprintf("%d words", n), func() Result {
		return s.dev.d.cuMemsetD32Async(dst, value, n, s.h)
	})
}
