package graph

// deinterleave sets even[i] = src[2i] for i < len(even) and, if odd is not
// nil, odd[i] = src[2i+1] for i < len(odd). src must hold those elements.
func deinterleave(even, odd, src []float32) {
	i := deinterleaveBulk(even, odd, src)
	for j := i; j < len(even); j++ {
		even[j] = src[2*j]
	}
	for j := i; j < len(odd); j++ {
		odd[j] = src[2*j+1]
	}
}

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

// deinterleaveRows does deinterleave for rows rows: row r of even (and of
// odd, if not nil) starts at r·dstride and holds n elements, row r of src
// starts at r·sstride. An odd row reads src[2n-1] of its row; with odd nil,
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
