package cuda

import (
	"fmt"
	"unsafe"
)

// Ptr is a device memory address (CUdeviceptr). The zero Ptr is no memory.
type Ptr uint64

// Add returns p advanced by n bytes.
func (p Ptr) Add(n uint64) Ptr { return p + Ptr(n) }

// Alloc allocates bytes of device memory. The memory is not initialised.
// Running out of device memory gives an error wrapping
// ErrorOutOfMemory.
func (dev *Device) Alloc(bytes uint64) (Ptr, error) {
	if bytes == 0 {
		return 0, fmt.Errorf("cuda: cuMemAlloc_v2: zero-byte allocation")
	}
	var p Ptr
	err := dev.call("cuMemAlloc_v2", fmt.Sprintf("%d bytes", bytes), func() Result { return dev.d.cuMemAlloc_v2(&p, bytes) })
	return p, err
}

// Free releases memory returned by Alloc. Freeing the zero Ptr does
// nothing.
func (dev *Device) Free(p Ptr) error {
	if p == 0 {
		return nil
	}
	return dev.call("cuMemFree_v2", "", func() Result { return dev.d.cuMemFree_v2(p) })
}

// sizeOf is the size in bytes of n elements of T.
func sizeOf[T any](n int) uint64 {
	var z T
	return uint64(n) * uint64(unsafe.Sizeof(z))
}

// AllocHost returns n zeroed elements of page-locked host memory, which
// the GPU reads and writes directly: Upload from it and Download into it
// run at the full speed of the bus, while a copy from ordinary (pageable)
// memory goes through a staging buffer of the driver. The memory is not
// Go's: FreeHost releases it, and the slice must not be used after that.
// T must hold no pointers.
func AllocHost[T any](dev *Device, n int) ([]T, error) {
	if n <= 0 {
		return nil, fmt.Errorf("cuda: cuMemAllocHost_v2: %d elements", n)
	}
	bytes := sizeOf[T](n)
	var p unsafe.Pointer
	err := dev.call("cuMemAllocHost_v2", fmt.Sprintf("%d bytes", bytes), func() Result { return dev.d.cuMemAllocHost_v2(&p, bytes) })
	if err != nil {
		return nil, err
	}
	s := unsafe.Slice((*T)(p), n)
	clear(s)
	return s, nil
}

// FreeHost releases memory returned by AllocHost. Freeing an empty slice
// does nothing.
func FreeHost[T any](dev *Device, s []T) error {
	if len(s) == 0 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	return dev.call("cuMemFreeHost", "", func() Result { return dev.d.cuMemFreeHost(p) })
}

// Upload copies src from host memory to device memory at dst, which must
// hold len(src) elements. It returns when the copy is done. Elements are
// copied as they lie in memory, so T must hold no pointers.
func Upload[T any](dev *Device, dst Ptr, src []T) error {
	if len(src) == 0 {
		return nil
	}
	n := sizeOf[T](len(src))
	return dev.call("cuMemcpyHtoD_v2", fmt.Sprintf("%d bytes", n), func() Result {
		return dev.d.cuMemcpyHtoD_v2(dst, unsafe.Pointer(unsafe.SliceData(src)), n)
	})
}

// UploadAsync queues on s (nil: the legacy default stream) a copy of src
// from host memory to device memory at dst, which must hold len(src)
// elements, and returns without waiting for it when src is page-locked
// memory (AllocHost): src must then stay unchanged until the copy is done,
// which an Event recorded after it tells. From ordinary memory the driver
// copies src before returning.
func UploadAsync[T any](s *Stream, dev *Device, dst Ptr, src []T) error {
	if len(src) == 0 {
		return nil
	}
	n := sizeOf[T](len(src))
	return dev.call("cuMemcpyHtoDAsync_v2", fmt.Sprintf("%d bytes", n), func() Result {
		return dev.d.cuMemcpyHtoDAsync_v2(dst, unsafe.Pointer(unsafe.SliceData(src)), n, s.handle())
	})
}

// Download copies len(dst) elements from device memory at src to dst. It
// waits for the work queued before it on the legacy default stream, and so
// on every blocking stream (NewStream), but not on a non-blocking one.
func Download[T any](dev *Device, dst []T, src Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	n := sizeOf[T](len(dst))
	return dev.call("cuMemcpyDtoH_v2", fmt.Sprintf("%d bytes", n), func() Result {
		return dev.d.cuMemcpyDtoH_v2(unsafe.Pointer(unsafe.SliceData(dst)), src, n)
	})
}

// Copy copies bytes from device memory at src to device memory at dst. The
// ranges must not overlap.
func (dev *Device) Copy(dst, src Ptr, bytes uint64) error {
	if bytes == 0 {
		return nil
	}
	return dev.call("cuMemcpyDtoD_v2", fmt.Sprintf("%d bytes", bytes), func() Result { return dev.d.cuMemcpyDtoD_v2(dst, src, bytes) })
}

// Fill32 sets n 32-bit words at dst to the bit pattern value (for a
// float32 fill, math.Float32bits of it; 0 for zeroing).
func (dev *Device) Fill32(dst Ptr, value uint32, n uint64) error {
	if n == 0 {
		return nil
	}
	return dev.call("cuMemsetD32_v2", fmt.Sprintf("%d words", n), func() Result { return dev.d.cuMemsetD32_v2(dst, value, n) })
}
