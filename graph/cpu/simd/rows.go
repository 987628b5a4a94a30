package simd

// Row functions for the float32 elementwise passes (ReLU, batch norm, the
// bias of the folded convolution). They run the bulk of a row through the
// row kernels of the active implementation (assembly on amd64, see
// rows_amd64.go) and the rest, or all of it where there are none, through
// the Go loops of this file, which compute the same bits.
//
// The elementwise kernels match the Go loops exactly. Their arithmetic
// rounds every product before the addition that follows it: the explicit
// float32 conversions in the Go loops forbid the compiler to fuse them
// into FMAs (which it does on arm64, and on amd64 from GOAMD64=v3).
//
// NaNs: ReLU and the ReLU mask work on the bits, so relu32 and the vector
// kernels agree on every input, NaNs included (a NaN with the sign bit
// clear is kept as is, one with the sign bit set becomes +0). The kernels
// that add or multiply produce a NaN where the Go loops do, but when both
// operands of an addition are NaNs, which of the two propagates (and so
// whether the ReLU after it keeps it) depends on the operand order the
// compiler picked.

// ReLU sets dst[i] = max(src[i], 0), computed on the bits: -0 and NaNs
// with the sign bit set become +0. src must be at least as long as dst;
// dst and src may be the same slice.
func ReLU(dst, src []float32) {
	src = src[:len(dst)]
	k := active
	i := k.bulk(len(dst))
	if i > 0 {
		k.relu(&dst[0], &src[0], i)
	}
	for j, v := range src[i:] {
		dst[i+j] = relu32(v)
	}
}

// AddReLU sets dst[i] = max(a[i] + b[i], 0), the maximum as in ReLU.
func AddReLU(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	k := active
	i := k.bulk(len(dst))
	if i > 0 {
		k.addReLU(&dst[0], &a[0], &b[0], i)
	}
	bs := b[i:]
	for j, v := range a[i:] {
		dst[i+j] = relu32(v + bs[j])
	}
}

// ReLUMask sets dst[i] to dy[i] where the bits of y[i] are not all zero
// (y[i] > 0 for a ReLU output), else to +0: the gradient of ReLU.
func ReLUMask(dst, dy, y []float32) {
	dy, y = dy[:len(dst)], y[:len(dst)]
	k := active
	i := k.bulk(len(dst))
	if i > 0 {
		k.reluMask(&dst[0], &dy[0], &y[0], i)
	}
	ys := y[i:]
	for j, d := range dy[i:] {
		dst[i+j] = mask32(d, ys[j])
	}
}

// ScaleShift sets dst[i] = src[i]·scale + shift, followed by the maximum
// of ReLU when relu is set. dst and src may be the same slice.
func ScaleShift(dst, src []float32, scale, shift float32, relu bool) {
	src = src[:len(dst)]
	k := active
	i := k.bulk(len(dst))
	if i > 0 {
		if relu {
			k.scaleShiftReLU(&dst[0], &src[0], i, scale, shift)
		} else {
			k.scaleShift(&dst[0], &src[0], i, scale, shift)
		}
	}
	if relu {
		for j, v := range src[i:] {
			dst[i+j] = relu32(float32(v*scale) + shift)
		}
		return
	}
	for j, v := range src[i:] {
		dst[i+j] = float32(v*scale) + shift
	}
}

// AddBias sets row[i] += b, followed by the maximum of ReLU when relu is
// set. It
// is ScaleShift with scale 1, which changes no value.
func AddBias(row []float32, b float32, relu bool) {
	ScaleShift(row, row, 1, b, relu)
}

// Stats returns Σd and Σd² over the row for d = v - ref (d rounded to
// float32), for the batch statistics.
func Stats(src []float32, ref float32) (sum, sq float64) {
	k := active
	i := k.bulk(len(src))
	if i > 0 {
		sum, sq = k.stats(&src[0], i, ref)
	}
	var ps, pq float32
	for _, v := range src[i:] {
		d := v - ref
		ps += d
		pq += d * d
	}
	return sum + float64(ps), sq + float64(pq)
}

// BNSums returns Σd and Σd·(x-mean) over the row for d = dy, or dy
// masked by y as ReLUMask does when y is not nil (x - mean rounded to
// float32), for the batch norm gradients.
func BNSums(dy, x, y []float32, mean float32) (a, b float64) {
	x = x[:len(dy)]
	if y != nil {
		y = y[:len(dy)]
	}
	k := active
	i := k.bulk(len(dy))
	if i > 0 {
		if y != nil {
			a, b = k.bnSumsMask(&dy[0], &x[0], &y[0], i, mean)
		} else {
			a, b = k.bnSums(&dy[0], &x[0], i, mean)
		}
	}
	var pa, pb float32
	xs := x[i:]
	if y != nil {
		ys := y[i:]
		for j, d := range dy[i:] {
			d = mask32(d, ys[j])
			pa += d
			pb += d * (xs[j] - mean)
		}
	} else {
		for j, d := range dy[i:] {
			pa += d
			pb += d * (xs[j] - mean)
		}
	}
	return a + float64(pa), b + float64(pb)
}

// BNDx sets dst[i] = (k·d + a·x[i]) + b for d = dy[i], or dy[i] masked
// by y[i] as ReLUMask does when y is not nil: the input gradient of batch
// norm.
func BNDx(dst, dy, x, y []float32, k, a, b float32) {
	dy, x = dy[:len(dst)], x[:len(dst)]
	if y != nil {
		y = y[:len(dst)]
	}
	s := active
	i := s.bulk(len(dst))
	if i > 0 {
		if y != nil {
			s.bnDxMask(&dst[0], &dy[0], &x[0], &y[0], i, k, a, b)
		} else {
			s.bnDx(&dst[0], &dy[0], &x[0], i, k, a, b)
		}
	}
	ds, xs := dy[i:], x[i:]
	if y != nil {
		ys := y[i:]
		for j := range dst[i:] {
			dst[i+j] = float32(float32(k*mask32(ds[j], ys[j]))+float32(a*xs[j])) + b
		}
		return
	}
	for j := range dst[i:] {
		dst[i+j] = float32(float32(k*ds[j])+float32(a*xs[j])) + b
	}
}
