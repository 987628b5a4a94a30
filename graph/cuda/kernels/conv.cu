// 2-D convolution without bias over NCHW images with a K×C×R×R filter
// (square kernel, equal stride and zero padding on both axes): the
// forward pass, the gradient with respect to the input and the one with
// respect to the filter, all as implicit matrix products (gemm_tiles) that
// gather the image patches on the fly.
//
// Each is compiled for the three tile shapes of gemm_tiles, as the kernels
// <name>_m16_f32, <name>_m32_f32 and <name>_m64_f32 (TM = 16, 32, 64 rows
// by TN = TILE_AREA/TM columns); the rows of the product are channels, and
// the Go side launches the smallest TM that holds them (64 above 32
// channels), on the grid computed from that TM and TN.
//
// The geometry is passed as ten ints, in this order: N, C, H, W (input),
// K, R (output channels, kernel size), S, P (stride, padding), OH, OW
// (output size, (H + 2P - R)/S + 1 and the same for W).
#include "common.cuh"

#define GEOM int N, int C, int H, int W, int K, int R, int S, int P, int OH, int OW
#define GEOM_ARGS N, C, H, W, K, R, S, P, OH, OW

// Geom is a convolution's geometry with the divisions its index
// arithmetic needs, made once by each thread.
struct Geom {
	int N, C, H, W, K, R, S, P, OH, OW;
	Div dR, dRR, dS, dW, dHW, dOW, dOHW;
	__device__ Geom(GEOM)
		: N(N), C(C), H(H), W(W), K(K), R(R), S(S), P(P), OH(OH), OW(OW), dR(R), dRR(R * R), dS(S), dW(W),
		  dHW(H * W), dOW(OW), dOHW(OH * OW) {}

	// patch returns x̂(q, p), the element of the (virtual) patch matrix
	// of the input x: q = (c·R + ki)·R + kj indexes a filter tap, p =
	// (n·OH + oy)·OW + ox an output position; 0 in the padding.
	__device__ float patch(const float *x, int q, int p) const {
		int c = dRR.div(q), t = q - c * R * R;
		int ki = dR.div(t), kj = t - ki * R;
		int n = dOHW.div(p), o = p - n * OH * OW;
		int oy = dOW.div(o), ox = o - oy * OW;
		int iy = oy * S - P + ki, ix = ox * S - P + kj;
		if (iy < 0 || iy >= H || ix < 0 || ix >= W) return 0.f;
		return x[(((long long)n * C + c) * H + iy) * W + ix];
	}
};

// conv_forward_m*_f32 computes y = conv(x, w), then, each optional, adds
// bias[k] to output channel k, adds skip (same shape as y) and applies
// max(·, 0) when relu ≠ 0. bias and skip are null when unused. As a
// matrix product: y(k, p) = Σ_q w(k, q)·x̂(q, p), K × N·OH·OW with
// C·R·R terms. Launch BLOCK threads on the grid (⌈N·OH·OW/TN⌉, ⌈K/TM⌉).
// The evaluation-mode convolution with batch norm folded in is this
// kernel with the folded filter and bias of bn_fold_f32.
template <int TM>
__device__ void conv_forward(float *y, const float *x, const float *w,
		const float *bias, const float *skip, int relu, GEOM) {
	Geom g(GEOM_ARGS);
	int CRR = C * R * R, OHW = OH * OW;
	gemm_tiles<TM>(K, N * OHW, 0, CRR,
		[=](int k, int q) { return w[(long long)k * CRR + q]; },
		[=](int q, int p) { return g.patch(x, q, p); },
		[=](int k, int p, float v) {
			int n = g.dOHW.div(p);
			long long i = ((long long)n * K + k) * OHW + (p - n * OHW);
			if (bias) v += bias[k];
			if (skip) v += skip[i];
			if (relu) v = fmaxf(v, 0.f);
			y[i] = v;
		});
}

KERNEL void conv_forward_m16_f32(float *y, const float *x, const float *w,
		const float *bias, const float *skip, int relu, GEOM) {
	conv_forward<16>(y, x, w, bias, skip, relu, GEOM_ARGS);
}

KERNEL void conv_forward_m32_f32(float *y, const float *x, const float *w,
		const float *bias, const float *skip, int relu, GEOM) {
	conv_forward<32>(y, x, w, bias, skip, relu, GEOM_ARGS);
}

