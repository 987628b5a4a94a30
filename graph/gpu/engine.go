package gpu

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
)

// Engine allocates tensors in the memory of one CUDA device. It implements
// tensor.Engine; the tensors it allocates are not accessible from Go. It
// also implements tensor.Adder for float32 device tensors, so that the
// gradient sums gorgonia.Grad inserts run on the device.
//
// A gorgonia.TapeMachine made with gorgonia.WithEngine(e) stamps e on
// every value it holds, host values included, so e.Engine() == e does not
// make a tensor a device tensor: Holds checks the tensor's address against
// the engine's own allocations.
type Engine struct {
	dev *cuda.Device
	mod *kernels.Module

	mu    sync.Mutex
	alloc map[cuda.Ptr]uint64           // live allocations and their sizes
	sums  map[[2]cuda.Ptr]*tensor.Dense // Add's outputs by operands, see Add
	hosts map[uintptr]hostMemory        // NewHostTensor's memory by address
	// stages are the staging buffers of uploads from page-locked memory
	// by destination, copies the stream of those uploads (upload.go).
	stages map[cuda.Ptr]*stage
	copies *cuda.Stream
}

// NewEngine returns the engine of dev with the kernels mod.
func NewEngine(dev *cuda.Device, mod *kernels.Module) *Engine {
	return &Engine{dev: dev, mod: mod, alloc: map[cuda.Ptr]uint64{}, sums: map[[2]cuda.Ptr]*tensor.Dense{}, hosts: map[uintptr]hostMemory{}, stages: map[cuda.Ptr]*stage{}}
}

// Device returns the engine's device.
func (e *Engine) Device() *cuda.Device { return e.dev }

// memory is a block of device memory as tensor.Memory.
type memory struct {
	p cuda.Ptr
	n uintptr
}

func (m memory) Uintptr() uintptr { return uintptr(m.p) }
func (m memory) MemSize() uintptr { return m.n }

// ptrOf returns the device address of mem.
func ptrOf(mem tensor.Memory) cuda.Ptr { return cuda.Ptr(mem.Uintptr()) }

// AllocAccessible reports false: device memory is not Go memory.
func (e *Engine) AllocAccessible() bool { return false }

// Alloc allocates size bytes of device memory (at least 4, so that an
// empty tensor still has an address). Running out of device memory gives
// an error wrapping cuda.ErrorOutOfMemory.
func (e *Engine) Alloc(size int64) (tensor.Memory, error) {
	if size < 0 {
		return nil, fmt.Errorf("gpu: allocation of %d bytes", size)
	}
	p, err := e.dev.Alloc(uint64(max(size, 4)))
	if err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	e.mu.Lock()
	e.alloc[p] = uint64(size)
	e.mu.Unlock()
	return memory{p: p, n: uintptr(size)}, nil
}

// Free releases memory returned by Alloc. Memory the engine did not
// allocate (a host value a machine stamped with the engine) is left alone.
func (e *Engine) Free(mem tensor.Memory, size int64) error {
	p := ptrOf(mem)
	e.mu.Lock()
	_, ok := e.alloc[p]
	delete(e.alloc, p)
	e.mu.Unlock()
	if !ok {
		return nil
	}
	return errors.Join(e.dropStage(p), e.dev.Free(p))
}

// Allocated returns the bytes of device memory the engine's live tensors
// hold.
func (e *Engine) Allocated() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	for _, s := range e.alloc {
		n += s
	}
	return n
}

// Memset sets every element of mem to val, a float32, int32 or uint32 (4
// bytes each), or a float64 0 (zeroing).
func (e *Engine) Memset(mem tensor.Memory, val any) error {
	words := uint64(mem.MemSize()) / 4
	switch v := val.(type) {
	case float32:
		return e.dev.Fill32(ptrOf(mem), math.Float32bits(v), words)
	case int32:
		return e.dev.Fill32(ptrOf(mem), uint32(v), words)
	case uint32:
		return e.dev.Fill32(ptrOf(mem), v, words)
	case float64:
		if v == 0 {
			return e.dev.Fill32(ptrOf(mem), 0, words)
		}
	}
	return fmt.Errorf("gpu: Memset with %v of type %T: only 4-byte values and a float64 0 are supported", val, val)
}

