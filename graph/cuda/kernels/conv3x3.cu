// Direct 3×3 convolution of stride 1 and zero padding 1, the network's
// most common layer: its forward pass, and its input gradient, which is
// the same convolution of dy with the filter flipped and its two channel
// axes swapped.
//
// The implicit matrix products of conv.cu gather every input element
// once for each of the 9 filter taps, with its index arithmetic and
// bounds tests, and use it for only as many output channels as a tile
// has rows (16 in the first stage). These kernels instead copy a tile of
// the input, with its border, into shared memory once, and each thread
// reads from there the 6 neighbouring values of a row that its 4 output
// positions need for 3 taps: a value read serves up to 12 multiply-adds,
// and the filter's 4 values of a tap 16.
#include "common.cuh"

// CONV3X3_KERNEL declares a kernel of this file: as KERNEL, with its
// registers held to what 4 blocks of BLOCK threads on a multiprocessor
// leave (64 each), which it fits in without spilling; held to 40
// (GEMM_KERNEL), it spills.
#define CONV3X3_KERNEL extern "C" __global__ __launch_bounds__(BLOCK, 4)

// D3_OUT is the number of output channels a block computes, D3_IN the
// number of input channels it copies to shared memory per step, D3_TILE
// the number of positions of its tile of an image (TH rows by TW
// columns).
#define D3_OUT 16
#define D3_IN 8
#define D3_TILE 256

