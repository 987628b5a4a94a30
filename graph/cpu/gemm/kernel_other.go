//go:build !amd64 || purego

package gemm

// activeKernel is the micro-kernel used by Sgemm.
var activeKernel = &genericKernel

// availableKernels lists the micro-kernels usable on this CPU, best first:
// without assembly, only the portable one.
func availableKernels() []*kernel { return []*kernel{&genericKernel} }
