//go:build !purego

package gemm

// gather32 copies, for each of the k row offsets, the four runs of eight
// elements at src + 4·(rowOff[p] + colOff[q]) bytes to dst + 128·p + 32·q
// bytes. It is implemented in gather_amd64.s with AVX; see kernel.gather.
//
//go:noescape
func gather32(dst *float32, k int, src *float32, rowOff, colOff *int32)

// gather16 is gather32 for two runs per row (rows 64 bytes apart).
//
//go:noescape
func gather16(dst *float32, k int, src *float32, rowOff, colOff *int32)
