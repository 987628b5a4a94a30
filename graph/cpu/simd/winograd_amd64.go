//go:build !purego

package simd

// The Winograd transforms are implemented in winograd_amd64.s.

//go:noescape
func winoInputAVX512(src *float32, wp int, dst *float32, dstride int, mask, lo, hi uint16, rows, dstep, hoff, sstep int)

//go:noescape
func winoOutputAVX512(m *float32, mstride int, y0, y1 *float32, mask, lo, hi uint16, rows, mstep, ystep, hoff int)

// winogradInputAVX512 is WinogradInput with AVX-512, one tile per lane, 16
// tiles of a row at a time, or, for rows of 8 tiles stored one after the
// other, two tile rows per vector.
func winogradInputAVX512(src []float32, wp, tiles, rows int, dst []float32, dstride, dstep int) {
	if rows == 0 || tiles == 0 {
		return
	}
	if tiles == 8 && dstep == 8 && rows%2 == 0 {
		pairs := rows / 2
		_ = src[(4*pairs+1)*wp+17]
		_ = dst[15*dstride+16*pairs-1]
		winoInputAVX512(&src[0], wp, &dst[0], dstride, 0xffff, 0xffff, 0xffff, pairs, 16, 2*wp, 4*wp)
		return
	}
	for t0 := 0; t0 < tiles; t0 += 16 {
		nt := min(16, tiles-t0)
		_ = src[(2*rows+1)*wp+2*(t0+nt)+1]
		_ = dst[15*dstride+(rows-1)*dstep+t0+nt-1]
		mask, _ := laneMasks(nt)
		lo, hi := laneMasks(2 * nt)
		winoInputAVX512(&src[2*t0], wp, &dst[t0], dstride, mask, lo, hi, rows, dstep, 16, 2*wp)
	}
}

// winogradOutputAVX512 is WinogradOutput with AVX-512, one tile per lane,
// 16 tiles of a row at a time, or, for an output 16 pixels wide whose rows
// of 8 tiles are stored one after the other, two tile rows per vector.
func winogradOutputAVX512(m []float32, mstride, mstep, tiles, rows int, y []float32, w int) {
	if rows == 0 || tiles == 0 {
		return
	}
	if tiles == 8 && mstep == 8 && w == 16 && rows%2 == 0 {
		pairs := rows / 2
		_ = m[15*mstride+16*pairs-1]
		_ = y[64*pairs-1]
		winoOutputAVX512(&m[0], mstride, &y[0], &y[16], 0xffff, 0xffff, 0xffff, pairs, 16, 64, 32)
		return
	}
	for t0 := 0; t0 < tiles; t0 += 16 {
		nt := min(16, tiles-t0)
		_ = m[15*mstride+(rows-1)*mstep+t0+nt-1]
		_ = y[(2*rows-1)*w+2*(t0+nt)-1]
		mask, _ := laneMasks(nt)
		lo, hi := laneMasks(2 * nt)
		winoOutputAVX512(&m[t0], mstride, &y[2*t0], &y[w+2*t0], mask, lo, hi, rows, mstep, 2*w, 16)
	}
}
