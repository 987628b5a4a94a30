// Package cuda binds the part of the NVIDIA CUDA driver API that the
// trainer's GPU backend needs: device selection, device memory, modules of
// compiled kernels and kernel launches.
//
// It needs neither cgo nor the CUDA toolkit. The driver library
// (libcuda.so.1, installed with every NVIDIA driver) is opened at run time
// with purego the first time a function of this package needs it, so a
// program built with CGO_ENABLED=0 runs everywhere and only fails, with an
// error that names what is missing, when a GPU is asked for on a machine
// without one.
//
// Every call uses the device's primary context and makes it current on the
// calling OS thread first (cuCtxSetCurrent), with the goroutine locked to
// that thread for the duration of the call: goroutines move between
// threads, and a CUDA context is a per-thread setting.
//
// Errors name the failing driver function, its main argument where it
// helps, and the CUDA error, e.g.
//
//	cuda: cuMemAlloc_v2 (12345678 bytes): CUDA_ERROR_OUT_OF_MEMORY: out of memory
//
// An error from a driver call wraps a Result, so callers can test for a
// particular CUDA error with errors.Is (e.g. errors.Is(err,
// cuda.ErrorOutOfMemory)).
package cuda
