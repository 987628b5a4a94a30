package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sentinel marks elements of C outside the m×n matrix; they must never be
// modified.
const sentinel = -12345.5

// refGemm computes the expected result in float64 with a naive triple
// loop, together with a per-element error bound.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, bound []float64) {
	want = make([]float64, m*n)
	bound = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sabs float64
			for p := 0; p < k; p++ {
				var av, bv float64
				if transA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if transB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				sabs += math.Abs(av * bv)
			}
			v := float64(alpha) * s
			e := math.Abs(float64(alpha)) * sabs
			if beta != 0 {
				cv := float64(c[i*ldc+j])
				v += float64(beta) * cv
				e += math.Abs(float64(beta) * cv)
			}
			want[i*n+j] = v
			bound[i*n+j] = 1e-5*e + 1e-30
		}
	}
	return want, bound
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int
	padC           int
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v pad=%d/%d/%d",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC)
}

// run executes one case with the given micro-kernel and compares it with
// the float64 reference.
func (tc gemmCase) run(t *testing.T, rng *rand.Rand, kern *kernel) {
	t.Helper()
	rowsA, colsA := tc.m, tc.k
	if tc.transA {
		rowsA, colsA = tc.k, tc.m
	}
	rowsB, colsB := tc.k, tc.n
	if tc.transB {
		rowsB, colsB = tc.n, tc.k
	}
	lda, ldb, ldc := max(1, colsA+tc.padA), max(1, colsB+tc.padB), max(1, tc.n+tc.padC)
	a := randSlice(rng, rowsA*lda)
	b := randSlice(rng, rowsB*ldb)
	c := randSlice(rng, tc.m*ldc)
	for i := 0; i < tc.m; i++ {
		for j := tc.n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	if tc.beta == 0 {
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	want, bound := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)

	saved := activeKernel
	activeKernel = kern
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	activeKernel = saved

	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= tc.n {
				if got != sentinel {
					t.Fatalf("%s %v: C[%d][%d] outside the matrix was modified to %v", kern.name, tc, i, j, got)
				}
				continue
			}
			w := want[i*tc.n+j]
			if d := math.Abs(float64(got) - w); !(d <= bound[i*tc.n+j]) {
				t.Fatalf("%s %v: C[%d][%d] = %v, want %v (|diff| %g > bound %g)", kern.name, tc, i, j, got, w, d, bound[i*tc.n+j])
			}
		}
	}
}

func TestSgemmSmall(t *testing.T) {
	sizes := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 47, 48, 63, 64, 65, 70}
	params := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, 0.25}, {1.5, 0}, {0, 0.5}, {0, 0}}
	for _, kern := range availableKernels() {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				// A deterministic sweep over shapes around the tile sizes.
				for _, m := range sizes {
					for _, n := range sizes {
						k := sizes[rng.IntN(len(sizes))]
						p := params[rng.IntN(len(params))]
						tc := gemmCase{transA: tA, transB: tB, m: m, n: n, k: k, alpha: p[0], beta: p[1],
							padA: rng.IntN(4), padB: rng.IntN(4), padC: rng.IntN(4)}
						tc.run(t, rng, kern)
					}
				}
				// Random shapes with random strides.
				for range 200 {
					p := params[rng.IntN(len(params))]
					tc := gemmCase{transA: tA, transB: tB, m: 1 + rng.IntN(70), n: 1 + rng.IntN(70), k: 1 + rng.IntN(70),
						alpha: p[0], beta: p[1], padA: rng.IntN(9), padB: rng.IntN(9), padC: rng.IntN(9)}
					tc.run(t, rng, kern)
				}
			}
		}
	}
}

// TestSgemmBlocked covers shapes larger than the cache blocks, so that the
// k, m and n blocking loops run more than once.
func TestSgemmBlocked(t *testing.T) {
	shapes := [][3]int{
		{300, 70, 513},  // several k blocks, several m blocks
		{17, 600, 300},  // several n blocks, ragged edges
		{64, 1031, 576}, // forward-like
		{577, 65, 64},   // backward-data-like
		{64, 145, 2100}, // backward-weights-like
	}
	for _, kern := range availableKernels() {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, s := range shapes {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, beta := range []float32{0, 1, -0.75} {
						tc := gemmCase{transA: tA, transB: tB, m: s[0], n: s[1], k: s[2], alpha: 0.5, beta: beta,
							padA: rng.IntN(5), padB: rng.IntN(5), padC: rng.IntN(5)}
						tc.run(t, rng, kern)
					}
				}
			}
		}
	}
}

// TestSgemmStrides covers row strides that are multiples of 1 KiB, for
// which Sgemm packs op(A) = Aᵀ instead of reading it in place, and other
// large strides.
func TestSgemmStrides(t *testing.T) {
	for _, kern := range availableKernels() {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, s := range [][3]int{{37, 45, 40}, {70, 33, 17}, {9, 65, 530}} {
					colsA, colsB := s[2], s[1]
					if tA {
						colsA = s[0]
					}
					if tB {
						colsB = s[2]
					}
					tc := gemmCase{transA: tA, transB: tB, m: s[0], n: s[1], k: s[2], alpha: 1, beta: 0.5,
						padA: padTo(colsA, 256), padB: padTo(colsB, 1024), padC: padTo(s[1], 512)}
					tc.run(t, rng, kern)
				}
			}
		}
	}
}