// Memclr sets mem to zero bytes. tensor.Engine gives it no error result,
// so a failure panics; it only fails when the device does.
func (e *Engine) Memclr(mem tensor.Memory) {
	if err := e.dev.Fill32(ptrOf(mem), 0, uint64(mem.MemSize())/4); err != nil {
		panic(fmt.Sprintf("gpu: Memclr: %v", err))
	}
}

// Memcpy copies src to dst, two blocks of device memory of one size.
func (e *Engine) Memcpy(dst, src tensor.Memory) error {
	if dst.MemSize() != src.MemSize() {
		return fmt.Errorf("gpu: Memcpy of %d bytes into %d bytes", src.MemSize(), dst.MemSize())
	}
	return e.dev.Copy(ptrOf(dst), ptrOf(src), uint64(src.MemSize()))
}

// errInaccessible is returned by Accessible.
var errInaccessible = errors.New("gpu: device memory is not accessible from the host; use Download")

// Accessible returns an error: device memory cannot be read by Go code.
func (e *Engine) Accessible(mem tensor.Memory) (tensor.Memory, error) { return nil, errInaccessible }

// WorksWith reports whether the engine's kernels take data in order:
// row-major, not transposed.
func (e *Engine) WorksWith(order tensor.DataOrder) bool {
	return order.IsRowMajor() && !order.IsTransposed()
}

// NewTensor returns a new device tensor of dtype dt and shape, its
// contents undefined.
func (e *Engine) NewTensor(dt tensor.Dtype, shape ...int) (t *tensor.Dense, err error) {
	defer func() {
		// tensor.New panics when the engine's Alloc fails.
		if r := recover(); r != nil {
			if rerr, ok := r.(error); ok {
				err = rerr
			} else {
				err = fmt.Errorf("gpu: %v", r)
			}
			t = nil
		}
	}()
	return tensor.New(tensor.WithShape(shape...), tensor.Of(dt), tensor.WithEngine(e)), nil
}

// hostMemory is a block of page-locked host memory: its size, and the
// function that frees it.
type hostMemory struct {
	bytes uint64
	free  func() error
}

// NewHostTensor returns a new host tensor of dtype dt (float32, float64 or
// int32) and shape, zeroed, in page-locked memory (cuda.AllocHost), which
// Upload reads and Download writes at the full speed of the bus.
// ReleaseHost frees it.
func (e *Engine) NewHostTensor(dt tensor.Dtype, shape ...int) (*tensor.Dense, error) {
	n := tensor.Shape(shape).TotalSize()
	switch dt {
	case tensor.Float32:
		return newHostTensor[float32](e, n, shape)
	case tensor.Float64:
		return newHostTensor[float64](e, n, shape)
	case tensor.Int32:
		return newHostTensor[int32](e, n, shape)
	}
	return nil, fmt.Errorf("gpu: host tensor of dtype %v: want float32, float64 or int32", dt)
}

func newHostTensor[T any](e *Engine, n int, shape []int) (*tensor.Dense, error) {
	s, err := cuda.AllocHost[T](e.dev, n)
	if err != nil {
		return nil, fmt.Errorf("gpu: host tensor of shape %v: %w", shape, err)
	}
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(s))
	e.mu.Lock()
	e.hosts[t.Uintptr()] = hostMemory{bytes: uint64(t.MemSize()), free: func() error { return cuda.FreeHost(e.dev, s) }}
	e.mu.Unlock()
	return t, nil
}

// ReleaseHost frees the memory of t, a tensor of NewHostTensor, which must
// not be used again.
func (e *Engine) ReleaseHost(t *tensor.Dense) error {
	if t == nil {
		return fmt.Errorf("gpu: host tensor is nil")
	}
	e.mu.Lock()
	h, ok := e.hosts[t.Uintptr()]
	delete(e.hosts, t.Uintptr())
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("gpu: tensor (shape %v) is not a host tensor of this device", t.Shape())
	}
	return h.free()
}

// HostAllocated returns the bytes of page-locked host memory the engine's
// live host tensors (NewHostTensor) hold.
func (e *Engine) HostAllocated() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	for _, h := range e.hosts {
		n += h.bytes
	}
	return n
}

// Release frees the device memory of t, which must not be used again.
func (e *Engine) Release(t *tensor.Dense) error {
	if err := e.owns(t, "tensor"); err != nil {
		return err
	}
	return e.Free(memory{p: cuda.Ptr(t.Uintptr())}, 0)
}

