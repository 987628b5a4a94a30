package graph

import "golang.org/x/sys/cpu"

// deinterleaveAVX512 is implemented in deinterleave_amd64.s; see
// deinterleave.
//
//go:noescape
func deinterleaveAVX512(even, odd, src *float32, n int)

// copyRowsAVX512 is implemented in deinterleave_amd64.s; see copyRows.
//
//go:noescape
func copyRowsAVX512(dst *float32, dstride int, src *float32, sstride int, rows, vecs int)

// deinterleaveRowsAVX512 is implemented in deinterleave_amd64.s; see
// deinterleaveRows.
//
//go:noescape
func deinterleaveRowsAVX512(even, odd *float32, dstride int, src *float32, sstride int, rows, vecs int)

var hasDeinterleaveAVX512 = cpu.X86.HasAVX512F

// deinterleaveRowsBulk does the part of deinterleaveRows it can with
// AVX-512 and returns the number of elements of each row it wrote.
func deinterleaveRowsBulk(even, odd []float32, dstride int, src []float32, sstride, rows, n int) int {
	vecs := n / 16
	if rows > 0 && (rows-1)*sstride+vecs*32 > len(src) {
		vecs-- // the last vector of the last row would read past src
	}
	if !hasDeinterleaveAVX512 || vecs <= 0 || rows == 0 {
		return 0
	}
	last := (rows-1)*dstride + vecs*16 - 1
	_, _ = even[last], src[(rows-1)*sstride+vecs*32-1]
	var op *float32
	if odd != nil {
		_ = odd[last]
		op = &odd[0]
	}
	deinterleaveRowsAVX512(&even[0], op, dstride, &src[0], sstride, rows, vecs)
	return vecs * 16
}

// copyRowsBulk copies with AVX-512 the first multiple of 16 elements of
// each row for copyRows and returns how many.
func copyRowsBulk(dst []float32, dstride int, src []float32, sstride, rows, w int) int {
	vecs := w / 16
	if !hasDeinterleaveAVX512 || vecs == 0 || rows == 0 {
		return 0
	}
	_, _ = dst[(rows-1)*dstride+vecs*16-1], src[(rows-1)*sstride+vecs*16-1]
	copyRowsAVX512(&dst[0], dstride, &src[0], sstride, rows, vecs)
	return vecs * 16
}

// deinterleaveBulk does the part of deinterleave it can with AVX-512 and
// returns the number of elements of even (and odd) it wrote.
func deinterleaveBulk(even, odd, src []float32) int {
	n := len(even)
	if odd != nil {
		n = min(n, len(odd))
	}
	// Whole vectors whose 32-element source is inside src.
	n = min(n, len(src)/2) &^ 15
	if !hasDeinterleaveAVX512 || n == 0 {
		return 0
	}
	var op *float32
	if odd != nil {
		op = &odd[0]
	}
	deinterleaveAVX512(&even[0], op, &src[0], n)
	return n
}
