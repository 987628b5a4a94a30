package simd

// CopyRows copies rows rows of w elements from src to dst, the rows
// sstride and dstride elements apart.
func CopyRows(dst []float32, dstride int, src []float32, sstride, rows, w int) {
	active.copyRows(dst, dstride, src, sstride, rows, w)
}

// DeinterleaveRows sets even[r·dstride+i] = src[r·sstride+2i] and, if odd
// is not nil, odd[r·dstride+i] = src[r·sstride+2i+1], for rows r < rows
// and i < n. With odd nil, the rows of src need only 2n-1 elements.
func DeinterleaveRows(even, odd []float32, dstride int, src []float32, sstride, rows, n int) {
	active.deinterleaveRows(even, odd, dstride, src, sstride, rows, n)
}

// copyRowsGo is CopyRows in Go.
func copyRowsGo(dst []float32, dstride int, src []float32, sstride, rows, w int) {
	copyRowsFrom(0, dst, dstride, src, sstride, rows, w)
}

// copyRowsFrom is CopyRows of the columns [lo, w) of each row (a vector
// version has copied those before lo).
func copyRowsFrom(lo int, dst []float32, dstride int, src []float32, sstride, rows, w int) {
	for r := range rows {
		copy(dst[r*dstride+lo:r*dstride+w], src[r*sstride+lo:r*sstride+w])
	}
}

// deinterleaveRowsGo is DeinterleaveRows in Go.
func deinterleaveRowsGo(even, odd []float32, dstride int, src []float32, sstride, rows, n int) {
	for r := range rows {
		e, s := even[r*dstride:], src[r*sstride:]
		for j := range n {
			e[j] = s[2*j]
		}
		if odd == nil {
			continue
		}
		o := odd[r*dstride:]
		for j := range n {
			o[j] = s[2*j+1]
		}
	}
}
