// 2-D convolution without bias over NCHW images with a K×C×R×R filter
// (square kernel, equal stride and zero padding on both axes): the
// forward pass, the gradient with respect to the input and the one with
// respect to the filter, all as implicit matrix products (gemm_tiles) that
// gather the image patches on the fly.
//
// Each is compiled for three tile heights, as the kernels <name>_m16_f32,
// <name>_m32_f32 and <name>_m64_f32 (TM = 16, 32, 64 rows, by TN =
// TILE_AREA/TM columns, or FILTER_COLS for the filter gradient); the rows
// of the product are channels, and the Go side launches the smallest TM
// that holds them (64 above 32 channels), on the grid computed from that
// TM and TN.
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

	// tap returns, for q = (c·R + ki)·R + kj indexing a filter tap, the
	// offset c·H·W + ki·W + kj of the input element it reads (relative to
	// the patch's top-left corner) in b, and the tap's row and column in
	// y and x.
	__device__ Tap tap(int q) const {
		int c = dRR.div(q), t = q - c * R * R;
		int ki = dR.div(t), kj = t - ki * R;
		return Tap{(c * H + ki) * W + kj, 0, ki, kj};
	}

	// position returns, for p = (n·OH + oy)·OW + ox indexing an output
	// position, the input index n·C·H·W + iy·W + ix of its patch's
	// top-left corner (iy = oy·S - P, ix = ox·S - P, perhaps in the
	// padding) in b, the index n·K·OH·OW + oy·OW + ox of the output element
	// of channel 0 in a, and iy and ix in y and x.
	__device__ Tap position(int p) const {
		int n = dOHW.div(p), o = p - n * OH * OW;
		int oy = dOW.div(o), ox = o - oy * OW;
		int iy = oy * S - P, ix = ox * S - P;
		return Tap{(n * C * H + iy) * W + ix, n * K * OH * OW + o, iy, ix};
	}

	// patch returns x̂(q, p), the element of the (virtual) patch matrix of
	// the input x for the output position p and the filter tap q, from
	// pos = position(p) and tap = tap(q); 0 in the padding.
	__device__ float patch(const float *x, const Tap &pos, const Tap &tap) const {
		int iy = pos.y + tap.y, ix = pos.x + tap.x;
		if ((unsigned)iy >= (unsigned)H || (unsigned)ix >= (unsigned)W) return 0.f;
		return x[pos.b + tap.b];
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
		[=](int q) { return g.tap(q); },
		[=](int k, int q, const Tap &) { return w[k * CRR + q]; },
		[=](int p) {
			Tap pos = g.position(p);
			return [=](int, const Tap &tap) { return g.patch(x, pos, tap); };
		},
		[=](int k, int p, float v) {
			int n = g.dOHW.div(p);
			int i = (n * K + k) * OHW + (p - n * OHW);
			if (bias) v += bias[k];
			if (skip) v += skip[i];
			if (relu) v = fmaxf(v, 0.f);
			y[i] = v;
		});
}

GEMM_KERNEL void conv_forward_m16_f32(float *y, const float *x, const float *w,
		const float *bias, const float *skip, int relu, GEOM) {
	conv_forward<16>(y, x, w, bias, skip, relu, GEOM_ARGS);
}

GEMM_KERNEL void conv_forward_m32_f32(float *y, const float *x, const float *w,
		const float *bias, const float *skip, int relu, GEOM) {
	conv_forward<32>(y, x, w, bias, skip, relu, GEOM_ARGS);
}

