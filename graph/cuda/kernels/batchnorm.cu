// Spatial batch normalisation of NCHW tensors, per channel, with explicit
// running statistics (PyTorch's conventions: the batch variance is biased
// for normalising, unbiased for the running variance;
// running = (1 - momentum)·running + momentum·batch).
//
// The batch statistics a training forward pass computes (mean, invstd =
// 1/sqrt(var + eps)) are kept in double, C values each, and read by the
// backward kernels. The per-channel sums over the N·HW values of a channel
// take two kernels, so that a large batch occupies the whole GPU: a
// partial kernel on the grid (C, S) whose block (c, s) sums slice s of
// channel c (slice_of) into part[2(c·S + s)] and part[2(c·S + s) + 1],
// and a finishing kernel, one thread per channel (launch Grid1(C)), that
// adds the S partial sums in order. The element-wise kernels run a block
// per plane (image n, channel c) of the tensor, so that the channel is
// known without a division per element.
#include "common.cuh"

// PLANE_LOOP loops j over [0, HW), the positions of plane blockIdx.x
// (image blockIdx.x / C, channel blockIdx.x mod C), across the gridDim.y
// blocks of the plane: launch on the grid (N·C, ⌈HW/BLOCK⌉), y at most
// 65535.
#define PLANE_LOOP(j, HW) \
	for (int j = blockIdx.y * BLOCK + threadIdx.x; j < (HW); j += BLOCK * gridDim.y)

// ChannelWalk follows the values i, i + BLOCK, i + 2·BLOCK, … of a
// channel c's N·HW values (value i = n·HW + j is position j of image n),
// keeping n and j so that the value's index (n·C + c)·HW + j in the
// N×C×HW tensor takes no division.
struct ChannelWalk {
	int n, j, dn, dj, HW;
	__device__ ChannelWalk(int i, int hw) : HW(hw) {
		n = i / HW, j = i - n * HW;
		dn = BLOCK / HW, dj = BLOCK - dn * HW;
	}
	// at returns the index of the current value in the tensor.
	__device__ int at(int C, int c) const { return (n * C + c) * HW + j; }
	// next moves on by BLOCK values.
	__device__ void next() {
		n += dn, j += dj;
		if (j >= HW) j -= HW, n++;
	}
};

// store_partial writes the sums a and b of its block, from thread 0, as
// the partial sums of the block's channel and slice.
__device__ void store_partial(double *part, double a, double b) {
	if (threadIdx.x == 0) {
		long long j = 2 * ((long long)blockIdx.x * gridDim.y + blockIdx.y);
		part[j] = a;
		part[j + 1] = b;
	}
}

// add_partials sets *a and *b to the sums, in slice order, of the S
// partial sums of channel c.
__device__ void add_partials(const double *part, int c, int S, double *a, double *b) {
	*a = 0, *b = 0;
	for (int s = 0; s < S; s++) {
		*a += part[2 * ((long long)c * S + s)];
		*b += part[2 * ((long long)c * S + s) + 1];
	}
}

// bn_stats_partial_f32 sums d = x - ref and d² over its slice of channel
// c of x (N×C×HW), ref being the channel's first value, which keeps
// Σd² - (Σd)²/m well conditioned.
KERNEL void bn_stats_partial_f32(double *part, const float *x, int N, int C, int HW) {
	__shared__ double sh[BLOCK];
	int c = blockIdx.x, lo, hi;
	slice_of(N * HW, 1, gridDim.y, blockIdx.y, &lo, &hi);
	double ref = x[(long long)c * HW];
	double s = 0, sq = 0;
	ChannelWalk w(lo + threadIdx.x, HW);
	for (int i = lo + threadIdx.x; i < hi; i += BLOCK, w.next()) {
		double d = x[w.at(C, c)] - ref;
		s += d;
		sq += d * d;
	}
	double sum = block_sum(s, sh);
	store_partial(part, sum, block_sum(sq, sh));
}

// bn_stats_finish_f32 computes the batch mean and invstd of each channel
// from the S partial sums of bn_stats_partial_f32 and updates the running
// statistics run_mean and run_var in place.
KERNEL void bn_stats_finish_f32(double *mean, double *invstd, float *run_mean, float *run_var,
		const double *part, const float *x, int N, int C, int HW, int S, double momentum, double eps) {
	GRID_STRIDE(c, C) {
		double sum, sumsq;
		add_partials(part, c, S, &sum, &sumsq);
		double ref = x[(long long)c * HW];
		double m = (double)N * HW;
		double mu = ref + sum / m;
		double ss = fmax(0.0, sumsq - sum * sum / m);
		double var = ss / m;
		mean[c] = mu;
		invstd[c] = 1 / sqrt(var + eps);
		double unbiased = m > 1 ? ss / (m - 1) : var;
		run_mean[c] = (float)((1 - momentum) * (double)run_mean[c] + momentum * mu);
		run_var[c] = (float)((1 - momentum) * (double)run_var[c] + momentum * unbiased);
	}
}

