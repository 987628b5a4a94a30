package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConvGeom is the geometry of a 2-D convolution over a batch of NCHW
// images with a KCHW filter, square kernels, equal stride and zero padding
// on both axes.
type ConvGeom struct {
	N, C, H, W int // input
	K, R       int // output channels, kernel size
	Stride     int
	Pad        int
	OH, OW     int // output height and width
}

// newConvGeom checks the shapes of an input and a filter and derives the
// output size.
func newConvGeom(x, w tensor.Shape, stride, pad int) (ConvGeom, error) {
	if len(x) != 4 {
		return ConvGeom{}, fmt.Errorf("graph: conv: input must be NCHW, got shape %v", x)
	}
	if len(w) != 4 || w[2] != w[3] {
		return ConvGeom{}, fmt.Errorf("graph: conv: filter must be K×C×R×R, got shape %v", w)
	}
	if w[1] != x[1] {
		return ConvGeom{}, fmt.Errorf("graph: conv: filter has %d input channels, input has %d", w[1], x[1])
	}
	g := ConvGeom{N: x[0], C: x[1], H: x[2], W: x[3], K: w[0], R: w[2], Stride: stride, Pad: pad}
	if stride < 1 || pad < 0 {
		return g, fmt.Errorf("graph: conv: stride %d and padding %d must be ≥ 1 and ≥ 0", stride, pad)
	}
	g.OH = (g.H+2*pad-g.R)/stride + 1
	g.OW = (g.W+2*pad-g.R)/stride + 1
	if g.OH < 1 || g.OW < 1 {
		return g, fmt.Errorf("graph: conv: a %d×%d kernel does not fit a %d×%d input with padding %d", g.R, g.R, g.H, g.W, pad)
	}
	return g, nil
}

// direct reports whether the convolution is a plain matrix product on the
// image itself (1×1 kernel, stride 1, no padding), so im2col is skipped.
func (g ConvGeom) direct() bool { return g.R == 1 && g.Stride == 1 && g.Pad == 0 }

// colRows is the number of rows of the im2col matrix: C·R·R.
func (g ConvGeom) colRows() int { return g.C * g.R * g.R }

// same reports whether the convolution has stride 1 and keeps the image
// size (R odd, padding (R-1)/2).
func (g ConvGeom) same() bool { return g.Stride == 1 && g.R%2 == 1 && 2*g.Pad == g.R-1 }