KERNEL void conv_forward_m64_f32(float *y, const float *x, const float *w,
		const float *bias, const float *skip, int relu, GEOM) {
	conv_forward<64>(y, x, w, bias, skip, relu, GEOM_ARGS);
}

// conv_backward_data_m*_f32 computes dx = ∂L/∂x from w and dy: dx(c, p) =
// Σ_{k,ki,kj} w(k, c, ki, kj)·dy(k, oy, ox) over the output positions
// (oy, ox) whose tap (ki, kj) reads input position p = (n, iy, ix), i.e.
// oy·S - P + ki = iy. As a matrix product: C × N·H·W with K·R·R terms.
// Launch BLOCK threads on the grid (⌈N·H·W/TN⌉, ⌈C/TM⌉).
template <int TM>
__device__ void conv_backward_data(float *dx, const float *w, const float *dy, GEOM) {
	Geom g(GEOM_ARGS);
	int RR = R * R, HW = H * W;
	gemm_tiles<TM>(C, N * HW, 0, K * RR,
		[=](int c, int q) {
			int k = g.dRR.div(q);
			return w[((long long)k * C + c) * RR + (q - k * RR)];
		},
		[=](int q, int p) {
			int k = g.dRR.div(q), t = q - k * RR;
			int ki = g.dR.div(t), kj = t - ki * R;
			int n = g.dHW.div(p), i = p - n * HW;
			int iy = g.dW.div(i), ix = i - iy * W;
			int ty = iy + P - ki, tx = ix + P - kj;
			if (ty < 0 || tx < 0) return 0.f;
			int oy = g.dS.div(ty), ox = g.dS.div(tx);
			if (oy * S != ty || ox * S != tx || oy >= OH || ox >= OW) return 0.f;
			return dy[(((long long)n * K + k) * OH + oy) * OW + ox];
		},
		[=](int c, int p, float v) {
			int n = g.dHW.div(p);
			dx[((long long)n * C + c) * HW + (p - n * HW)] = v;
		});
}

KERNEL void conv_backward_data_m16_f32(float *dx, const float *w, const float *dy, GEOM) {
	conv_backward_data<16>(dx, w, dy, GEOM_ARGS);
}

KERNEL void conv_backward_data_m32_f32(float *dx, const float *w, const float *dy, GEOM) {
	conv_backward_data<32>(dx, w, dy, GEOM_ARGS);
}

KERNEL void conv_backward_data_m64_f32(float *dx, const float *w, const float *dy, GEOM) {
	conv_backward_data<64>(dx, w, dy, GEOM_ARGS);
}

// conv_backward_filter_m*_f32 computes the filter gradient ∂L/∂w(k, q) =
// Σ_p dy(k, p)·x̂(q, p), K × C·R·R with N·OH·OW terms. The sum over p is
// split into gridDim.z slices: slice z writes its partial sums to
// dw + z·K·C·R·R, and sum_partials_f32 adds them (with one slice, dw is
// the gradient itself). Launch BLOCK threads on the grid (⌈C·R·R/TN⌉,
// ⌈K/TM⌉, splits).
template <int TM>
__device__ void conv_backward_filter(float *dw, const float *x, const float *dy, GEOM) {
	Geom g(GEOM_ARGS);
	int CRR = C * R * R, OHW = OH * OW;
	int p0, p1;
	split_range(N * OHW, &p0, &p1);
	float *out = dw + (long long)blockIdx.z * K * CRR;
	gemm_tiles<TM>(K, CRR, p0, p1,
		[=](int k, int p) {
			int n = g.dOHW.div(p);
			return dy[((long long)n * K + k) * OHW + (p - n * OHW)];
		},
		[=](int p, int q) { return g.patch(x, q, p); },
		[=](int k, int q, float v) { out[(long long)k * CRR + q] = v; });
}

KERNEL void conv_backward_filter_m16_f32(float *dw, const float *x, const float *dy, GEOM) {
	conv_backward_filter<16>(dw, x, dy, GEOM_ARGS);
}

KERNEL void conv_backward_filter_m32_f32(float *dw, const float *x, const float *dy, GEOM) {
	conv_backward_filter<32>(dw, x, dy, GEOM_ARGS);
}

KERNEL void conv_backward_filter_m64_f32(float *dw, const float *x, const float *dy, GEOM) {
	conv_backward_filter<64>(dw, x, dy, GEOM_ARGS);
}
