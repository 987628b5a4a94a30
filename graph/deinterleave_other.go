//go:build !amd64

package graph

// deinterleaveBulk has no fast path on this architecture.
func deinterleaveBulk(even, odd, src []float32) int { return 0 }
