// Element-wise kernels: fills, sums, ReLU and its gradient. Launch with
// BLOCK threads and any number of blocks (grid-stride loops); n counts
// elements.
#include "common.cuh"

// fill_f32 sets y[i] = v.
KERNEL void fill_f32(float *y, float v, int n) {
	GRID_STRIDE(i, n) y[i] = v;
}

// add_f32 sets y[i] = a[i] + b[i]; y may be a or b (Gorgonia's gradient
// sums add in place).
KERNEL void add_f32(float *y, const float *a, const float *b, int n) {
	GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

// relu_f32 sets y[i] = max(x[i], 0).
KERNEL void relu_f32(float *y, const float *x, int n) {
	GRID_STRIDE(i, n) y[i] = fmaxf(x[i], 0.f);
}

// add_relu_f32 sets y[i] = max(a[i] + b[i], 0): the end of a residual block.
KERNEL void add_relu_f32(float *y, const float *a, const float *b, int n) {
	GRID_STRIDE(i, n) y[i] = fmaxf(a[i] + b[i], 0.f);
}

// relu_backward_f32 sets dx[i] = dy[i] where y[i] > 0, else 0, y being the
// output of the ReLU.
KERNEL void relu_backward_f32(float *dx, const float *y, const float *dy, int n) {
	GRID_STRIDE(i, n) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}

// SUM_ROWS is the number of thread rows of a sum_partials_f32 block: a
// block adds BLOCK/SUM_ROWS outputs, each row summing every SUM_ROWS-th
// slice, so that a long sum is SUM_ROWS short ones running at once.
#define SUM_ROWS 8

// sum_partials_f32 sets out[i] = Σ_{z<splits} parts[z·n + i], adding the
// slices of a split reduction in a fixed order: row r of the block sums
// slices r, r + SUM_ROWS, …, then the rows' sums are added (group_sum).
// Any grid works (a grid-stride loop over groups of BLOCK/SUM_ROWS
// outputs); ⌈n/(BLOCK/SUM_ROWS)⌉ blocks give each block one group.
KERNEL void sum_partials_f32(float *out, const float *parts, int splits, int n) {
	constexpr int COLS = BLOCK / SUM_ROWS;
	__shared__ float sh[SUM_ROWS * COLS];
	int col = threadIdx.x % COLS, row = threadIdx.x / COLS;
	for (int i0 = blockIdx.x * COLS; i0 < n; i0 += gridDim.x * COLS) {
		int i = i0 + col;
		float s = 0.f;
		if (i < n)
			for (int z = row; z < splits; z += SUM_ROWS) s += parts[(long long)z * n + i];
		float t = group_sum<SUM_ROWS, COLS>(s, row, col, sh);
		if (row == 0 && i < n) out[i] = t;
	}
}