GEMM_KERNEL void conv_forward_m64_f32(float *y, const float *x, const float *w,
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
	int RR = R * R, HW = H * W, OHW = OH * OW;
	gemm_tiles<TM>(C, N * HW, 0, K * RR,
		// q = (k·R + ki)·R + kj: dy of channel k at offset k·OH·OW, w's
		// element (k, 0, ki, kj) at k·C·R·R + ki·R + kj.
		[=](int q) {
			int k = g.dRR.div(q), t = q - k * RR;
			int ki = g.dR.div(t);
			return Tap{k * OHW, k * C * RR + t, ki, t - ki * R};
		},
		[=](int c, int, const Tap &e) { return w[e.a + c * RR]; },
		[=](int p) {
			int n = g.dHW.div(p), i = p - n * HW;
			int iy = g.dW.div(i), ix = i - iy * W;
			int base = n * K * OHW, ty0 = iy + P, tx0 = ix + P;
			return [=](int, const Tap &e) {
				// Output position (oy, ox) reads input position (iy, ix)
				// through tap (ki, kj) if oy·S = iy + P - ki, ox·S = ix + P - kj.
				int ty = ty0 - e.y, tx = tx0 - e.x;
				bool ok = ty >= 0 && tx >= 0;
				int oy = ty, ox = tx;
				if (S != 1) {
					oy = g.dS.div(max(ty, 0)), ox = g.dS.div(max(tx, 0));
					ok = ok && oy * S == ty && ox * S == tx;
				}
				ok = ok && oy < OH && ox < OW;
				return ok ? dy[base + e.b + oy * OW + ox] : 0.f;
			};
		},
		[=](int c, int p, float v) {
			int n = g.dHW.div(p);
			dx[(n * C + c) * HW + (p - n * HW)] = v;
		});
}

GEMM_KERNEL void conv_backward_data_m16_f32(float *dx, const float *w, const float *dy, GEOM) {
	conv_backward_data<16>(dx, w, dy, GEOM_ARGS);
}

GEMM_KERNEL void conv_backward_data_m32_f32(float *dx, const float *w, const float *dy, GEOM) {
	conv_backward_data<32>(dx, w, dy, GEOM_ARGS);
}

GEMM_KERNEL void conv_backward_data_m64_f32(float *dx, const float *w, const float *dy, GEOM) {
	conv_backward_data<64>(dx, w, dy, GEOM_ARGS);
}

// conv_backward_filter_m*_f32 computes the filter gradient ∂L/∂w(k, q) =
// Σ_p dy(k, p)·x̂(q, p), K × C·R·R with N·OH·OW terms. Its tiles are TM
// rows by FILTER_COLS columns: the result is small (C·R·R is 27 for the
// stem, 144 for 16 channels), and a 16×256 tile would leave most of its
// multiply-adds on padding columns, so the block's groups (gemm_tiles)
// share the sum instead. The sum over p is further split into gridDim.z
// slices: slice z writes its partial sums to dw + z·K·C·R·R, and
// sum_partials_f32 adds them (with one slice, dw is the gradient itself).
// Launch BLOCK threads on the grid (⌈C·R·R/FILTER_COLS⌉, ⌈K/TM⌉, splits).
#define FILTER_COLS 32

template <int TM>
__device__ void conv_backward_filter(float *dw, const float *x, const float *dy, GEOM) {
	Geom g(GEOM_ARGS);
	int CRR = C * R * R, OHW = OH * OW;
	int p0, p1;
	slice_of(N * OHW, gemm_step<TM, FILTER_COLS>(), gridDim.z, blockIdx.z, &p0, &p1);
	float *out = dw + (long long)blockIdx.z * K * CRR;
	gemm_tiles<TM, FILTER_COLS>(K, CRR, p0, p1,
		[=](int p) { return g.position(p); },
		[=](int k, int, const Tap &pos) { return dy[pos.a + k * OHW]; },
		[=](int q) {
			Tap tap = g.tap(q);
			return [=](int, const Tap &pos) { return g.patch(x, pos, tap); };
		},
		[=](int k, int q, float v) { out[k * CRR + q] = v; });
}

GEMM_KERNEL void conv_backward_filter_m16_f32(float *dw, const float *x, const float *dy, GEOM) {
	conv_backward_filter<16>(dw, x, dy, GEOM_ARGS);
}

GEMM_KERNEL void conv_backward_filter_m32_f32(float *dw, const float *x, const float *dy, GEOM) {
	conv_backward_filter<32>(dw, x, dy, GEOM_ARGS);
}

GEMM_KERNEL void conv_backward_filter_m64_f32(float *dw, const float *x, const float *dy, GEOM) {
	conv_backward_filter<64>(dw, x, dy, GEOM_ARGS);
}
