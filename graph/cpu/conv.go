package cpu

import "github.com/cifar-resnet/trainer/graph/backend"

// geom is the geometry of a convolution, with the predicates that choose
// its algorithm.
type geom backend.ConvGeom

// direct reports whether the convolution is a plain matrix product on the
// image itself (1×1 kernel, stride 1, no padding), so im2col is skipped.
func (g geom) direct() bool { return g.R == 1 && g.Stride == 1 && g.Pad == 0 }

// colRows is the number of rows of the im2col matrix: C·R·R.
func (g geom) colRows() int { return g.C * g.R * g.R }

// same reports whether the convolution has stride 1 and keeps the image
// size (R odd, padding (R-1)/2).
func (g geom) same() bool { return g.Stride == 1 && g.R%2 == 1 && 2*g.Pad == g.R-1 }

// im2colSame is im2col for a "same" stride-1 convolution. Each row of the
// patch matrix is the image plane shifted by (dy, dx) = (ki-Pad, kj-Pad):
// one flat copy of the plane at offset dy·W+dx, zeros where the shift
// leaves the plane, and the columns that wrapped around to the
// neighbouring row cleared.
func im2colSame[T float](g geom, x, col []T) {
	hw := g.H * g.W
	for c := range g.C {
		img := x[c*hw : (c+1)*hw]
		for ki := range g.R {
			for kj := range g.R {
				row := col[((c*g.R+ki)*g.R+kj)*hw:][:hw]
				dy, dx := ki-g.Pad, kj-g.Pad
				off := dy*g.W + dx
				lo, hi := max(0, -off), min(hw, hw-off)
				clear(row[:lo])
				copy(row[lo:hi], img[lo+off:hi+off])
				clear(row[hi:])
				switch {
				case dx < 0:
					for y := range g.H {
						for i := y * g.W; i < y*g.W-dx; i++ {
							row[i] = 0
						}
					}
				case dx > 0:
					for y := range g.H {
						for i := (y+1)*g.W - dx; i < (y+1)*g.W; i++ {
							row[i] = 0
						}
					}
				}
			}
		}
	}
}

// im2col writes the C·R·R × OH·OW patch matrix of one image x (C×H×W).
func im2col[T float](g geom, x, col []T) {
	if g.same() {
		im2colSame(g, x, col)
		return
	}
	im2colGeneric(g, x, col)
}

// im2colGeneric is im2col for any geometry. For each kernel offset the
// output rows and columns that read inside the image form one rectangle,
// computed once; everything outside it is zero.
func im2colGeneric[T float](g geom, x, col []T) {
	ohw := g.OH * g.OW
	// span returns the outputs o in [lo, hi) with 0 ≤ o·Stride - Pad + k < n.
	span := func(k, n, out int) (lo, hi int) {
		lo = min(out, max(0, (g.Pad-k+g.Stride-1)/g.Stride))
		hi = max(lo, min(out, (n+g.Pad-k+g.Stride-1)/g.Stride))
		return lo, hi
	}
	for c := range g.C {
		img := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for ki := range g.R {
			ylo, yhi := span(ki, g.H, g.OH)
			for kj := range g.R {
				xlo, xhi := span(kj, g.W, g.OW)
				row := col[((c*g.R+ki)*g.R+kj)*ohw:][:ohw]
				clear(row[:ylo*g.OW])
				clear(row[yhi*g.OW:])
				for oy := ylo; oy < yhi; oy++ {
					out := row[oy*g.OW : (oy+1)*g.OW]
					clear(out[:xlo])
					clear(out[xhi:])
					src := img[(oy*g.Stride-g.Pad+ki)*g.W:]
					ix := xlo*g.Stride - g.Pad + kj
					if g.Stride == 2 {
						for ox := xlo; ox < xhi; ox++ {
							out[ox] = src[ix]
							ix += 2
						}
						continue
					}
					for ox := xlo; ox < xhi; ox++ {
						out[ox] = src[ix]
						ix += g.Stride
					}
				}
			}
		}
	}
}

// col2im adds the patch matrix col back into one image dx (C×H×W), which
// the caller has zeroed.
func col2im[T float](g geom, col, dx []T) {
	ohw := g.OH * g.OW
	for c := range g.C {
		img := dx[c*g.H*g.W : (c+1)*g.H*g.W]
		for ki := range g.R {
			for kj := range g.R {
				row := col[((c*g.R+ki)*g.R+kj)*ohw:][:ohw]
				for oy := range g.OH {
					in := row[oy*g.OW : (oy+1)*g.OW]
					iy := oy*g.Stride - g.Pad + ki
					if iy < 0 || iy >= g.H {
						continue
					}
					dst := img[iy*g.W : (iy+1)*g.W]
					if g.Stride == 1 {
						lo := max(0, g.Pad-kj)
						hi := min(g.OW, g.W+g.Pad-kj)
						if hi > lo {
							d := dst[lo-g.Pad+kj : hi-g.Pad+kj]
							for i, v := range in[lo:hi] {
								d[i] += v
							}
						}
						continue
					}
					for ox := range g.OW {
						ix := ox*g.Stride - g.Pad + kj
						if ix >= 0 && ix < g.W {
							dst[ix] += in[ox]
						}
					}
				}
			}
		}
	}
}

