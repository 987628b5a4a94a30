//go:build !purego

package simd

import "golang.org/x/sys/cpu"

var (
	avx512 = impl{name: "avx512", width: 16,
		relu: reluAVX512, addReLU: addReLUAVX512, reluMask: reluMaskAVX512,
		scaleShift: scaleShiftAVX512, scaleShiftReLU: scaleShiftReLUAVX512,
		stats: statsAVX512, bnSums: bnSumsAVX512, bnSumsMask: bnSumsMaskAVX512,
		bnDx: bnDxAVX512, bnDxMask: bnDxMaskAVX512,
		copyRows: copyRowsAVX512Rows, deinterleaveRows: deinterleaveRowsAVX512Rows,
		winogradInput: winogradInputAVX512, winogradOutput: winogradOutputAVX512,
		filterGradBlock: filterGradBlockAVX512, fastConv: true}
	// avx2 has vector row kernels only: its convolution routines are the
	// Go ones.
	avx2 = impl{name: "avx2", width: 8,
		relu: reluAVX2, addReLU: addReLUAVX2, reluMask: reluMaskAVX2,
		scaleShift: scaleShiftAVX2, scaleShiftReLU: scaleShiftReLUAVX2,
		stats: statsAVX2, bnSums: bnSumsAVX2, bnSumsMask: bnSumsMaskAVX2,
		bnDx: bnDxAVX2, bnDxMask: bnDxMaskAVX2,
		copyRows: copyRowsGo, deinterleaveRows: deinterleaveRowsGo,
		winogradInput: winogradInputGo, winogradOutput: winogradOutputGo,
		filterGradBlock: filterGradBlockGo}
)

// available lists the implementations usable on this CPU, best first. The
// cpu package reports AVX-512 and AVX2 only when the operating system also
// saves the corresponding register state.
func available() []*impl {
	var ks []*impl
	if cpu.X86.HasAVX512F {
		ks = append(ks, &avx512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &avx2)
	}
	return append(ks, &generic)
}