// conv3x3_w<TW>_f32 computes, for the KO output channels o and the
// positions (oy, ox) of N images of H×W,
//
//	y(n, o, oy, ox) = Σ_{i < CI, ki, kj < 3} f(o, i, ki, kj)·x(n, i, oy + ki - 1, ox + kj - 1),
//
// x being 0 outside the image, with f(o, i, ki, kj) = w[((o·CI + i)·3 + ki)·3 + kj]
// when flip = 0 (the forward pass of a KO×CI×3×3 filter), and
// w[((i·KO + o)·3 + 2 - ki)·3 + 2 - kj] when flip ≠ 0 (the input gradient
// of a CI×KO×3×3 filter, x being the output gradient); then, as
// conv_forward, adds bias[o] and skip (each unless null) and applies
// max(·, 0) when relu ≠ 0.
//
// A block computes D3_OUT output channels of a tile of TH = D3_TILE/TW rows
// by TW columns of one image; a thread, 4 of those channels at 4
// neighbouring positions of a row, the 64 threads of two warps sharing
// the channels. Launch BLOCK threads on the grid (N·⌈H/TH⌉·⌈W/TW⌉,
// ⌈KO/D3_OUT⌉).
template <int TW>
__device__ void conv3x3(float *y, const float *x, const float *w, const float *bias, const float *skip,
		int relu, int flip, int N, int CI, int H, int W, int KO) {
	constexpr int TH = D3_TILE / TW;
	static_assert(D3_TILE * D3_OUT == 16 * BLOCK, "conv3x3: a thread per 4 channels × 4 positions");
	// A row of the input tile holds TW + 2 values (the border included),
	// padded to SW, a multiple of 4, so that a thread's first 4 values are
	// one 16-byte load; 48 for tiles 16 wide, so that the two rows that 8
	// neighbouring threads read fall in different shared-memory banks.
	constexpr int SW = TW == 32 ? 36 : 48;
	constexpr int RH = TH + 2, RW = TW + 2;
	alignas(16) __shared__ float xs[D3_IN][RH][SW];
	alignas(16) __shared__ float ws[D3_IN][9][D3_OUT];

	int tid = threadIdx.x;
	int cg = tid / 64, pg = tid % 64;                 // channels 4·cg..; positions of group pg
	int row = pg / (TW / 4), col = 4 * (pg % (TW / 4)); // in the tile
	int tilesX = (W + TW - 1) / TW, tilesY = (H + TH - 1) / TH;
	int n = blockIdx.x / (tilesX * tilesY), t = blockIdx.x % (tilesX * tilesY);
	int y0 = t / tilesX * TH, x0 = t % tilesX * TW, o0 = blockIdx.y * D3_OUT;

	// Thread tid copies, of the input tile xs[i][r][j] = x(n, c0 + i,
	// y0 + r - 1, x0 + j - 1) (0 outside the image), the elements (r, j) =
	// (e/RW, e mod RW) for e = tid + BLOCK·m, and of the filter tile
	// ws[i][tap][o] = f(o0 + o, c0 + i, tap) the elements e = tid +
	// BLOCK·m, (i, tap, o) = (e/(9·D3_OUT), e/D3_OUT mod 9, e mod D3_OUT):
	// their offsets are computed once, those in x and w relative to the
	// step's first channel c0. Past the output channels (KO), the filter
	// tile repeats channel KO - 1, whose sums are not stored.
	constexpr int XE = (RH * RW + BLOCK - 1) / BLOCK, WE = (D3_IN * 9 * D3_OUT + BLOCK - 1) / BLOCK;
	int xoff[XE], woff[WE];
	bool xin[XE];
	for (int m = 0; m < XE; m++) {
		int e = tid + BLOCK * m, r = e / RW, j = e % RW;
		int iy = y0 + r - 1, ix = x0 + j - 1;
		xin[m] = (unsigned)iy < (unsigned)H && (unsigned)ix < (unsigned)W;
		xoff[m] = xin[m] ? iy * W + ix : 0;
	}
	for (int m = 0; m < WE; m++) {
		int e = tid + BLOCK * m, o = e % D3_OUT, tap = e / D3_OUT % 9, i = e / (9 * D3_OUT);
		int og = min(o0 + o, KO - 1);
		woff[m] = flip ? (i * KO + og) * 9 + 8 - tap : (og * CI + i) * 9 + tap;
	}
	int HW = H * W, wstep = flip ? KO * 9 : 9; // w's offset from one input channel to the next
	const float *xn = x + (long long)n * CI * HW;

	float acc[4][4];
	for (int u = 0; u < 4; u++)
		for (int v = 0; v < 4; v++) acc[u][v] = 0.f;
	for (int c0 = 0; c0 < CI; c0 += D3_IN) {
		// A channel past CI copies channel CI - 1, whose weights are 0
		// there.
		for (int i = 0; i < D3_IN; i++) {
			const float *xc = xn + min(c0 + i, CI - 1) * HW;
			for (int m = 0; m < XE; m++) {
				int e = tid + BLOCK * m;
				float v = xc[xoff[m]];
				if (e < RH * RW) xs[i][e / RW][e % RW] = xin[m] ? v : 0.f;
			}
		}
		for (int m = 0; m < WE; m++) {
			int e = tid + BLOCK * m, i = e / (9 * D3_OUT);
			if (e < D3_IN * 9 * D3_OUT) {
				int c = min(c0 + i, CI - 1);
				float v = w[woff[m] + (c - i) * wstep];
				(&ws[0][0][0])[e] = c0 + i < CI ? v : 0.f;
			}
		}
		__syncthreads();
#pragma unroll 2
		for (int i = 0; i < D3_IN; i++) {
#pragma unroll
			for (int ki = 0; ki < 3; ki++) {
				float xv[6];
				for (int j = 0; j < 6; j++) xv[j] = xs[i][row + ki][col + j];
#pragma unroll
				for (int kj = 0; kj < 3; kj++) {
					float f[4];
					for (int u = 0; u < 4; u++) f[u] = ws[i][3 * ki + kj][4 * cg + u];
					for (int u = 0; u < 4; u++)
						for (int v = 0; v < 4; v++) acc[u][v] += f[u] * xv[v + kj];
				}
			}
		}
		__syncthreads();
	}
	int oy = y0 + row;
	for (int u = 0; u < 4; u++) {
		int o = o0 + 4 * cg + u;
		for (int v = 0; v < 4; v++) {
			int ox = x0 + col + v;
			if (o < KO && oy < H && ox < W) {
				int i = ((n * KO + o) * H + oy) * W + ox;
				float s = acc[u][v];
				if (bias) s += bias[o];
				if (skip) s += skip[i];
				if (relu) s = fmaxf(s, 0.f);
				y[i] = s;
			}
		}
	}
}

CONV3X3_KERNEL void conv3x3_w16_f32(float *y, const float *x, const float *w, const float *bias, const float *skip,
		int relu, int flip, int N, int CI, int H, int W, int KO) {
	conv3x3<16>(y, x, w, bias, skip, relu, flip, N, CI, H, W, KO);
}

