package graph

import "golang.org/x/sys/cpu"

// dwKernelAVX512 accumulates a 4×6 block of filter-gradient dot products
// in 16 lanes each; it is implemented in dwkernel_amd64.s, and
// dwKernel describes it.
//
//go:noescape
func dwKernelAVX512(n int, dy *float32, ldy int, src *float32, offs *int32, acc *float32)

// dwKernel, if available, adds to acc[(4t+r)·16 + l], for r < 4, t < 6 and
// lanes l < 16, the sum over i < n of dy[r·ldy + 16i + l] ·
// src[offs[t] + 16i + l]. The caller guarantees that every element read
// is inside dy and src.
var dwKernel func(n int, dy []float32, ldy int, src []float32, offs []int32, acc []float32)

func init() {
	if cpu.X86.HasAVX512F {
		dwKernel = func(n int, dy []float32, ldy int, src []float32, offs []int32, acc []float32) {
			_, _, _ = offs[dwTaps-1], acc[dwRows*dwTaps*16-1], dy[(dwRows-1)*ldy+16*n-1]
			for _, o := range offs[:dwTaps] {
				_ = src[int(o)+16*n-1]
			}
			dwKernelAVX512(n, &dy[0], ldy, &src[0], &offs[0], &acc[0])
		}
	}
}
