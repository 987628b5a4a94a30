package graph

import "golang.org/x/sys/cpu"

// The Winograd transforms are implemented in winograd_amd64.s.

//go:noescape
func winoInputAVX512(src *float32, wp int, dst *float32, dstride int, mask, lo, hi uint16, rows, dstep, hoff, sstep int)

//go:noescape
func winoOutputAVX512(m *float32, mstride int, y0, y1 *float32, mask, lo, hi uint16, rows, mstep, ystep, hoff int)

var hasWinograd = cpu.X86.HasAVX512F

// winoInput computes the input transform of the tiles [t0, t0+nt) (nt ≤
// 16) of rows tile rows of one channel of the zero-padded image src, whose
// rows are wp elements apart; see winoInputAVX512. Tile row r is written
// at dst[r·dstep + t0 + ξ·dstride].
func winoInput(src []float32, wp, t0, nt, rows int, dst []float32, dstride, dstep int) {
	if rows == 0 {
		return
	}
	_ = src[(2*rows+1)*wp+2*(t0+nt)+1]
	_ = dst[15*dstride+(rows-1)*dstep+t0+nt-1]
	mask, _ := laneMasks(nt)
	lo, hi := laneMasks(2 * nt)
	winoInputAVX512(&src[2*t0], wp, &dst[t0], dstride, mask, lo, hi, rows, dstep, 16, 2*wp)
}

// winoInputPairs is winoInput for an image 16 pixels wide (8 tiles a
// row), two tile rows per vector; rows is the number of pairs, and the
// tile rows' transforms are written one after the other, 8 apart.
func winoInputPairs(src []float32, wp, rows int, dst []float32, dstride int) {
	if rows == 0 {
		return
	}
	_ = src[(4*rows+1)*wp+17]
	_ = dst[15*dstride+16*rows-1]
	winoInputAVX512(&src[0], wp, &dst[0], dstride, 0xffff, 0xffff, 0xffff, rows, 16, 2*wp, 4*wp)
}

// winoOutput computes the output transform of the tiles [t0, t0+nt) (nt ≤
// 16) of rows tile rows of one output channel; see winoOutputAVX512. Tile
// row r reads m[r·mstep + t0 + ξ·mstride] and writes the output rows
// starting at y[2r·w] and y[(2r+1)·w].
func winoOutput(m []float32, mstride, mstep, t0, nt, rows int, y []float32, w int) {
	if rows == 0 {
		return
	}
	_ = m[15*mstride+(rows-1)*mstep+t0+nt-1]
	_ = y[(2*rows-1)*w+2*(t0+nt)-1]
	mask, _ := laneMasks(nt)
	lo, hi := laneMasks(2 * nt)
	winoOutputAVX512(&m[t0], mstride, &y[2*t0], &y[w+2*t0], mask, lo, hi, rows, mstep, 2*w, 16)
}

// winoOutputPairs is winoOutput for an output 16 pixels wide (8 tiles a
// row), two tile rows per vector; rows is the number of pairs.
func winoOutputPairs(m []float32, mstride, rows int, y []float32) {
	if rows == 0 {
		return
	}
	_ = m[15*mstride+16*rows-1]
	_ = y[64*rows-1]
	winoOutputAVX512(&m[0], mstride, &y[0], &y[16], 0xffff, 0xffff, 0xffff, rows, 16, 64, 32)
}
