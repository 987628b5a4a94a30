package backend

import "gorgonia.org/tensor"

// Device is implemented by a backend whose tensors live outside host
// memory, such as on a GPU. The operations of package graph allocate their
// outputs and the batch norm statistics with it, and use a tensor the
// machine preallocates only when Holds says it is one of the device's.
// Backends without it (the CPU's) take ordinary host tensors.
type Device interface {
	// NewTensor returns a new tensor of the device, its contents
	// undefined. Running out of device memory is an error.
	NewTensor(dt tensor.Dtype, shape ...int) (*tensor.Dense, error)
	// NewHostTensor returns a new tensor in host memory, zeroed, that
	// Upload copies from and Download to faster than from ordinary
	// memory (page-locked memory, for a GPU). ReleaseHost frees it.
	NewHostTensor(dt tensor.Dtype, shape ...int) (*tensor.Dense, error)
	// ReleaseHost frees the memory of t, a tensor of NewHostTensor, which
	// must not be used again.
	ReleaseHost(t *tensor.Dense) error
	// Holds reports whether t's memory is memory of the device.
	Holds(t *tensor.Dense) bool
	// Upload copies src, a []float32 or []float64 of t's size and dtype,
	// into the device tensor t.
	Upload(t *tensor.Dense, src any) error
	// Release frees the memory of the device tensor t, which must not be
	// used again.
	Release(t *tensor.Dense) error
	// Download copies the device tensor t into dst, a []float32 or
	// []float64 of t's size and dtype.
	Download(dst any, t *tensor.Dense) error
	// TensorEngine is the engine of the device's tensors, which a
	// gorgonia.TapeMachine running a graph on the device must be made with
	// (gorgonia.WithEngine): the machine stamps its engine on every value.
	TensorEngine() tensor.Engine
}