// bn_eval_stats_f32 sets mean and invstd from the running statistics, for
// evaluation mode. One thread per channel: launch Grid1(C).
KERNEL void bn_eval_stats_f32(double *mean, double *invstd, const float *run_mean,
		const float *run_var, int C, double eps) {
	GRID_STRIDE(c, C) {
		mean[c] = run_mean[c];
		invstd[c] = 1 / sqrt((double)run_var[c] + eps);
	}
}

// bn_apply_f32 normalises x (N×C×HW) into y: y = x·scale + shift with
// scale = γ·invstd and shift = β - mean·γ·invstd (rounded to float, as
// the CPU does), then max(·, 0) when relu ≠ 0. Launch on the planes'
// grid (PLANE_LOOP).
KERNEL void bn_apply_f32(float *y, const float *x, const float *gamma, const float *beta,
		const double *mean, const double *invstd, int C, int HW, int relu) {
	int c = blockIdx.x % C, base = blockIdx.x * HW;
	double k = (double)gamma[c] * invstd[c];
	float scale = (float)k;
	float shift = (float)((double)beta[c] - mean[c] * k);
	PLANE_LOOP(j, HW) {
		float v = x[base + j] * scale + shift;
		y[base + j] = relu ? fmaxf(v, 0.f) : v;
	}
}

// bn_backward_sums_partial_f32 sums dy and dy·(x - mean) over its slice
// of channel c. When y is not null (batch norm fused with ReLU, y its
// output), dy counts only where y > 0.
KERNEL void bn_backward_sums_partial_f32(double *part, const float *x, const float *dy, const float *y,
		const double *mean, int N, int C, int HW) {
	__shared__ double sh[BLOCK];
	int c = blockIdx.x, lo, hi;
	slice_of(N * HW, 1, gridDim.y, blockIdx.y, &lo, &hi);
	double mu = mean[c];
	double a = 0, b = 0;
	ChannelWalk w(lo + threadIdx.x, HW);
	for (int i = lo + threadIdx.x; i < hi; i += BLOCK, w.next()) {
		int j = w.at(C, c);
		if (y && !(y[j] > 0.f)) continue;
		a += dy[j];
		b += dy[j] * (x[j] - mu);
	}
	double sa = block_sum(a, sh);
	store_partial(part, sa, block_sum(b, sh));
}

// bn_backward_sums_finish_f32 computes per channel sum_dy = Σ dy and
// sum_dy_xhat = Σ dy·x̂, x̂ = (x - mean)·invstd, from the S partial sums of
// bn_backward_sums_partial_f32, and writes them, rounded to float, to the
// gradients of β (Σ dy) and γ (Σ dy·x̂), either of which may be null.
KERNEL void bn_backward_sums_finish_f32(double *sum_dy, double *sum_dy_xhat, float *dgamma, float *dbeta,
		const double *part, const double *invstd, int C, int S) {
	GRID_STRIDE(c, C) {
		double a, b;
		add_partials(part, c, S, &a, &b);
		b *= invstd[c];
		sum_dy[c] = a;
		sum_dy_xhat[c] = b;
		if (dgamma) dgamma[c] = (float)b;
		if (dbeta) dbeta[c] = (float)a;
	}
}

// bn_backward_data_f32 computes dx = γ·invstd·(dy - Σdy/M - x̂·Σdy·x̂/M)
// (M = N·HW values per channel), arranged like the CPU as
// dx = k·dy + a·x + b with per-channel constants. When y is not null, dy
// is taken as 0 where y ≤ 0 (batch norm fused with ReLU). Launch on the
// planes' grid (PLANE_LOOP).
KERNEL void bn_backward_data_f32(float *dx, const float *x, const float *dy, const float *y,
		const float *gamma, const double *mean, const double *invstd, const double *sum_dy,
		const double *sum_dy_xhat, int N, int C, int HW) {
	int c = blockIdx.x % C, base = blockIdx.x * HW;
	double m = (double)N * HW;
	double k = (double)gamma[c] * invstd[c];
	double a = -k * invstd[c] * sum_dy_xhat[c] / m;
	double b = -k * sum_dy[c] / m - a * mean[c];
	float kf = (float)k, af = (float)a, bf = (float)b;
	PLANE_LOOP(j, HW) {
		int i = base + j;
		float d = (y && !(y[i] > 0.f)) ? 0.f : dy[i];
		dx[i] = kf * d + af * x[i] + bf;
	}
}

// bn_fold_f32 folds evaluation-mode batch norm into the K×CRR filter w of
// the convolution before it: wf(k, q) = w(k, q)·s_k and bias_k = β_k -
// mean_k·s_k, with s_k = γ_k/sqrt(run_var_k + eps). Launch
// Grid1(K·CRR).
KERNEL void bn_fold_f32(float *wf, float *bias, const float *w, const float *gamma,
		const float *beta, const float *run_mean, const float *run_var, int K, int CRR, double eps) {
	GRID_STRIDE(i, K * CRR) {
		int k = i / CRR;
		double s = (double)gamma[k] / sqrt((double)run_var[k] + eps);
		wf[i] = (float)((double)w[i] * s);
		if (i % CRR == 0) bias[k] = (float)((double)beta[k] - (double)run_mean[k] * s);
	}
}
