package simd

// Winograd F(2×2, 3×3) transforms (Lavin and Gray, 2016). A 3×3 "same"
// convolution is computed on 2×2 output tiles, each read from the 4×4
// input pixels d around it; with the filter transformed to U = G·g·Gᵀ,
//
//	Y = Aᵀ·[Σ_c U_c ⊙ (Bᵀ·d_c·B)]·A
//
// WinogradInput computes V = Bᵀ·d·B and WinogradOutput Y = Aᵀ·M·A for
// whole rows of tiles; the 16 values ξ = 4i+j of V and M are stored ξ
// rows apart, so that the sum over channels is 16 matrix products. B and A
// hold only 0 and ±1: the transforms are additions and subtractions, and
// every version computes the same bits.

// WinogradInput computes the input transform of the tiles t < tiles of
// rows tile rows of one channel of a zero-padded image src, whose rows are
// wp elements apart: tile (r, t) covers the pixels
// src[(2r+i)·wp + 2t + j], i, j < 4, and its value ξ goes to
// dst[ξ·dstride + r·dstep + t].
func WinogradInput(src []float32, wp, tiles, rows int, dst []float32, dstride, dstep int) {
	active.winogradInput(src, wp, tiles, rows, dst, dstride, dstep)
}

// WinogradOutput computes the output transform of the tiles t < tiles of
// rows tile rows of one output channel: tile (r, t) reads its value ξ at
// m[ξ·mstride + r·mstep + t] and writes the 2×2 outputs y[(2r+i)·w + 2t +
// j], i, j < 2.
func WinogradOutput(m []float32, mstride, mstep, tiles, rows int, y []float32, w int) {
	active.winogradOutput(m, mstride, mstep, tiles, rows, y, w)
}

// winogradInputGo is WinogradInput in Go, in the order of operations of
// the assembly: the columns of each pixel row first, then the rows.
func winogradInputGo(src []float32, wp, tiles, rows int, dst []float32, dstride, dstep int) {
	for r := range rows {
		for t := range tiles {
			var c [4][4]float32 // c[i] = row i of d·B
			for i := range 4 {
				o := (2*r+i)*wp + 2*t
				d0, d1, d2, d3 := src[o], src[o+1], src[o+2], src[o+3]
				c[i] = [4]float32{d0 - d2, d1 + d2, d2 - d1, d1 - d3}
			}
			o := r*dstep + t
			for j := range 4 {
				dst[j*dstride+o] = c[0][j] - c[2][j]
				dst[(4+j)*dstride+o] = c[1][j] + c[2][j]
				dst[(8+j)*dstride+o] = c[2][j] - c[1][j]
				dst[(12+j)*dstride+o] = c[1][j] - c[3][j]
			}
		}
	}
}

// winogradOutputGo is WinogradOutput in Go, in the order of operations of
// the assembly.
func winogradOutputGo(m []float32, mstride, mstep, tiles, rows int, y []float32, w int) {
	for r := range rows {
		for t := range tiles {
			o := r*mstep + t
			var a [4][2]float32 // a[i] = row i of M·A
			for i := range 4 {
				m0, m1 := m[4*i*mstride+o], m[(4*i+1)*mstride+o]
				m2, m3 := m[(4*i+2)*mstride+o], m[(4*i+3)*mstride+o]
				a[i] = [2]float32{m0 + m1 + m2, m1 - m2 - m3}
			}
			for j := range 2 {
				y[2*r*w+2*t+j] = a[0][j] + a[1][j] + a[2][j]
				y[(2*r+1)*w+2*t+j] = a[1][j] - a[2][j] - a[3][j]
			}
		}
	}
}
