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

// sum_partials_f32 sets out[i] = Σ_{z<splits} parts[z·n + i], adding the
// slices of a split reduction in a fixed order.
KERNEL void sum_partials_f32(float *out, const float *parts, int splits, int n) {
	GRID_STRIDE(i, n) {
		float s = 0.f;
		for (int z = 0; z < splits; z++) s += parts[(long long)z * n + i];
		out[i] = s;
	}
}
