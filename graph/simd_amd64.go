package graph

import "golang.org/x/sys/cpu"

// The row kernels below are implemented in simd_amd64.s; simdKernel says
// what each computes.

//go:noescape
func reluAVX512(dst, src *float32, n int)

//go:noescape
func addReLUAVX512(dst, a, b *float32, n int)

//go:noescape
func reluMaskAVX512(dst, dy, y *float32, n int)

//go:noescape
func scaleShiftAVX512(dst, src *float32, n int, scale, shift float32)

//go:noescape
func scaleShiftReLUAVX512(dst, src *float32, n int, scale, shift float32)

//go:noescape
func statsAVX512(src *float32, n int, ref float32) (sum, sq float64)

//go:noescape
func bnSumsAVX512(dy, x *float32, n int, mean float32) (a, b float64)

//go:noescape
func bnSumsMaskAVX512(dy, x, y *float32, n int, mean float32) (a, b float64)

//go:noescape
func bnDxAVX512(dst, dy, x *float32, n int, k, a, b float32)

//go:noescape
func bnDxMaskAVX512(dst, dy, x, y *float32, n int, k, a, b float32)

//go:noescape
func reluAVX2(dst, src *float32, n int)

//go:noescape
func addReLUAVX2(dst, a, b *float32, n int)

//go:noescape
func reluMaskAVX2(dst, dy, y *float32, n int)

//go:noescape
func scaleShiftAVX2(dst, src *float32, n int, scale, shift float32)

//go:noescape
func scaleShiftReLUAVX2(dst, src *float32, n int, scale, shift float32)

//go:noescape
func statsAVX2(src *float32, n int, ref float32) (sum, sq float64)

//go:noescape
func bnSumsAVX2(dy, x *float32, n int, mean float32) (a, b float64)

//go:noescape
func bnSumsMaskAVX2(dy, x, y *float32, n int, mean float32) (a, b float64)

//go:noescape
func bnDxAVX2(dst, dy, x *float32, n int, k, a, b float32)

//go:noescape
func bnDxMaskAVX2(dst, dy, x, y *float32, n int, k, a, b float32)

var (
	avx512SIMD = simdKernel{name: "avx512", width: 16,
		relu: reluAVX512, addReLU: addReLUAVX512, reluMask: reluMaskAVX512,
		scaleShift: scaleShiftAVX512, scaleShiftReLU: scaleShiftReLUAVX512,
		stats: statsAVX512, bnSums: bnSumsAVX512, bnSumsMask: bnSumsMaskAVX512,
		bnDx: bnDxAVX512, bnDxMask: bnDxMaskAVX512}
	avx2SIMD = simdKernel{name: "avx2", width: 8,
		relu: reluAVX2, addReLU: addReLUAVX2, reluMask: reluMaskAVX2,
		scaleShift: scaleShiftAVX2, scaleShiftReLU: scaleShiftReLUAVX2,
		stats: statsAVX2, bnSums: bnSumsAVX2, bnSumsMask: bnSumsMaskAVX2,
		bnDx: bnDxAVX2, bnDxMask: bnDxMaskAVX2}
)

// availableSIMD lists the row kernels usable on this CPU, best first. The
// cpu package reports AVX-512 and AVX2 only when the operating system also
// saves the corresponding register state.
func availableSIMD() []*simdKernel {
	var ks []*simdKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, &avx512SIMD)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &avx2SIMD)
	}
	return append(ks, &genericSIMD)
}

// activeSIMD is the set of row kernels the row functions use.
var activeSIMD = availableSIMD()[0]
