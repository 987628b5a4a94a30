//go:build !amd64

package graph

// copyRowsBulk has no fast path on this architecture.
func copyRowsBulk(dst []float32, dstride int, src []float32, sstride, rows, w int) int { return 0 }

// deinterleaveRowsBulk has no fast path on this architecture.
func deinterleaveRowsBulk(even, odd []float32, dstride int, src []float32, sstride, rows, n int) int {
	return 0
}
