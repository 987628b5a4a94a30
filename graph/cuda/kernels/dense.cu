// Matrix products of the dense layer: y = x·wᵀ + b and its gradients.
#include "common.cuh"

// sgemm_f32 computes C = alpha·op(A)·op(B) + beta·C for row-major
// matrices, op(A) being M×K and op(B) K×N: A is M×K (lda ≥ K), or K×M when
// transA (lda ≥ M); B is K×N (ldb ≥ N), or N×K when transB (ldb ≥ K). With
// beta = 0, C is not read. It uses the 64×64 tiles of gemm_tiles (the
// dense layer is small): launch BLOCK threads per block on the grid
// (⌈N/64⌉, ⌈M/64⌉).
KERNEL void sgemm_f32(int transA, int transB, int M, int N, int K, float alpha,
		const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
	gemm_tiles<64>(M, N, 0, K,
		[](int q) { return q; },
		[=](int i, int q, int) { return transA ? A[(long long)q * lda + i] : A[(long long)i * lda + q]; },
		[=](int j) {
			return [=](int q, int) { return transB ? B[(long long)j * ldb + q] : B[(long long)q * ldb + j]; };
		},
		[=](int i, int j, float acc) {
			float *c = C + (long long)i * ldc + j;
			*c = beta == 0.f ? alpha * acc : alpha * acc + beta * *c;
		});
}

// broadcast_rows_f32 sets each of the rows of the rows×cols matrix y to b
// (the bias before the dense layer's product is added to it).
KERNEL void broadcast_rows_f32(float *y, const float *b, int rows, int cols) {
	GRID_STRIDE(i, rows * cols) y[i] = b[i % cols];
}

// sum_rows_f32 sets out[j] = Σ_r x[r·cols + j], the column sums of the
// rows×cols matrix x (the dense layer's bias gradient). One thread per
// column: launch Grid1(cols).
KERNEL void sum_rows_f32(float *out, const float *x, int rows, int cols) {
	GRID_STRIDE(j, cols) {
		float s = 0.f;
		for (int r = 0; r < rows; r++) s += x[(long long)r * cols + j];
		out[j] = s;
	}
}
