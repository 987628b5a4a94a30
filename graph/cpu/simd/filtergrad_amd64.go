//go:build !purego

package simd

// filterGradAVX512 is implemented in filtergrad_amd64.s: FilterGradBlock
// with the offsets in offs[:FilterGradTaps] and the block in acc.
//
//go:noescape
func filterGradAVX512(n int, dy *float32, ldy int, src *float32, offs *int32, acc *float32)

// filterGradBlockAVX512 is FilterGradBlock with AVX-512, after checking
// that every element it reads is inside dy and src.
func filterGradBlockAVX512(n int, dy []float32, ldy int, src []float32, offs []int32, acc []float32) {
	checkFilterGradBlock(n, dy, ldy, src, offs, acc)
	if n == 0 {
		return // the assembly needs n > 0
	}
	filterGradAVX512(n, &dy[0], ldy, &src[0], &offs[0], &acc[0])
}