// Holds reports whether t is a tensor in memory the engine allocated.
func (e *Engine) Holds(t *tensor.Dense) bool {
	if t == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n, ok := e.alloc[cuda.Ptr(t.Uintptr())]
	return ok && uint64(t.Shape().TotalSize())*uint64(t.Dtype().Size()) <= max(n, 4)
}

// owns returns an error unless t is a device tensor of e.
func (e *Engine) owns(t *tensor.Dense, what string) error {
	if t == nil {
		return fmt.Errorf("gpu: %s is nil", what)
	}
	if !e.Holds(t) {
		return fmt.Errorf("gpu: %s (shape %v) is not a tensor of this device", what, t.Shape())
	}
	return nil
}

// ptr returns the device address of t, a device tensor of e with dtype dt.
func (e *Engine) ptr(t *tensor.Dense, dt tensor.Dtype, what string) (cuda.Ptr, error) {
	if err := e.owns(t, what); err != nil {
		return 0, err
	}
	if t.Dtype() != dt {
		return 0, fmt.Errorf("gpu: %s has dtype %v, want %v", what, t.Dtype(), dt)
	}
	return cuda.Ptr(t.Uintptr()), nil
}

// Upload copies src, a []float32, []float64 or []int32 of t's size and
// dtype, into the device tensor t, in the order of the work queued on the
// device; src may change once it returns. From the memory of a host tensor
// of NewHostTensor it does not wait for the work queued before: the copy
// runs alongside it, through a staging buffer of t (see upload.go).
func (e *Engine) Upload(t *tensor.Dense, src any) error {
	switch s := src.(type) {
	case []float32:
		return upload(e, t, s, tensor.Float32)
	case []float64:
		return upload(e, t, s, tensor.Float64)
	case []int32:
		return upload(e, t, s, tensor.Int32)
	}
	return fmt.Errorf("gpu: Upload of %T: want []float32, []float64 or []int32", src)
}

func upload[T any](e *Engine, t *tensor.Dense, src []T, dt tensor.Dtype) error {
	p, err := e.ptr(t, dt, "upload destination")
	if err != nil {
		return err
	}
	if n := t.Shape().TotalSize(); n != len(src) {
		return fmt.Errorf("gpu: Upload of %d values into a tensor of shape %v", len(src), t.Shape())
	}
	if pageLocked(e, src) {
		return stagedUpload(e, p, src)
	}
	return cuda.Upload(e.dev, p, src)
}

// Download copies the device tensor t into dst, a []float32, []float64
// or []int32 of t's size and dtype.
func (e *Engine) Download(dst any, t *tensor.Dense) error {
	switch d := dst.(type) {
	case []float32:
		return download(e, d, t, tensor.Float32)
	case []float64:
		return download(e, d, t, tensor.Float64)
	case []int32:
		return download(e, d, t, tensor.Int32)
	}
	return fmt.Errorf("gpu: Download into %T: want []float32, []float64 or []int32", dst)
}

func download[T any](e *Engine, dst []T, t *tensor.Dense, dt tensor.Dtype) error {
	p, err := e.ptr(t, dt, "download source")
	if err != nil {
		return err
	}
	if n := t.Shape().TotalSize(); n != len(dst) {
		return fmt.Errorf("gpu: Download of a tensor of shape %v into %d values", t.Shape(), len(dst))
	}
	return cuda.Download(e.dev, dst, p)
}

// ToHost returns a new host tensor with the values of the device tensor t.
func (e *Engine) ToHost(t *tensor.Dense) (*tensor.Dense, error) {
	h := tensor.New(tensor.WithShape(t.Shape().Clone()...), tensor.Of(t.Dtype()))
	if err := e.Download(h.Data(), t); err != nil {
		return nil, err
	}
	return h, nil
}

// ToDevice returns a new device tensor with the values of the host tensor h.
func (e *Engine) ToDevice(h *tensor.Dense) (*tensor.Dense, error) {
	t, err := e.NewTensor(h.Dtype(), h.Shape().Clone()...)
	if err != nil {
		return nil, err
	}
	if err := e.Upload(t, h.Data()); err != nil {
		return nil, err
	}
	return t, nil
}

var _ tensor.Engine = (*Engine)(nil)

// sizeof64 is the size in bytes of a float64, for offsets into the sums
// and the saved statistics.
const sizeof64 = uint64(unsafe.Sizeof(float64(0)))
