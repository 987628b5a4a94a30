// Global average pooling over the H·W positions of each channel.
#include "common.cuh"

// gap_forward_f32 sets y[r] = mean of x[r·hw .. (r+1)·hw) for each of the
// N·C rows r. Launch one block of BLOCK threads per row: grid (N·C).
KERNEL void gap_forward_f32(float *y, const float *x, int hw) {
	__shared__ double sh[BLOCK];
	const float *row = x + (long long)blockIdx.x * hw;
	float s = 0.f;
	for (int j = threadIdx.x; j < hw; j += BLOCK) s += row[j];
	double total = block_sum(s, sh);
	if (threadIdx.x == 0) y[blockIdx.x] = (float)(total / hw);
}

// gap_backward_f32 spreads the N·C gradients dy evenly over the positions:
// dx[i] = dy[i / hw] / hw for i < n = N·C·hw.
KERNEL void gap_backward_f32(float *dx, const float *dy, int hw, int n) {
	GRID_STRIDE(i, n) dx[i] = dy[i / hw] / (float)hw;
}
