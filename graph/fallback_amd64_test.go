package graph

import "testing"

// TestConvFallbacks runs the float32 convolution checks with the AVX-512
// paths switched off, as on a CPU with AVX2 only: no Winograd, filter
// gradients through im2col, and the padded copies in Go.
func TestConvFallbacks(t *testing.T) {
	wino, deint, dw := hasWinograd, hasDeinterleaveAVX512, dwKernel
	defer func() { hasWinograd, hasDeinterleaveAVX512, dwKernel = wino, deint, dw }()
	hasWinograd, hasDeinterleaveAVX512, dwKernel = false, false, nil
	checkConvFloat32(t)
	t.Run("deinterleave", TestDeinterleaveRows)
}