// patches returns the patch matrix of the image xn: the image itself when
// the convolution is direct, else its im2col matrix, written into col.
func patches[T float](g geom, xn, col []T) []T {
	if g.direct() {
		return xn
	}
	im2col(g, xn, col)
	return col
}

// convForward computes y = conv(x, w) for a whole batch, images split
// across workers. If epilogue is not nil it is called on each image n and
// its output yn (K×OH·OW) right after its matrix product, while it is in
// cache.
func convForward[T float](g geom, x, w, y []T, ws *workspace[T], epilogue func(n int, yn []T)) {
	if x32, ok := any(x).([]float32); ok && (g.winogradOK() || g.gatherable()) {
		w32, y32, ws32 := any(w).([]float32), any(y).([]float32), any(ws).(*workspace[float32])
		ep, _ := any(epilogue).(func(int, []float32))
		if g.winogradOK() {
			convForwardWinograd(g, x32, w32, y32, ws32, ep)
		} else {
			convForwardGather(g, x32, w32, y32, ws32, ep)
		}
		return
	}
	chw, ohw, rows := g.C*g.H*g.W, g.OH*g.OW, g.colRows()
	eachImage(g, ws, func(n int, col []T) {
		col = patches(g, x[n*chw:(n+1)*chw], col)
		yn := y[n*g.K*ohw : (n+1)*g.K*ohw]
		matmul(false, false, g.K, ohw, rows, w, rows, col, ohw, 0, yn, ohw)
		if epilogue != nil {
			epilogue(n, yn)
		}
	})
}

// eachImage calls fn for each image n of the batch, the images split
// across workers, with a buffer col of the size of an im2col matrix that
// belongs to the worker.
func eachImage[T float](g geom, ws *workspace[T], fn func(n int, col []T)) {
	bufs := ws.cols.get(workers(g.N), g.colRows()*g.OH*g.OW)
	defer ws.cols.put(bufs)
	parallel(g.N, func(wk, lo, hi int) {
		for n := lo; n < hi; n++ {
			fn(n, bufs[wk])
		}
	})
}

// sameStride1 reports whether the convolution keeps the image size with
// stride 1 (R odd, padding (R-1)/2): its gradient with respect to the input
// is then the same kind of convolution of dy with the filter transposed and
// flipped, which needs no col2im.
func (g geom) sameStride1() bool {
	return g.Stride == 1 && g.R%2 == 1 && 2*g.Pad == g.R-1 && !g.direct()
}

// flipFilter writes into wf (C×K×R×R) the filter w (K×C×R×R) with input and
// output channels swapped and the kernel rotated by 180°.
func flipFilter[T float](g geom, w, wf []T) {
	rr := g.R * g.R
	for k := range g.K {
		for c := range g.C {
			src := w[(k*g.C+c)*rr:][:rr]
			dst := wf[(c*g.K+k)*rr:][:rr]
			for i, v := range src {
				dst[rr-1-i] = v
			}
		}
	}
}

// convBackwardData computes dx = ∂L/∂x from dy and w.
func convBackwardData[T float](g geom, w, dy, dx []T, ws *workspace[T]) {
	if g.sameStride1() {
		flip := ws.flip.get(1, len(w))
		defer ws.flip.put(flip)
		wf := flip[0]
		flipFilter(g, w, wf)
		t := geom{N: g.N, C: g.K, H: g.OH, W: g.OW, K: g.C, R: g.R, Stride: 1, Pad: g.Pad, OH: g.H, OW: g.W}
		convForward(t, dy, wf, dx, ws, nil)
		return
	}
	chw, ohw, rows := g.C*g.H*g.W, g.OH*g.OW, g.colRows()
	eachImage(g, ws, func(n int, col []T) {
		dxn, dyn := dx[n*chw:(n+1)*chw], dy[n*g.K*ohw:(n+1)*g.K*ohw]
		if g.direct() {
			matmul(true, false, rows, ohw, g.K, w, rows, dyn, ohw, 0, dxn, ohw)
			return
		}
		matmul(true, false, rows, ohw, g.K, w, rows, dyn, ohw, 0, col, ohw)
		clear(dxn)
		col2im(g, col, dxn)
	})
}

// convBackwardFilter computes dw = ∂L/∂w from x and dy. Each worker sums
// its images into a private buffer; the buffers are added at the end.
func convBackwardFilter[T float](g geom, x, dy, dw []T, ws *workspace[T]) {
	if x32, ok := any(x).([]float32); ok && g.filterGatherable() {
		convBackwardFilterGather(g, x32, any(dy).([]float32), any(dw).([]float32), any(ws).(*workspace[float32]))
		return
	}
	chw, ohw, rows := g.C*g.H*g.W, g.OH*g.OW, g.colRows()
	nw := workers(g.N)
	bufs := ws.cols.get(nw, rows*ohw)
	defer ws.cols.put(bufs)
	sums := ws.parts.get(nw, g.K*rows)
	defer ws.parts.put(sums)
	parallel(g.N, func(wk, lo, hi int) {
		sum := sums[wk]
		var beta T
		for n := lo; n < hi; n++ {
			col := patches(g, x[n*chw:(n+1)*chw], bufs[wk])
			matmul(false, true, g.K, rows, ohw, dy[n*g.K*ohw:(n+1)*g.K*ohw], ohw, col, ohw, beta, sum, rows)
			beta = 1
		}
	})
	copy(dw, sums[0])
	for _, s := range sums[1:] {
		for i, v := range s {
			dw[i] += v
		}
	}
}