// padTo returns the padding that rounds n up to a multiple of mult.
func padTo(n, mult int) int {
	return (mult - n%mult) % mult
}

// TestSgemmConcurrent checks that concurrent calls do not share scratch
// space.
func TestSgemmConcurrent(t *testing.T) {
	const m, n, k, workers = 40, 300, 200, 4
	rng := rand.New(rand.NewPCG(11, 12))
	a, b := randSlice(rng, m*k), randSlice(rng, k*n)
	want := make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			c := make([]float32, m*n)
			for it := range 50 {
				Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				for i := range c {
					if c[i] != want[i] {
						errs <- fmt.Errorf("worker %d, iteration %d: c[%d] = %v, want %v", w, it, i, c[i], want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestSgemmZeroK(t *testing.T) {
	c := []float32{float32(math.NaN()), 2, sentinel, 4, 5, sentinel}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 3)
	want := []float32{0, 0, sentinel, 0, 0, sentinel}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("beta=0, k=0: got %v, want %v", c, want)
		}
	}
	c = []float32{1, 2, 3, 4}
	Sgemm(true, true, 2, 2, 0, 1, nil, 2, nil, 1, 3, c, 2)
	want = []float32{3, 6, 9, 12}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("beta=3, k=0: got %v, want %v", c, want)
		}
	}
	// Empty outputs must be accepted without touching anything.
	Sgemm(false, false, 0, 5, 3, 1, nil, 3, make([]float32, 15), 5, 0, nil, 5)
	Sgemm(false, false, 5, 0, 3, 1, make([]float32, 15), 3, nil, 1, 0, nil, 1)
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 6)
	b := make([]float32, 6)
	c := make([]float32, 4)
	cases := map[string]func(){
		"negative m":  func() { Sgemm(false, false, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2) },
		"small lda":   func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) },
		"small ldb":   func() { Sgemm(false, true, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) },
		"small ldc":   func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 1) },
		"short a":     func() { Sgemm(false, false, 2, 2, 3, 1, a[:5], 3, b, 2, 0, c, 2) },
		"short b":     func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, b[:5], 2, 0, c, 2) },
		"short c":     func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c[:3], 2) },
		"short a (T)": func() { Sgemm(true, false, 2, 2, 3, 1, a[:5], 2, b, 2, 0, c, 2) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			f()
		})
	}
}

func TestDgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for range 50 {
				m, n, k := 1+rng.IntN(40), 1+rng.IntN(40), 1+rng.IntN(40)
				rowsA, colsA := m, k
				if tA {
					rowsA, colsA = k, m
				}
				rowsB, colsB := k, n
				if tB {
					rowsB, colsB = n, k
				}
				lda, ldb, ldc := colsA+rng.IntN(3), colsB+rng.IntN(3), n+rng.IntN(3)
				a := make([]float64, rowsA*lda)
				b := make([]float64, rowsB*ldb)
				c := make([]float64, m*ldc)
				for i := range a {
					a[i] = rng.NormFloat64()
				}
				for i := range b {
					b[i] = rng.NormFloat64()
				}
				beta := []float64{0, 1, -0.5}[rng.IntN(3)]
				for i := range c {
					if beta == 0 {
						c[i] = math.NaN()
					} else {
						c[i] = rng.NormFloat64()
					}
				}
				want := make([]float64, m*n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var s float64
						for p := 0; p < k; p++ {
							var av, bv float64
							if tA {
								av = a[p*lda+i]
							} else {
								av = a[i*lda+p]
							}
							if tB {
								bv = b[j*ldb+p]
							} else {
								bv = b[p*ldb+j]
							}
							s += av * bv
						}
						want[i*n+j] = 1.5 * s
						if beta != 0 {
							want[i*n+j] += beta * c[i*ldc+j]
						}
					}
				}
				Dgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, beta, c, ldc)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						if d := math.Abs(c[i*ldc+j] - want[i*n+j]); !(d <= 1e-10*(1+math.Abs(want[i*n+j]))) {
							t.Fatalf("tA=%v tB=%v m=%d n=%d k=%d: C[%d][%d] = %v, want %v", tA, tB, m, n, k, i, j, c[i*ldc+j], want[i*n+j])
						}
					}
				}
			}
		}
	}
}

func TestSgemmNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, n, k := 32, 256, 288
	a, b, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			lda, ldb := k, n
			if tA {
				lda = m
			}
			if tB {
				ldb = k
			}
			Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
			allocs := testing.AllocsPerRun(20, func() {
				Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 1, c, n)
			})
			if allocs != 0 {
				t.Errorf("tA=%v tB=%v: %v allocations per call, want 0", tA, tB, allocs)
			}
		}
	}
}
