// Global average pooling over the H·W positions of each channel.
#include "common.cuh"

// GAP_ROW is the number of threads that sum one row in gap_forward_f32,
// neighbouring threads reading neighbouring values: a block sums
// BLOCK/GAP_ROW rows.
#define GAP_ROW 32

// gap_forward_f32 sets y[r] = mean of x[r·hw .. (r+1)·hw) for each of the
// rows r. Each row's GAP_ROW threads sum every GAP_ROW-th value, then their
// sums are added (group_sum). Any grid works (a grid-stride loop over
// groups of BLOCK/GAP_ROW rows); ⌈rows/(BLOCK/GAP_ROW)⌉ blocks give each
// block one group.
KERNEL void gap_forward_f32(float *y, const float *x, int rows, int hw) {
	constexpr int R = BLOCK / GAP_ROW;
	__shared__ double sh[GAP_ROW * R];
	int lane = threadIdx.x % GAP_ROW, rr = threadIdx.x / GAP_ROW;
	for (int r0 = blockIdx.x * R; r0 < rows; r0 += gridDim.x * R) {
		int r = r0 + rr;
		float s = 0.f;
		if (r < rows) {
			const float *row = x + (long long)r * hw;
			for (int j = lane; j < hw; j += GAP_ROW) s += row[j];
		}
		double t = group_sum<GAP_ROW, R>((double)s, lane, rr, sh);
		if (lane == 0 && r < rows) y[r] = (float)(t / hw);
	}
}

// gap_backward_f32 spreads the N·C gradients dy evenly over the positions:
// dx[i] = dy[i / hw] / hw for i < n = N·C·hw.
KERNEL void gap_backward_f32(float *dx, const float *dy, int hw, int n) {
	GRID_STRIDE(i, n) dx[i] = dy[i / hw] / (float)hw;
}
