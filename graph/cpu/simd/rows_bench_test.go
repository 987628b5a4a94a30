package simd

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkRows runs each row kernel over a tensor of the size of the
// first stage of the reference network at batch 128 (8 MB), in rows of
// 32×32 as batch norm does, with each implementation this CPU has. The
// bytes are those read and written.
func BenchmarkRows(b *testing.B) {
	const n, hw = 128 * 16 * 32 * 32, 32 * 32
	rng := rand.New(rand.NewPCG(1, 1))
	x, dy, dst := simdData(rng, n, false), simdData(rng, n, false), make([]float32, n)
	y := reluOutput(rng, n)
	rows := func(b *testing.B, bytesPerElem int, fn func(lo, hi int)) {
		b.SetBytes(int64(bytesPerElem * 4 * n))
		for b.Loop() {
			for lo := 0; lo < n; lo += hw {
				fn(lo, lo+hw)
			}
		}
	}
	var sink float64
	for _, k := range impls {
		saved := active
		active = k
		b.Run(k.name+"/relu", func(b *testing.B) {
			rows(b, 2, func(lo, hi int) { ReLU(dst[lo:hi], x[lo:hi]) })
		})
		b.Run(k.name+"/add-relu", func(b *testing.B) {
			rows(b, 3, func(lo, hi int) { AddReLU(dst[lo:hi], x[lo:hi], dy[lo:hi]) })
		})
		b.Run(k.name+"/relu-mask", func(b *testing.B) {
			rows(b, 3, func(lo, hi int) { ReLUMask(dst[lo:hi], dy[lo:hi], y[lo:hi]) })
		})
		b.Run(k.name+"/scale-shift-relu", func(b *testing.B) {
			rows(b, 2, func(lo, hi int) { ScaleShift(dst[lo:hi], x[lo:hi], 0.5, 0.25, true) })
		})
		b.Run(k.name+"/stats", func(b *testing.B) {
			rows(b, 1, func(lo, hi int) { s, _ := Stats(x[lo:hi], 0.5); sink += s })
		})
		b.Run(k.name+"/bn-sums-mask", func(b *testing.B) {
			rows(b, 3, func(lo, hi int) { s, _ := BNSums(dy[lo:hi], x[lo:hi], y[lo:hi], 0.5); sink += s })
		})
		b.Run(k.name+"/bn-dx-mask", func(b *testing.B) {
			rows(b, 4, func(lo, hi int) { BNDx(dst[lo:hi], dy[lo:hi], x[lo:hi], y[lo:hi], 0.5, 0.25, 0.125) })
		})
		active = saved
	}
	_ = sink
}
