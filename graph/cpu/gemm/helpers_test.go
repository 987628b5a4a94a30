package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// checkSame fails unless got and want hold the same bits.
func checkSame(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestKernelHelpers checks the assembly helpers of each micro-kernel
// against their Go versions, bit for bit: the packing micro-kernel against
// the plain one and a copy of the panel, the 16×16 transposes against
// transposeScalar, and the panel gathers against the Go loop.
func TestKernelHelpers(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, kern := range availableKernels() {
		mr, nr := kern.mr, kern.nr
		if kern.fnPack != nil {
			for _, beta := range []float32{0, 1, 0.5} {
				const k, bstride, ldc = 37, 70, 40
				a, b := randSlice(rng, k*mr), randSlice(rng, k*bstride)
				c0 := randSlice(rng, mr*ldc)
				want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
				kern.fn(k, &a[0], mr, &b[0], bstride, &want[0], ldc, 1.5, beta)
				bpack := make([]float32, k*nr)
				kern.fnPack(k, &a[0], mr, &b[0], bstride, &got[0], ldc, 1.5, beta, &bpack[0])
				checkSame(t, kern.name+" fnPack: C", got, want)
				for p := range k {
					checkSame(t, kern.name+" fnPack: packed B", bpack[p*nr:(p+1)*nr], b[p*bstride:p*bstride+nr])
				}
			}
		}
		if kern.transpose != nil {
			const nblk, ldsrc, dstride = 3, 60, 16
			src := randSlice(rng, 16*ldsrc)
			want := make([]float32, 16*nblk*dstride)
			transposeScalar(want, dstride, src, ldsrc, 16, 0, 16*nblk)
			got := make([]float32, len(want))
			kern.transpose(&got[0], dstride, &src[0], ldsrc, nblk, nil)
			checkSame(t, kern.name+" transpose", got, want)
			lo, hi := make([]float32, len(want)), make([]float32, len(want))
			kern.transpose(&lo[0], dstride, &src[0], ldsrc, nblk, &hi[0])
			for p := range 16 * nblk {
				checkSame(t, kern.name+" transpose split, rows 0-7", lo[p*dstride:p*dstride+8], want[p*dstride:p*dstride+8])
				checkSame(t, kern.name+" transpose split, rows 8-15", hi[p*dstride:p*dstride+8], want[p*dstride+8:p*dstride+16])
			}
		}
		if kern.gather != nil {
			const k = 29
			src := randSlice(rng, 400)
			rowOff, segs := make([]int32, k), make([]int32, nr/Segment)
			for i := range rowOff {
				rowOff[i] = int32(rng.IntN(200))
			}
			for i := range segs {
				segs[i] = int32(rng.IntN(200 - Segment))
			}
			want, got := make([]float32, k*nr), make([]float32, k*nr)
			gatherPanel(&genericKernel, want, nr, src, rowOff, segs) // the Go loop
			gatherPanel(kern, got, nr, src, rowOff, segs)
			checkSame(t, kern.name+" gather", got, want)
		}
	}
}
