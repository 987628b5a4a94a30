package graph

// copyRows copies rows rows of w elements from src to dst, the rows sstride
// and dstride elements apart.
func copyRows(dst []float32, dstride int, src []float32, sstride, rows, w int) {
	done := copyRowsBulk(dst, dstride, src, sstride, rows, w)
	if done == w {
		return
	}
	for r := range rows {
		copy(dst[r*dstride+done:r*dstride+w], src[r*sstride+done:r*sstride+w])
	}
}

// deinterleaveRows sets even[r·dstride+i] = src[r·sstride+2i] and, if odd
// is not nil, odd[r·dstride+i] = src[r·sstride+2i+1], for rows r < rows and
// i < n. An odd row reads src[2n-1] of its row; with odd nil,
// src rows need only 2n-1 elements, of which the last vector may read one
// more.
func deinterleaveRows(even, odd []float32, dstride int, src []float32, sstride, rows, n int) {
	done := deinterleaveRowsBulk(even, odd, dstride, src, sstride, rows, n)
	if done == n {
		return
	}
	for r := range rows {
		e, s := even[r*dstride:], src[r*sstride:]
		for j := done; j < n; j++ {
			e[j] = s[2*j]
		}
		if odd == nil {
			continue
		}
		o := odd[r*dstride:]
		for j := done; j < n; j++ {
			o[j] = s[2*j+1]
		}
	}
}
