package cpu

import "github.com/cifar-resnet/trainer/graph/cpu/gemm"

// matmul computes C = op(A)·op(B) + beta·C for row-major matrices, using
// the float32 or float64 kernel of package gemm.
func matmul[T float](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		gemm.Sgemm(transA, transB, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		gemm.Dgemm(transA, transB, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}