// im2colSame is im2col for a "same" stride-1 convolution. Each row of the
// patch matrix is the image plane shifted by (dy, dx) = (ki-Pad, kj-Pad):
// one flat copy of the plane at offset dy·W+dx, zeros where the shift
// leaves the plane, and the columns that wrapped around to the
// neighbouring row cleared.
func im2colSame[T float](g ConvGeom, x, col []T) {
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
func im2col[T float](g ConvGeom, x, col []T) {
	if g.same() {
		im2colSame(g, x, col)
		return
	}
	im2colGeneric(g, x, col)
}

// im2colGeneric is im2col for any geometry. For each kernel offset the
// output rows and columns that read inside the image form one rectangle,
// computed once; everything outside it is zero.
func im2colGeneric[T float](g ConvGeom, x, col []T) {
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
func col2im[T float](g ConvGeom, col, dx []T) {
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

// convForward computes y = conv(x, w) for a whole batch, images split
// across workers. If epilogue is not nil it is called on each image n and
// its output yn (K×OH·OW) right after its matrix product, while it is in
// cache.
func convForward[T float](g ConvGeom, x, w, y []T, cols *scratch[T], epilogue func(n int, yn []T)) {
	if x32, ok := any(x).([]float32); ok && (g.winogradOK() || g.gatherable()) {
		w32, y32, c32 := any(w).([]float32), any(y).([]float32), any(cols).(*scratch[float32])
		ep, _ := any(epilogue).(func(int, []float32))
		if g.winogradOK() {
			convForwardWinograd(g, x32, w32, y32, c32, ep)
		} else {
			convForwardGather(g, x32, w32, y32, c32, ep)
		}
		return
	}
	chw, ohw, rows := g.C*g.H*g.W, g.OH*g.OW, g.colRows()
	bufs := cols.get(workers(g.N), rows*ohw)
	parallel(g.N, func(wk, lo, hi int) {
		col := bufs[wk]
		for n := lo; n < hi; n++ {
			xn := x[n*chw : (n+1)*chw]
			if g.direct() {
				col = xn
			} else {
				im2col(g, xn, col)
			}
			yn := y[n*g.K*ohw : (n+1)*g.K*ohw]
			matmul(false, false, g.K, ohw, rows, w, rows, col, ohw, 0, yn, ohw)
			if epilogue != nil {
				epilogue(n, yn)
			}
		}
	})
}

// sameStride1 reports whether the convolution keeps the image size with
// stride 1 (R odd, padding (R-1)/2): its gradient with respect to the input
// is then the same kind of convolution of dy with the filter transposed and
// flipped, which needs no col2im.
func (g ConvGeom) sameStride1() bool {
	return g.Stride == 1 && g.R%2 == 1 && 2*g.Pad == g.R-1 && !g.direct()
}

// flipFilter writes into wf (C×K×R×R) the filter w (K×C×R×R) with input and
// output channels swapped and the kernel rotated by 180°.
func flipFilter[T float](g ConvGeom, w, wf []T) {
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
func convBackwardData[T float](g ConvGeom, w, dy, dx []T, cols, flipped *scratch[T]) {
	if g.sameStride1() {
		wf := flipped.get(1, len(w))[0]
		flipFilter(g, w, wf)
		t := ConvGeom{N: g.N, C: g.K, H: g.OH, W: g.OW, K: g.C, R: g.R, Stride: 1, Pad: g.Pad, OH: g.H, OW: g.W}
		convForward(t, dy, wf, dx, cols, nil)
		return
	}
	chw, ohw, rows := g.C*g.H*g.W, g.OH*g.OW, g.colRows()
	bufs := cols.get(workers(g.N), rows*ohw)
	parallel(g.N, func(wk, lo, hi int) {
		col := bufs[wk]
		for n := lo; n < hi; n++ {
			dxn, dyn := dx[n*chw:(n+1)*chw], dy[n*g.K*ohw:(n+1)*g.K*ohw]
			if g.direct() {
				matmul(true, false, rows, ohw, g.K, w, rows, dyn, ohw, 0, dxn, ohw)
				continue
			}
			matmul(true, false, rows, ohw, g.K, w, rows, dyn, ohw, 0, col, ohw)
			clear(dxn)
			col2im(g, col, dxn)
		}
	})
}

// convBackwardFilter computes dw = ∂L/∂w from x and dy. Each worker sums
// its images into a private buffer; the buffers are added at the end.
func convBackwardFilter[T float](g ConvGeom, x, dy, dw []T, cols, parts *scratch[T]) {
	if x32, ok := any(x).([]float32); ok && g.filterGatherable() {
		convBackwardFilterGather(g, x32, any(dy).([]float32), any(dw).([]float32), any(cols).(*scratch[float32]), any(parts).(*scratch[float32]))
		return
	}
	chw, ohw, rows := g.C*g.H*g.W, g.OH*g.OW, g.colRows()
	nw := workers(g.N)
	bufs := cols.get(nw, rows*ohw)
	sums := parts.get(nw, g.K*rows)
	parallel(g.N, func(wk, lo, hi int) {
		col, sum := bufs[wk], sums[wk]
		var beta T
		for n := lo; n < hi; n++ {
			xn := x[n*chw : (n+1)*chw]
			if g.direct() {
				col = xn
			} else {
				im2col(g, xn, col)
			}
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

// convOp is y = conv(x, w) without bias.
type convOp struct {
	opBase
	stride, pad int
	cols32      scratch[float32]
	cols64      scratch[float64]
}

// Conv2D convolves the NCHW input x with the K×C×R×R filter w, with the
// given stride and zero padding on each side, and no bias.
func Conv2D(x, w *G.Node, stride, pad int) (*G.Node, error) {
	if _, err := newConvGeom(x.Shape(), w.Shape(), stride, pad); err != nil {
		return nil, err
	}
	op := &convOp{opBase: newBase("Conv2D(s=%d,p=%d)", stride, pad), stride: stride, pad: pad}
	return G.ApplyOp(op, x, w)
}

func (op *convOp) Arity() int         { return 2 }
func (op *convOp) Type() hm.Type      { return fnType(tensorOf(4), tensorOf(4), tensorOf(4)) }
func (op *convOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *convOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return convShape(ds, op.stride, op.pad)
}

// convShape infers the output shape of a convolution of input ds[0] with
// filter ds[1].
func convShape(ds []G.DimSizer, stride, pad int) (tensor.Shape, error) {
	xs, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(ds, 1)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeom(xs, ws, stride, pad)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.N, g.K, g.OH, g.OW}, nil
}

func (op *convOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeom(in[0].Shape(), in[1].Shape(), op.stride, op.pad)
	if err != nil {
		return nil, err
	}
	y := op.output(prealloc, dt, g.N, g.K, g.OH, g.OW)
	if dt == tensor.Float32 {
		convForward(g, slice[float32](in[0]), slice[float32](in[1]), slice[float32](y), &op.cols32, nil)
	} else {
		convForward(g, slice[float64](in[0]), slice[float64](in[1]), slice[float64](y), &op.cols64, nil)
	}
	return y, nil
}

func (op *convOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	x, w := in[0], in[1]
	dx, err := G.ApplyOp(&convDataOp{opBase: newBase("Conv2DGradX(s=%d,p=%d)", op.stride, op.pad), fwd: op, xshape: x.Shape().Clone()}, w, grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&convFilterOp{opBase: newBase("Conv2DGradW(s=%d,p=%d)", op.stride, op.pad), fwd: op, wshape: w.Shape().Clone()}, x, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// convDataOp computes ∂L/∂x of a convolution from (w, dy).
type convDataOp struct {
	opBase
	fwd    *convOp
	xshape tensor.Shape
	flip32 scratch[float32]
	flip64 scratch[float64]
}

func (op *convDataOp) Arity() int    { return 2 }
func (op *convDataOp) Type() hm.Type { return fnType(tensorOf(4), tensorOf(4), tensorOf(4)) }
func (op *convDataOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.xshape.Clone(), nil
}
func (op *convDataOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convDataOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeom(op.xshape, in[0].Shape(), op.fwd.stride, op.fwd.pad)
	if err != nil {
		return nil, err
	}
	if !in[1].Shape().Eq(tensor.Shape{g.N, g.K, g.OH, g.OW}) {
		return nil, fmt.Errorf("graph: %s: gradient has shape %v, want %v", op.name, in[1].Shape(), tensor.Shape{g.N, g.K, g.OH, g.OW})
	}
	dx := op.output(prealloc, dt, op.xshape...)
	if dt == tensor.Float32 {
		convBackwardData(g, slice[float32](in[0]), slice[float32](in[1]), slice[float32](dx), &op.fwd.cols32, &op.flip32)
	} else {
		convBackwardData(g, slice[float64](in[0]), slice[float64](in[1]), slice[float64](dx), &op.fwd.cols64, &op.flip64)
	}
	return dx, nil
}

// convFilterOp computes ∂L/∂w of a convolution from (x, dy).
type convFilterOp struct {
	opBase
	fwd    *convOp
	wshape tensor.Shape
	part32 scratch[float32]
	part64 scratch[float64]
}

func (op *convFilterOp) Arity() int    { return 2 }
func (op *convFilterOp) Type() hm.Type { return fnType(tensorOf(4), tensorOf(4), tensorOf(4)) }
func (op *convFilterOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.wshape.Clone(), nil
}
func (op *convFilterOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convFilterOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeom(in[0].Shape(), op.wshape, op.fwd.stride, op.fwd.pad)
	if err != nil {
		return nil, err
	}
	if !in[1].Shape().Eq(tensor.Shape{g.N, g.K, g.OH, g.OW}) {
		return nil, fmt.Errorf("graph: %s: gradient has shape %v, want %v", op.name, in[1].Shape(), tensor.Shape{g.N, g.K, g.OH, g.OW})
	}
	dw := op.output(prealloc, dt, op.wshape...)
	if dt == tensor.Float32 {
		convBackwardFilter(g, slice[float32](in[0]), slice[float32](in[1]), slice[float32](dw), &op.fwd.cols32, &op.part32)
	} else {
		convBackwardFilter(g, slice[float64](in[0]), slice[float64](in[1]), slice[float64](dw), &op.fwd.cols64, &op.part64)
	}
	return dw, nil
}
