package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkExpLdb(b *testing.B) {
	for _, s := range []benchShape{{"fwd", false, false, 32, 16384, 288}, {"fwd", false, false, 16, 16384, 144}, {"fwd", false, false, 64, 4096, 576}} {
		for _, pad := range []int{0, 16, 64} {
			b.Run(fmt.Sprintf("%dx%dx%d/pad%d", s.m, s.n, s.k, pad), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				ldb := s.n + pad
				a, bm, c := randSlice(rng, s.m*s.k), randSlice(rng, s.k*ldb), make([]float32, s.m*s.n)
				for b.Loop() {
					Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bm, ldb, 0, c, s.n)
				}
				reportGFLOPS(b, s)
			})
		}
	}
}

func BenchmarkExpKernel(b *testing.B) {
	for _, k := range []int{16, 64, 256} {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			a := make([]float32, 8*k)
			bb := make([]float32, 32*k)
			c := make([]float32, 8*32)
			for b.Loop() {
				kernelAVX512(k, &a[0], &bb[0], 32, &c[0], 32, 1, 1)
			}
			b.ReportMetric(2*8*32*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkExpTranspose(b *testing.B) {
	for _, ld := range []int{256, 1024, 1040, 16384} {
		b.Run(fmt.Sprint(ld), func(b *testing.B) {
			src := make([]float32, 16*ld)
			dst := make([]float32, 256*32)
			for b.Loop() {
				transpose16(&dst[0], 32, &src[0], ld, 16)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16, "ns/blk")
		})
	}
}
