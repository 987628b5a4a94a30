// Softmax cross-entropy (and the distillation divergence) over N×K logits
// and N×K target rows, with temperature t, and the label-smoothed targets.
#include "common.cuh"

// log_sum_exp returns log Σ_j exp(row[j]/t) without overflow.
__device__ double log_sum_exp(const float *row, int K, double t) {
	double m = -INFINITY;
	for (int j = 0; j < K; j++) m = fmax(m, row[j] / t);
	double s = 0;
	for (int j = 0; j < K; j++) s += exp(row[j] / t - m);
	return m + log(s);
}

// xent_forward_f32 sets loss[0] (a double) = t²/N · Σ_n Σ_j -target·(logit/t - lse),
// minus, when kl ≠ 0, the targets' own entropy term Σ target·log(target/S)
// (S the row sum of the targets), which makes it the KL divergence of
// SoftmaxKLDivergence. Zero targets contribute nothing. Launch one block
// of BLOCK threads: grid (1).
KERNEL void xent_forward_f32(double *loss, const float *logits, const float *targets,
		int N, int K, double t, int kl) {
	__shared__ double sh[BLOCK];
	double total = 0;
	for (int r = threadIdx.x; r < N; r += BLOCK) {
		const float *row = logits + (long long)r * K, *tg = targets + (long long)r * K;
		double lse = log_sum_exp(row, K, t);
		double sum = 0;
		if (kl)
			for (int j = 0; j < K; j++) sum += tg[j];
		for (int j = 0; j < K; j++) {
			if (tg[j] == 0.f) continue;
			total -= (double)tg[j] * (row[j] / t - lse);
			if (kl) total += (double)tg[j] * log(tg[j] / sum);
		}
	}
	double s = block_sum(total, sh);
	if (threadIdx.x == 0) loss[0] = t * t * s / N;
}

// xent_backward_f32 sets d = g·t/N · (S·softmax(logits/t) - targets) row by
// row, S being the row sum of the targets and g the gradient of the
// loss. One thread per row: launch Grid1(N).
KERNEL void xent_backward_f32(float *d, const float *logits, const float *targets,
		double g, int N, int K, double t) {
	double scale = g * t / N;
	GRID_STRIDE(r, N) {
		const float *row = logits + (long long)r * K, *tg = targets + (long long)r * K;
		float *out = d + (long long)r * K;
		double lse = log_sum_exp(row, K, t);
		double sum = 0;
		for (int j = 0; j < K; j++) sum += tg[j];
		for (int j = 0; j < K; j++) out[j] = (float)(scale * (sum * exp(row[j] / t - lse) - tg[j]));
	}
}

// smooth_labels_f32 writes the N×K targets for labels with label smoothing
// eps: eps/K on every class plus 1 - eps on the true one (rounded like the
// CPU's SmoothLabels). Launch Grid1(N·K).
KERNEL void smooth_labels_f32(float *dst, const int *labels, int N, int K, double eps) {
	float off = (float)(eps / K);
	float on = (float)(1 - eps) + off;
	GRID_STRIDE(i, N * K) dst[i] = labels[i / K] == i % K ? on : off;
}
