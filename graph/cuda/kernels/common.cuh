// Shared definitions of the trainer's CUDA kernels.
//
// Rules every kernel follows, so that the CPU emulator (../emu) runs them
// unchanged and the results do not depend on scheduling:
//   - no warp shuffles, no atomics: reductions go through shared memory in
//     a fixed order, so every run gives the same bits;
//   - every thread of a block reaches every __syncthreads (no early return
//     in a kernel that synchronises);
//   - shared memory is static (__shared__ arrays of fixed size);
//   - float32 data; per-channel statistics and reductions in double.
#pragma once

// KERNEL declares a kernel with an unmangled name, the name the Go side
// passes to cuModuleGetFunction.
#define KERNEL extern "C" __global__

// GEMM_KERNEL declares a convolution kernel: as KERNEL, with its
// registers held to what 6 blocks of BLOCK threads on a multiprocessor
// leave (40 each on compute 8.0 and 9.0), which gemm_tiles fits in without
// spilling; unbounded, the compiler takes 48 to 59 and fits 4 or 5 blocks.
#define GEMM_KERNEL extern "C" __global__ __launch_bounds__(BLOCK, 6)

// BLOCK is the number of threads of a block for every kernel of this
// module; the Go wrappers launch all of them with it.
#define BLOCK 256

// GRID_STRIDE loops i over [0, n) across all threads of the grid.
#define GRID_STRIDE(i, n) \
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// Div divides ints in [0, 2³¹) by a divisor d ≥ 1 fixed when it is made,
// with a multiplication and a shift instead of the dozens of instructions
// of an integer division by a variable (Granlund and Montgomery, "Division
// by invariant integers using multiplication", 1994: the round-up
// multiplier m = ⌊2³²(2^s - d)/d⌋ + 1, s = ⌈log₂ d⌉, for dividends below
// 2³¹). The convolutions' index arithmetic is made of such divisions.
struct Div {
	unsigned d, m, s;
	__device__ Div(int divisor) : d(divisor), m(0), s(0) {
		while ((1u << s) < d) s++;
		m = (unsigned)(((1ull << 32) * ((1ull << s) - d)) / d + 1);
	}
	// div returns n / d.
	__device__ int div(int n) const { return (int)((__umulhi((unsigned)n, m) + (unsigned)n) >> s); }
};

// group_sum returns the sum of the values v of the M members of each of
// the G groups of the block, added pairwise in a fixed order, to every
// member of the group: the calling thread is member m of group g, and each
// (m, g) is one thread. All threads must call it; sh is M·G values of
// shared memory, free for reuse when it returns. M is a power of two.
template <int M, int G, class T>
__device__ T group_sum(T v, int m, int g, T *sh) {
	static_assert((M & (M - 1)) == 0, "group_sum: M must be a power of two");
	sh[m * G + g] = v;
	__syncthreads();
	for (int w = M / 2; w > 0; w >>= 1) {
		if (m < w) sh[m * G + g] += sh[(m + w) * G + g];
		__syncthreads();
	}
	T r = sh[g];
	__syncthreads();
	return r;
}

// block_sum returns the sum of v over the BLOCK threads of the block, to
// every thread. All threads must call it; sh is BLOCK doubles of shared
// memory, free for reuse when it returns.
__device__ double block_sum(double v, double *sh) { return group_sum<BLOCK, 1>(v, threadIdx.x, 0, sh); }

