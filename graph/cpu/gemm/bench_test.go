package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
)

// benchShape is a GEMM shape taken from the convolution layers of a
// CIFAR-10 ResNet: forward (NN), weight gradient (NT) and data gradient
// (TN).
type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

var benchShapes = []benchShape{
	// Forward: C[Cout×HW] = W[Cout×Cin·9]·col[Cin·9×HW].
	{"fwd/16x1024x27", false, false, 16, 1024, 27},
	{"fwd/16x1024x144", false, false, 16, 1024, 144},
	{"fwd/32x256x288", false, false, 32, 256, 288},
	{"fwd/64x64x576", false, false, 64, 64, 576},
	{"fwd/16x16384x144", false, false, 16, 16 * 1024, 144},
	{"fwd/32x16384x288", false, false, 32, 64 * 256, 288},
	{"fwd/64x4096x576", false, false, 64, 64 * 64, 576},
	// Weight gradient: dW[Cout×K] += dY[Cout×HW]·colᵀ.
	{"bwdW/16x144x1024", false, true, 16, 144, 1024},
	{"bwdW/32x288x256", false, true, 32, 288, 256},
	{"bwdW/64x576x64", false, true, 64, 576, 64},
	{"bwdW/16x144x16384", false, true, 16, 144, 16 * 1024},
	{"bwdW/32x288x16384", false, true, 32, 288, 64 * 256},
	{"bwdW/64x576x4096", false, true, 64, 576, 64 * 64},
	// Data gradient: dcol[K×HW] = Wᵀ·dY.
	{"bwdD/144x1024x16", true, false, 144, 1024, 16},
	{"bwdD/288x256x32", true, false, 288, 256, 32},
	{"bwdD/576x64x64", true, false, 576, 64, 64},
	{"bwdD/144x16384x16", true, false, 144, 16 * 1024, 16},
	{"bwdD/288x16384x32", true, false, 288, 64 * 256, 32},
	{"bwdD/576x4096x64", true, false, 576, 64 * 64, 64},
}

// operands allocates random operands for s with tight strides.
func (s benchShape) operands() (a []float32, lda int, b []float32, ldb int, c []float32) {
	rng := rand.New(rand.NewPCG(1, 1))
	lda, ldb = s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	return randSlice(rng, s.m*s.k), lda, randSlice(rng, s.k*s.n), ldb, make([]float32, s.m*s.n)
}

func reportGFLOPS(b *testing.B, s benchShape) {
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm measures Sgemm with every micro-kernel available on this
// CPU.
func BenchmarkSgemm(b *testing.B) {
	for _, kern := range availableKernels() {
		for _, s := range benchShapes {
			b.Run(fmt.Sprintf("%s/%s", kern.name, s.name), func(b *testing.B) {
				a, lda, bm, ldb, c := s.operands()
				saved := activeKernel
				activeKernel = kern
				defer func() { activeKernel = saved }()
				// Warm the buffer pool and finish any garbage collection
				// triggered by allocating the operands, so that the
				// allocation statistics show the steady state.
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				runtime.GC()
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				b.ReportAllocs()
				for b.Loop() {
					Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
				reportGFLOPS(b, s)
			})
		}
	}
}

// BenchmarkGonumSgemm measures gonum's pure-Go Sgemm on the same shapes,
// restricted to one thread (GOMAXPROCS=1) to match Sgemm's contract.
func BenchmarkGonumSgemm(b *testing.B) {
	impl := gonumblas.Implementation{}
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			a, lda, bm, ldb, c := s.operands()
			tA, tB := blas.NoTrans, blas.NoTrans
			if s.transA {
				tA = blas.Trans
			}
			if s.transB {
				tB = blas.Trans
			}
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			b.ReportAllocs()
			for b.Loop() {
				impl.Sgemm(tA, tB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
			}
			reportGFLOPS(b, s)
		})
	}
}
