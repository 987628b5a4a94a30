package graph

import "golang.org/x/sys/cpu"

// deinterleaveAVX512 is implemented in deinterleave_amd64.s; see
// deinterleave.
//
//go:noescape
func deinterleaveAVX512(even, odd, src *float32, n int)

var hasDeinterleaveAVX512 = cpu.X86.HasAVX512F

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
