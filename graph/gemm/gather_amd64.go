package gemm

import "golang.org/x/sys/cpu"

// gather32 copies, for each of the k row offsets, the four runs of eight
// elements at src + 4·(rowOff[p] + colOff[q]) bytes to dst + 128·p + 32·q
// bytes. It is implemented in gather_amd64.s with AVX.
//
//go:noescape
func gather32(dst *float32, k int, src *float32, rowOff, colOff *int32)

// gather16 is gather32 for two runs per row (rows 64 bytes apart).
//
//go:noescape
func gather16(dst *float32, k int, src *float32, rowOff, colOff *int32)

var hasAVX = cpu.X86.HasAVX

// gatherRows is the assembly fast path of gatherPanel for full panels of
// 32 or 16 columns; it reports whether it handled the panel.
func gatherRows(dst []float32, pw int, src []float32, rowOff, segs []int32) bool {
	if !hasAVX || len(rowOff) == 0 || len(dst) < len(rowOff)*pw {
		return false
	}
	switch pw {
	case 32:
		gather32(&dst[0], len(rowOff), &src[0], &rowOff[0], &segs[0])
	case 16:
		gather16(&dst[0], len(rowOff), &src[0], &rowOff[0], &segs[0])
	default:
		return false
	}
	return true
}