// Tiled matrix product, the engine of the dense layer and of the three
// convolution kernels (implicit GEMM: the patch matrix is never stored).
//
// gemm_tiles<TM> computes, for the TM×TN tile (blockIdx.y, blockIdx.x) of
// an M×N result, acc(i, j) = Σ_{q in [k0, k1)} A(i, q)·B(q, j) and passes
// each value to store(i, j, acc). The convolutions' index arithmetic
// (which filter tap, which image position) costs more instructions than
// the multiply-adds, so the part of it that depends only on q or only on
// j is done once, not for every element:
//   - tab(q) returns an entry (a struct, such as Tap) describing reduction
//     index q. The first TK threads compute the entries of the TK indices
//     of a step into shared memory, and every load of that step reads
//     them there.
//   - loadA(i, q, e) returns A(i, q), given e = tab(q).
//   - colB(j) returns a functor b with b(q, e) = B(q, j), given e =
//     tab(q): each thread loads B from one column j, so what depends on j
//     alone is computed once, when colB(j) is made.
// The loads are called only for indices inside the matrices. B is loaded
// without bounds tests: a column past N repeats column N-1 (its results
// are not stored) and a term past k1 repeats term k1-1 (A is 0 there; a
// non-finite B value stays non-finite, 0·∞ being NaN).
//
// A tile has TILE_AREA = 4096 values by default: TM is 16, 32 or 64 rows
// and TN = TILE_AREA/TM columns (256, 128, 64), so that a narrow result
// (few channels) does not waste multiply-adds on padding rows. A block
// has BLOCK = 256 threads, in KS = BLOCK/(TM·TN/16) groups: a narrower
// tile (TM·TN < TILE_AREA, such as the filter gradient's TM×FILTER_COLS)
// is computed by KS groups at once, each summing its own TK of every
// KS·TK terms, and the groups' sums are added in group order at the end.
// A group has TM/4 rows of TN/4 threads, in warps of 4 rows of 8; thread
// (ty, tx) computes the 4×4 values at rows 4·ty + u and columns 4·tx + v,
// u, v in 0..3, so that each step of the sum reads its 4 values of A and
// its 4 of B with one 16-byte shared-memory load each. The sum runs
// KS·TK terms at a time through As[KS·TK][TM] and Bs[KS·TK][TN] of shared
// memory, 4·KS·TK·(TM + TN) bytes (17 KiB for a 16×256 tile, 8 KiB for
// 64×64, 24 KiB for 16×32), aligned to 16 bytes. Thread t loads the B
// values of column t mod TN (neighbouring threads, neighbouring columns)
// and, for A, the term t mod KS·TK of rows t/(KS·TK) + (BLOCK/(KS·TK))·m.
#define TILE_AREA 4096
#define TK 16

// gemm_step returns the number of terms a block of gemm_tiles<TM, TN>
// sums per step, KS·TK.
template <int TM, int TN>
__device__ constexpr int gemm_step() { return BLOCK / (TM * TN / 16) * TK; }

// Tap is the entry of a reduction index of a convolution's matrix
// product (a filter tap, or an output position for the filter gradient):
// b and a are the parts of the index of the element read in B's and in
// A's source that depend on it, y and x the row and column shifts it adds
// to the image position, which decide whether the element is padding.
struct alignas(16) Tap {
	int b, a, y, x;
};

