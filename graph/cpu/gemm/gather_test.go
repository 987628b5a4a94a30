package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gatherCase is one SgemmGather product: B is gathered from src through
// random, possibly overlapping, offsets.
type gatherCase struct{ m, n, k int }

func (tc gatherCase) run(t *testing.T, rng *rand.Rand, kern *kernel) {
	t.Helper()
	lda := max(1, tc.k+rng.IntN(3))
	a := randSlice(rng, max(1, tc.m*lda))
	src := randSlice(rng, 500)
	rowOff := make([]int32, tc.k)
	for p := range rowOff {
		rowOff[p] = int32(rng.IntN(200))
	}
	colOff := make([]int32, tc.n/Segment)
	for q := range colOff {
		colOff[q] = int32(rng.IntN(300 - Segment))
	}
	ldc := max(1, tc.n+rng.IntN(3))
	c := make([]float32, max(1, tc.m*ldc))
	for i := range c {
		c[i] = sentinel
	}
	var pa PackedA
	pa.pack(kern, tc.m, tc.k, a, lda)
	SgemmGather(&pa, tc.n, src, rowOff, colOff, c, ldc)
	for i := range tc.m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= tc.n {
				if got != sentinel {
					t.Fatalf("%s %+v: C[%d][%d] outside the matrix was written", kern.name, tc, i, j)
				}
				continue
			}
			var want, bound float64
			for p := range tc.k {
				v := float64(a[i*lda+p]) * float64(src[int(rowOff[p])+int(colOff[j/Segment])+j%Segment])
				want += v
				bound += math.Abs(v)
			}
			if math.Abs(float64(got)-want) > 1e-5*bound+1e-30 {
				t.Fatalf("%s %+v: C[%d][%d] = %g, want %g", kern.name, tc, i, j, got, want)
			}
		}
	}
}

func TestSgemmGather(t *testing.T) {
	cases := []gatherCase{
		{1, 8, 1}, {8, 32, 27}, {16, 1024, 144}, {24, 256, 144}, {32, 64, 288},
		{13, 40, 9}, {7, 24, 5}, {16, 96, 2100}, {33, 8, 17}, {0, 32, 4}, {4, 0, 4}, {5, 16, 0},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kern := range availableKernels() {
		for _, tc := range cases {
			tc.run(t, rng, kern)
		}
		for range 50 {
			tc := gatherCase{m: 1 + rng.IntN(40), n: Segment * (1 + rng.IntN(12)), k: 1 + rng.IntN(80)}
			tc.run(t, rng, kern)
		}
	}
}

func TestSgemmGatherPanics(t *testing.T) {
	var pa PackedA
	pa.Pack(2, 3, make([]float32, 6), 3)
	src := make([]float32, 20)
	c := make([]float32, 32)
	for _, tc := range []struct {
		name           string
		n              int
		rowOff, colOff []int32
	}{
		{"n not a multiple of the run", 12, []int32{0, 1, 2}, []int32{0, 0}},
		{"too few row offsets", 8, []int32{0, 1}, []int32{0}},
		{"run past the end of src", 8, []int32{0, 1, 12}, []int32{1}},
		{"negative offset", 8, []int32{0, -1, 2}, []int32{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			SgemmGather(&pa, tc.n, src, tc.rowOff, tc.colOff, c, 16)
		})
	}
}

func TestSgemmGatherNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var pa PackedA
	pa.Pack(16, 144, randSlice(rng, 16*144), 144)
	src := randSlice(rng, 16*34*34)
	rowOff := make([]int32, 144)
	for p := range rowOff {
		rowOff[p] = int32(p/9*34*34 + p%9/3*34 + p%3)
	}
	colOff := make([]int32, 1024/Segment)
	for q := range colOff {
		colOff[q] = int32(q/4*34 + q%4*Segment)
	}
	c := make([]float32, 16*1024)
	SgemmGather(&pa, 1024, src, rowOff, colOff, c, 1024)
	if n := testing.AllocsPerRun(10, func() { SgemmGather(&pa, 1024, src, rowOff, colOff, c, 1024) }); n != 0 {
		t.Errorf("SgemmGather allocates %v times per call", n)
	}
}

func TestSgemmPacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, kern := range availableKernels() {
		for _, sz := range [][3]int{{16, 256, 16}, {32, 64, 32}, {8, 32, 3}, {13, 40, 7}, {5, 7, 9}, {1, 1, 1}, {24, 100, 600}} {
			m, n, k := sz[0], sz[1], sz[2]
			lda, ldb, ldc := k+1, n+2, n+3
			a, b := randSlice(rng, m*lda), randSlice(rng, k*ldb)
			c := make([]float32, m*ldc)
			for i := range c {
				c[i] = sentinel
			}
			var pa PackedA
			pa.pack(kern, m, k, a, lda)
			SgemmPacked(&pa, n, b, ldb, c, ldc)
			want, bound := refGemm(false, false, m, n, k, 1, a, lda, b, ldb, 0, nil, ldc)
			for i := range m {
				for j := range ldc {
					got := c[i*ldc+j]
					if j >= n {
						if got != sentinel {
							t.Fatalf("%s %v: C[%d][%d] outside the matrix was written", kern.name, sz, i, j)
						}
						continue
					}
					if math.Abs(float64(got)-want[i*n+j]) > bound[i*n+j] {
						t.Fatalf("%s %v: C[%d][%d] = %g, want %g", kern.name, sz, i, j, got, want[i*n+j])
					}
				}
			}
		}
	}
}
