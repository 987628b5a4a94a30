//go:build !amd64

package gemm

// activeKernel is the micro-kernel used by Sgemm.
var activeKernel = &genericKernel

// availableKernels lists the micro-kernels usable on this CPU, best first.
func availableKernels() []*kernel { return []*kernel{&genericKernel} }