template <int TM, int TN = TILE_AREA / TM, class Tab, class LoadA, class ColB, class Store>
__device__ void gemm_tiles(int M, int N, int k0, int k1, Tab tab, LoadA loadA, ColB colB, Store store) {
	static_assert(TM == 16 || TM == 32 || TM == 64, "gemm_tiles: TM must be 16, 32 or 64");
	constexpr int TY = TM / 4, TX = TN / 4; // a group's threads: TY rows of TX
	constexpr int GT = TY * TX;             // threads per group
	constexpr int KS = BLOCK / GT;          // groups
	constexpr int KT = gemm_step<TM, TN>(); // terms per step, TK per group
	static_assert(GT * KS == BLOCK && KT == KS * TK, "gemm_tiles: groups of a thread per 4×4 sub-tile");
	static_assert(BLOCK % TN == 0 && BLOCK % KT == 0, "gemm_tiles: a thread loads one column of B and one term of A");
	static_assert(KS == 1 || KT >= TN, "gemm_tiles: the groups' sums are added in As");
	using Entry = decltype(tab(0));
	alignas(16) __shared__ float As[KT][TM];
	alignas(16) __shared__ float Bs[KT][TN];
	__shared__ Entry T[KT];
	static_assert(TY % 4 == 0 && TX % 8 == 0, "gemm_tiles: warps of 4×8 threads");
	int tid = threadIdx.x, grp = tid / GT, gt = tid % GT;
	// Warp w of a group computes a 16×32 part of the tile, its lane l the
	// rows of ty = 4·(w mod TY/4) + l mod 4 and the columns of tx =
	// 8·(w div TY/4) + l div 4: each step of the sum a warp reads 64 bytes
	// of As and 128 of Bs, one shared-memory wavefront each.
	int warp = gt / 32, lane = gt % 32;
	int ty = 4 * (warp % (TY / 4)) + lane % 4, tx = 8 * (warp / (TY / 4)) + lane / 4;
	int row0 = blockIdx.y * TM, col0 = blockIdx.x * TN;
	int ia = tid / KT, ka = tid % KT;                 // A: term ka of rows ia + (BLOCK/KT)·m
	int jb = tid % TN, kb0 = tid / TN, cb = col0 + jb; // B: column jb, terms kb0 + (BLOCK/TN)·m
	auto b = colB(min(cb, N - 1));
	float acc[4][4];
	for (int u = 0; u < 4; u++)
		for (int v = 0; v < 4; v++) acc[u][v] = 0.f;
	for (int kb = k0; kb < k1; kb += KT) {
		// The previous step read T before its second barrier. Past the
		// end of the sum (k1), the entries repeat the last index: B's
		// loads need no bounds test there, A being 0.
		if (tid < KT) T[tid] = tab(min(kb + tid, k1 - 1));
		__syncthreads();
		// A is loaded inside the matrix (the row and term clamped), then
		// replaced by 0 outside it, without a branch around each load.
		int q = kb + ka, qa = min(q, k1 - 1);
		Entry ea = T[ka];
#pragma unroll
		for (int m = 0; m < (TM * KT + BLOCK - 1) / BLOCK; m++) {
			int i = ia + m * (BLOCK / KT), r = row0 + i;
			if (i < TM) {
				float v = loadA(min(r, M - 1), qa, ea);
				As[ka][i] = r < M && q < k1 ? v : 0.f;
			}
		}
#pragma unroll
		for (int m = 0; m < KT * TN / BLOCK; m++) {
			// A past-the-end column repeats the last one (colB), its results
			// not stored.
			int kk = kb0 + m * (BLOCK / TN);
			Bs[kk][jb] = b(min(kb + kk, k1 - 1), T[kk]);
		}
		__syncthreads();
		const float(*as)[TM] = As + (KS == 1 ? 0 : grp * TK);
		const float(*bs)[TN] = Bs + (KS == 1 ? 0 : grp * TK);
#pragma unroll
		for (int kk = 0; kk < TK; kk++) {
			float a[4], bv[4];
			for (int u = 0; u < 4; u++) a[u] = as[kk][4 * ty + u];
			for (int v = 0; v < 4; v++) bv[v] = bs[kk][4 * tx + v];
			for (int u = 0; u < 4; u++)
				for (int v = 0; v < 4; v++) acc[u][v] += a[u] * bv[v];
		}
	}
	// Group 0 adds the sums of groups 1, 2, ... in turn, through the
	// first TM·TN values of As, and stores the tile.
	float *sum = &As[0][0];
	for (int s = 1; s < KS; s++) {
		__syncthreads();
		if (grp == s)
			for (int u = 0; u < 4; u++)
				for (int v = 0; v < 4; v++) sum[(4 * ty + u) * TN + 4 * tx + v] = acc[u][v];
		__syncthreads();
		if (grp == 0)
			for (int u = 0; u < 4; u++)
				for (int v = 0; v < 4; v++) acc[u][v] += sum[(4 * ty + u) * TN + 4 * tx + v];
	}
	for (int u = 0; u < 4 && grp == 0; u++) {
		int r = row0 + 4 * ty + u;
		for (int v = 0; v < 4; v++) {
			int c = col0 + 4 * tx + v;
			if (r < M && c < N) store(r, c, acc[u][v]);
		}
	}
}

// slice_of returns in [*lo, *hi) the part of [0, n) that slice s of
// slices sums: equal parts, each a multiple of step (the terms a kernel
// sums at a time; 1 for any), the last one shorter (or empty).
__device__ void slice_of(int n, int step, int slices, int s, int *lo, int *hi) {
	long long per = ((long long)n + slices - 1) / slices;
	int p = (int)min((long long)n, (per + step - 1) / step * step);
	*lo = (int)min((long long)n, (long long)s * p);
	*hi = *lo + min(p, n - *lo);
}
