//go:build !purego

package simd

// copyRowsAVX512 is implemented in copy_amd64.s; see copyRowsAVX512Rows.
//
//go:noescape
func copyRowsAVX512(dst *float32, dstride int, src *float32, sstride int, rows, vecs int)

// deinterleaveRowsAVX512 is implemented in copy_amd64.s; see
// deinterleaveRowsAVX512Rows.
//
//go:noescape
func deinterleaveRowsAVX512(even, odd *float32, dstride int, src *float32, sstride int, rows, vecs int, tail bool, mdst, mlo, mhi uint16)

// laneMasks returns the AVX-512 masks of the first n lanes (0 ≤ n ≤ 32) of
// a pair of 16-lane vectors. Shifts by 16 wrap to 0, so a full vector's
// mask is all ones.
func laneMasks(n int) (lo, hi uint16) {
	return uint16(1)<<min(16, n) - 1, uint16(1)<<max(0, n-16) - 1
}

// deinterleaveRowsAVX512Rows is DeinterleaveRows with AVX-512, the last
// vector of each row masked.
func deinterleaveRowsAVX512Rows(even, odd []float32, dstride int, src []float32, sstride, rows, n int) {
	if n == 0 || rows == 0 {
		return
	}
	// Source elements a row needs: 2n with odd, 2n-1 without.
	need := 2 * n
	if odd == nil {
		need--
	}
	last := (rows-1)*dstride + n - 1
	_, _ = even[last], src[(rows-1)*sstride+need-1]
	var op *float32
	if odd != nil {
		_ = odd[last]
		op = &odd[0]
	}
	// Full vectors read 32 source elements; the rest is the masked tail.
	vecs := need / 32
	rest := n - 16*vecs
	tail := rest > 0
	srcRest := need - 32*vecs
	mdst, _ := laneMasks(rest)
	mlo, mhi := laneMasks(srcRest)
	deinterleaveRowsAVX512(&even[0], op, dstride, &src[0], sstride, rows, vecs, tail, mdst, mlo, mhi)
}

// copyRowsAVX512Rows is CopyRows with AVX-512 for the first multiple of 16
// elements of each row, and in Go for the rest.
func copyRowsAVX512Rows(dst []float32, dstride int, src []float32, sstride, rows, w int) {
	vecs := w / 16
	if vecs > 0 && rows > 0 {
		_, _ = dst[(rows-1)*dstride+vecs*16-1], src[(rows-1)*sstride+vecs*16-1]
		copyRowsAVX512(&dst[0], dstride, &src[0], sstride, rows, vecs)
	}
	if vecs*16 < w {
		copyRowsFrom(vecs*16, dst, dstride, src, sstride, rows, w)
	}
}