CONV3X3_KERNEL void conv3x3_w32_f32(float *y, const float *x, const float *w, const float *bias, const float *skip,
		int relu, int flip, int N, int CI, int H, int W, int KO) {
	conv3x3<32>(y, x, w, bias, skip, relu, flip, N, CI, H, W, KO);
}

// CONV3X3_FILTER_KERNEL declares a filter-gradient kernel of this file:
// as KERNEL, with its registers held to what 3 blocks of BLOCK threads on
// a multiprocessor leave (80 each): a thread keeps 36 sums.
#define CONV3X3_FILTER_KERNEL extern "C" __global__ __launch_bounds__(BLOCK, 3)

// D3F_CH is the number of output and of input channels whose filter
// gradient a block computes; D3F_CS the floats of a channel of its input
// tile in shared memory: at least (TH + 2)·SW for both tile widths, and 4
// more than a multiple of 32, so that the 8 threads of 8 neighbouring
// input channels that read 16 bytes each at the same position fall in
// different banks.
#define D3F_CH 16
#define D3F_CS 388

// conv3x3_filter_w<TW>_f32 computes the filter gradient of the direct
// 3×3 convolution above (flip = 0), from its input x (N×CI×H×W) and the
// gradient dy of its output (N×KO×H×W):
//
//	dw(o, i, ki, kj) = Σ_{n, oy, ox} dy(n, o, oy, ox)·x(n, i, oy + ki - 1, ox + kj - 1).
//
// The images are cut into tiles of TH = D3_TILE/TW rows by TW columns, the
// N·⌈H/TH⌉·⌈W/TW⌉ tiles into gridDim.x slices of ⌈tiles/gridDim.x⌉. A
// block sums slice blockIdx.x for the D3F_CH output channels of
// blockIdx.y and the D3F_CH input channels of blockIdx.z, and writes its
// sums to dw + blockIdx.x·KO·CI·9 (sum_partials_f32 adds the slices; with
// one slice, dw is the gradient itself). For each tile it copies dy's
// channels and x's (with the tile's border) to shared memory; thread t
// computes the 9 taps of 4 output channels, 4·(t/16 mod 4) + u, and one
// input channel, t mod 16, over a quarter of the tile's rows of 4
// positions (those g with g mod 4 = t/64), reading 4 values of dy and 6
// of x for 48 multiply-adds at a time; quarter 0 adds the other three's
// sums at the end, in order. Launch BLOCK threads on the grid (slices,
// ⌈KO/D3F_CH⌉, ⌈CI/D3F_CH⌉).
template <int TW>
__device__ void conv3x3_filter(float *dw, const float *x, const float *dy, int N, int CI, int H, int W, int KO) {
	constexpr int P = D3_TILE, TH = P / TW;     // positions of a tile, its rows
	constexpr int SW = TW == 32 ? 36 : 20;      // a row of the input tile, border included, padded
	constexpr int RH = TH + 2, RW = TW + 2;
	constexpr int Q = BLOCK / (D3F_CH / 4 * D3F_CH); // quarters: threads per task
	static_assert(Q == 4 && RH * SW <= D3F_CS && D3F_CS % 32 == 4 && SW % 4 == 0, "conv3x3_filter: layout");
	static_assert((Q - 1) * (BLOCK / Q) * 36 <= D3F_CH * (P + D3F_CS), "conv3x3_filter: the quarters' sums fit");
	alignas(16) __shared__ float sm[D3F_CH * (P + D3F_CS)];
	float *dys = sm, *xs = sm + D3F_CH * P; // dys[o·P + p], xs[i·D3F_CS + r·SW + j]

	int tid = threadIdx.x, q = tid / (BLOCK / Q), task = tid % (BLOCK / Q);
	int og = task / D3F_CH, ii = task % D3F_CH; // channels 4·og + u of the block's outputs, ii of its inputs
	int o0 = blockIdx.y * D3F_CH, i0 = blockIdx.z * D3F_CH;
	int tilesX = (W + TW - 1) / TW, tilesY = (H + TH - 1) / TH, t0, t1;
	slice_of(N * tilesX * tilesY, 1, gridDim.x, blockIdx.x, &t0, &t1);

	float acc[4][9];
	for (int u = 0; u < 4; u++)
		for (int k = 0; k < 9; k++) acc[u][k] = 0.f;
	for (int t = t0; t < t1; t++) {
		int n = t / (tilesX * tilesY), r = t % (tilesX * tilesY);
		int y0 = r / tilesX * TH, x0 = r % tilesX * TW;
		// dys[o·P + p] = dy(n, o0 + o, y0 + p/TW, x0 + p mod TW), 0 outside
		// the image: thread tid copies position p = tid of every channel.
		// Past the channels (KO, CI), the tiles repeat the last one, whose
		// sums are not stored.
		static_assert(P == BLOCK, "conv3x3_filter: a thread per position of the tile");
		{
			int oy = y0 + tid / TW, ox = x0 + tid % TW;
			bool in = oy < H && ox < W;
			const float *src = dy + ((long long)(n * KO + o0) * H + (in ? oy : 0)) * W + (in ? ox : 0);
			for (int o = 0; o < D3F_CH; o++) {
				float v = src[min(o, KO - 1 - o0) * H * W];
				dys[o * P + tid] = in ? v : 0.f;
			}
		}
		// xs[i·D3F_CS + r·SW + j] = x(n, i0 + i, y0 + r - 1, x0 + j - 1), 0
		// outside the image: thread tid copies (r, j) = (e/RW, e mod RW) of
		// every channel, for e = tid + BLOCK·m.
		for (int m = 0; m < (RH * RW + BLOCK - 1) / BLOCK; m++) {
			int e = tid + BLOCK * m, rr = e / RW, j = e % RW;
			int iy = y0 + rr - 1, ix = x0 + j - 1;
			bool in = e < RH * RW && (unsigned)iy < (unsigned)H && (unsigned)ix < (unsigned)W;
			const float *src = x + ((long long)(n * CI + i0) * H + (in ? iy : 0)) * W + (in ? ix : 0);
			for (int i = 0; i < D3F_CH; i++) {
				float v = src[min(i, CI - 1 - i0) * H * W];
				if (e < RH * RW) xs[i * D3F_CS + rr * SW + j] = in ? v : 0.f;
			}
		}
		__syncthreads();
		for (int g = q; g < P / 4; g += Q) {
			int row = g / (TW / 4), col = 4 * (g % (TW / 4));
			float d[4][4];
			for (int u = 0; u < 4; u++)
				for (int v = 0; v < 4; v++) d[u][v] = dys[(4 * og + u) * P + row * TW + col + v];
#pragma unroll
			for (int ki = 0; ki < 3; ki++) {
				float xv[6];
				for (int j = 0; j < 6; j++) xv[j] = xs[ii * D3F_CS + (row + ki) * SW + col + j];
#pragma unroll
				for (int kj = 0; kj < 3; kj++)
					for (int u = 0; u < 4; u++)
						for (int v = 0; v < 4; v++) acc[u][3 * ki + kj] += d[u][v] * xv[v + kj];
			}
		}
		__syncthreads();
	}
	// Quarters 1, 2 and 3 leave their sums in sm; quarter 0 adds them in
	// that order and stores.
	float *part = sm + task * 36;
	if (q > 0)
		for (int u = 0; u < 4; u++)
			for (int k = 0; k < 9; k++) part[(q - 1) * (BLOCK / Q) * 36 + 9 * u + k] = acc[u][k];
	__syncthreads();
	if (q == 0) {
		for (int s = 0; s < Q - 1; s++)
			for (int u = 0; u < 4; u++)
				for (int k = 0; k < 9; k++) acc[u][k] += part[s * (BLOCK / Q) * 36 + 9 * u + k];
		float *out = dw + (long long)blockIdx.x * KO * CI * 9;
		int i = i0 + ii;
		for (int u = 0; u < 4; u++) {
			int o = o0 + 4 * og + u;
			if (o < KO && i < CI)
				for (int k = 0; k < 9; k++) out[(o * CI + i) * 9 + k] = acc[u][k];
		}
	}
}

CONV3X3_FILTER_KERNEL void conv3x3_filter_w16_f32(float *dw, const float *x, const float *dy, int N, int CI, int H, int W, int KO) {
	conv3x3_filter<16>(dw, x, dy, N, CI, H, W, KO);
}

CONV3X3_FILTER_KERNEL void conv3x3_filter_w32_f32(float *dw, const float *x, const float *dy, int N, int CI, int H, int W, int KO) {
	conv3x3_filter<32>(dw, x, dy, N, CI, H, W, KO);
}
