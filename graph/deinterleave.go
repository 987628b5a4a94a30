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
