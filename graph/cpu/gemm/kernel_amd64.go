//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// The assembly routines below are implemented in kernel_amd64.s and
// transpose_amd64.s.

// kernelAVX512 is the 8×32 AVX-512 micro-kernel; see microKernel.
//
//go:noescape
func kernelAVX512(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)

// kernelAVX512Pack is kernelAVX512 that also copies the k×32 panel of B
// it reads to bpack; see kernel.fnPack.
//
//go:noescape
func kernelAVX512Pack(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, bpack *float32)

// kernelAVX2 is the 6×16 AVX2+FMA micro-kernel; see microKernel.
//
//go:noescape
func kernelAVX2(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)

// kernelAVX2Pack is kernelAVX2 that also copies the k×16 panel of B it
// reads to bpack; see kernel.fnPack.
//
//go:noescape
func kernelAVX2Pack(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, bpack *float32)

// transpose16 transposes nblk 16×16 blocks with AVX-512; see
// kernel.transpose.
//
//go:noescape
func transpose16(dst *float32, dstride int, src *float32, ldsrc int, nblk int)

// transpose16Split is transpose16 that writes rows 8..15 of each column to
// dst2; see kernel.transpose.
//
//go:noescape
func transpose16Split(dst *float32, dstride int, src *float32, ldsrc int, nblk int, dst2 *float32)

// transposeAVX512 implements kernel.transpose.
func transposeAVX512(dst *float32, dstride int, src *float32, ldsrc int, nblk int, dst2 *float32) {
	if dst2 == nil {
		transpose16(dst, dstride, src, ldsrc, nblk)
	} else {
		transpose16Split(dst, dstride, src, ldsrc, nblk, dst2)
	}
}

var (
	avx512Kernel = kernel{name: "avx512-8x32", mr: 8, nr: 32, fn: kernelAVX512,
		fnPack: kernelAVX512Pack, transpose: transposeAVX512, gather: gather32}
	avx2Kernel = kernel{name: "avx2-6x16", mr: 6, nr: 16, fn: kernelAVX2,
		fnPack: kernelAVX2Pack, gather: gather16}
)

// availableKernels lists the micro-kernels usable on this CPU, best first.
// The cpu package reports AVX-512 and AVX2 only when the operating system
// also saves the corresponding register state.
func availableKernels() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, &avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &avx2Kernel)
	}
	return append(ks, &genericKernel)
}

// activeKernel is the micro-kernel used by Sgemm.
var activeKernel = availableKernels()[0]
