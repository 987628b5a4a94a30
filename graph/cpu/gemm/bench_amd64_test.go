//go:build !purego

package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkMicroKernel measures the AVX-512 micro-kernel alone on operands
// that stay in the L1 cache, which approximates the attainable peak.
func BenchmarkMicroKernel(b *testing.B) {
	if availableKernels()[0] != &avx512Kernel {
		b.Skip("AVX-512 is not available")
	}
	for _, k := range []int{16, 64, 256} {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			a := make([]float32, 8*k)
			bb := make([]float32, 32*k)
			c := make([]float32, 8*32)
			for b.Loop() {
				kernelAVX512(k, &a[0], 8, &bb[0], 32, &c[0], 32, 1, 1)
			}
			b.ReportMetric(2*8*32*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
