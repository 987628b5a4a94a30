package cpu

import (
	"math"
	"sync"

	"github.com/cifar-resnet/trainer/graph/cpu/gemm"
	"github.com/cifar-resnet/trainer/graph/cpu/simd"
)

// A gather plan computes a float32 convolution without an im2col matrix.
// Each image is copied once, zero-padded, into a source buffer split into
// stride² phase planes: phase (a, b) holds the padded pixels (i·s+a, j·s+b).
// Filter tap (c, ki, kj) then reads, for the outputs (y, x), the pixels
// (y + ki/s, x + kj/s) of phase (ki mod s, kj mod s) of channel c, so each
// row of the patch matrix is the source buffer at a fixed offset, read in
// runs of gemm.Segment outputs that stay within one output row. The
// product is gemm.SgemmGather of the packed filter with those runs.
type gatherPlan struct {
	g      geom
	hq, wq int     // size of a phase plane
	phases []int   // slot of each phase a·s+b in the source buffer, -1 if unused
	nslots int     // phases used by some tap
	rowOff []int32 // start of each filter tap (c, ki, kj) in the source buffer
	colOff []int32 // start of each run of outputs relative to a tap's start
	dwOff  []int32 // rowOff padded to a multiple of dwTaps with its last tap
}

// gatherable reports whether g can be computed by a gather plan: the
// output rows split into whole runs, and the convolution is not a plain
// matrix product already.
func (g geom) gatherable() bool {
	return !g.direct() && g.OW%gemm.Segment == 0 && g.planFits()
}

// planFits reports whether the offsets of g's gather plan fit in int32.
func (g geom) planFits() bool {
	s := g.Stride
	hq, wq := (g.H+2*g.Pad+s-1)/s, (g.W+2*g.Pad+s-1)/s
	return int64(s*s)*int64(g.C)*int64(hq)*int64(wq) < math.MaxInt32
}

// plans caches the gather plans by geometry (with N = 0).
var plans sync.Map

// planFor returns the gather plan of g, for which planFits must hold; its
// column offsets are meaningful only when g is gatherable.
func planFor(g geom) *gatherPlan {
	g.N = 0
	if p, ok := plans.Load(g); ok {
		return p.(*gatherPlan)
	}
	s := g.Stride
	p := &gatherPlan{g: g, hq: (g.H + 2*g.Pad + s - 1) / s, wq: (g.W + 2*g.Pad + s - 1) / s}
	p.phases = make([]int, s*s)
	for i := range p.phases {
		p.phases[i] = -1
	}
	for ki := range g.R {
		for kj := range g.R {
			if ph := ki%s*s + kj%s; p.phases[ph] < 0 {
				p.phases[ph] = p.nslots
				p.nslots++
			}
		}
	}
	plane := p.hq * p.wq
	p.rowOff = make([]int32, g.colRows())
	for c := range g.C {
		for ki := range g.R {
			for kj := range g.R {
				slot := p.phases[ki%s*s+kj%s]
				p.rowOff[(c*g.R+ki)*g.R+kj] = int32((slot*g.C+c)*plane + ki/s*p.wq + kj/s)
			}
		}
	}
	p.dwOff = make([]int32, (len(p.rowOff)+dwTaps-1)/dwTaps*dwTaps)
	copy(p.dwOff, p.rowOff)
	for i := len(p.rowOff); i < len(p.dwOff); i++ {
		p.dwOff[i] = p.rowOff[len(p.rowOff)-1] // computed and dropped
	}
	p.colOff = make([]int32, g.OH*g.OW/gemm.Segment)
	for q := range p.colOff {
		j := q * gemm.Segment
		p.colOff[q] = int32(j/g.OW*p.wq + j%g.OW)
	}
	v, _ := plans.LoadOrStore(g, p)
	return v.(*gatherPlan)
}

// srcLen is the number of elements of one image's source buffer.
func (p *gatherPlan) srcLen() int { return p.nslots * p.g.C * p.hq * p.wq }

// fill writes the padded, phase-split copy of the image x (C×H×W) into src.
func (p *gatherPlan) fill(x, src []float32) {
	switch p.g.Stride {
	case 1:
		p.fill1(x, src)
		return
	case 2:
		p.fill2(x, src)
		return
	}
	g, s := p.g, p.g.Stride
	plane := p.hq * p.wq
	for ph, slot := range p.phases {
		if slot < 0 {
			continue
		}
		a, b := ph/s, ph%s
		for c := range g.C {
			img := x[c*g.H*g.W : (c+1)*g.H*g.W]
			dst := src[(slot*g.C+c)*plane : (slot*g.C+c+1)*plane]
			for i := range p.hq {
				row := dst[i*p.wq : (i+1)*p.wq]
				iy := i*s + a - g.Pad
				if iy < 0 || iy >= g.H {
					clear(row)
					continue
				}
				in := img[iy*g.W : (iy+1)*g.W]
				// Pixels j·s + b - Pad inside the row, for j in [jlo, jhi).
				jlo := min(p.wq, max(0, (g.Pad-b+s-1)/s))
				jhi := max(jlo, min(p.wq, (g.W+g.Pad-b+s-1)/s))
				clear(row[:jlo])
				clear(row[jhi:])
				ix := jlo*s + b - g.Pad
				for j := jlo; j < jhi; j++ {
					row[j] = in[ix]
					ix += s
				}
			}
		}
	}
}

// fill1 is fill for stride 1: each plane is cleared, then the image rows
// are copied inside the border.
func (p *gatherPlan) fill1(x, src []float32) {
	g := p.g
	plane := p.hq * p.wq
	for c := range g.C {
		dst := src[c*plane : (c+1)*plane]
		clear(dst)
		simd.CopyRows(dst[g.Pad*p.wq+g.Pad:], p.wq, x[c*g.H*g.W:(c+1)*g.H*g.W], g.W, g.H, g.W)
	}
}

// fill2 is fill for stride 2: the two phases of a row, b = 0 and 1, take
// the even and the odd pixels of an image row (which is which depends on
// the padding), split in one pass by deinterleaveRows over the rows of a
// channel, inside planes cleared first.
func (p *gatherPlan) fill2(x, src []float32) {
	g := p.g
	plane := p.hq * p.wq
	// For phase b: the first output column jlo inside the image, the
	// parity of its pixel (2·jlo + b - Pad, 0 or 1) and the count.
	var jlo, par, cnt [2]int
	for b := range 2 {
		jlo[b] = min(p.wq, max(0, (g.Pad-b+1)/2))
		par[b] = 2*jlo[b] + b - g.Pad
		cnt[b] = max(0, min(p.wq-jlo[b], (g.W-par[b]+1)/2))
	}
	for a := range 2 {
		slots := [2]int{p.phases[2*a], p.phases[2*a+1]}
		if slots[0] < 0 && slots[1] < 0 {
			continue
		}
		// Rows i of the phase planes inside the image: 0 ≤ 2i + a - Pad < H.
		ilo := min(p.hq, max(0, (g.Pad-a+1)/2))
		ihi := max(ilo, min(p.hq, (g.H+g.Pad-a+1)/2))
		for c := range g.C {
			img := x[c*g.H*g.W : (c+1)*g.H*g.W]
			var dst [2][]float32 // destinations of the even and odd pixels
			var n [2]int
			for b, slot := range slots {
				if slot < 0 {
					continue
				}
				pl := src[(slot*g.C+c)*plane : (slot*g.C+c+1)*plane]
				clear(pl)
				if ihi > ilo && cnt[b] > 0 {
					dst[par[b]], n[par[b]] = pl[ilo*p.wq+jlo[b]:], cnt[b]
				}
			}
			if ihi == ilo {
				continue
			}
			in := img[(2*ilo+a-g.Pad)*g.W:]
			switch {
			case dst[0] != nil && dst[1] != nil && n[0] == n[1]:
				simd.DeinterleaveRows(dst[0], dst[1], p.wq, in, 2*g.W, ihi-ilo, n[0])
			default:
				if dst[0] != nil {
					simd.DeinterleaveRows(dst[0], nil, p.wq, in, 2*g.W, ihi-ilo, n[0])
				}
				if dst[1] != nil {
					simd.DeinterleaveRows(dst[1], nil, p.wq, in[1:], 2*g.W, ihi-ilo, n[1])
				}
			}
		}
	}
}

// packedFilters holds filters packed for gemm.SgemmGather between calls.
var packedFilters = sync.Pool{New: func() any { return new(gemm.PackedA) }}

// convForwardGather is convForward for float32 and a gatherable geometry.
func convForwardGather(g geom, x, w, y []float32, ws *workspace[float32], epilogue func(n int, yn []float32)) {
	p := planFor(g)
	pa := packedFilters.Get().(*gemm.PackedA)
	defer packedFilters.Put(pa)
	rows := g.colRows()
	pa.Pack(g.K, rows, w, rows)
	chw, ohw := g.C*g.H*g.W, g.OH*g.OW
	bufs := ws.cols.get(workers(g.N), p.srcLen())
	defer ws.cols.put(bufs)
	parallel(g.N, func(wk, lo, hi int) {
		src := bufs[wk]
		for n := lo; n < hi; n++ {
			p.fill(x[n*chw:(n+1)*chw], src)
			yn := y[n*g.K*ohw : (n+1)*g.K*ohw]
			gemm.SgemmGather(pa, ohw, src, p.rowOff, p.colOff, yn, ohw)
			if epilogue != nil {
				epilogue(n, yn)
			}
		}
	})
}

// The filter gradient of a gathered convolution is computed as dot
// products over the output positions, dwRows output channels by dwTaps
// filter taps at a time (simd.FilterGradBlock), dwLanes positions per
// vector. The positions are those of the phase planes, wq per output row:
// the dy rows are widened to that layout with zeros in the columns past
// the output's width, so every tap reads one contiguous run of the source
// buffer.
const dwRows, dwTaps, dwLanes = simd.FilterGradRows, simd.FilterGradTaps, simd.FilterGradLanes

// vectorConv reports whether the convolutions use the algorithms built on
// the Winograd transforms and the filter-gradient block of package simd,
// which beat im2col only where those are vector code. Tests set it to run
// the algorithms on the portable routines.
var vectorConv = simd.FastConv()

// filterGatherable reports whether convBackwardFilterGather computes the
// filter gradient of g.
func (g geom) filterGatherable() bool {
	return vectorConv && g.gatherable() && g.K%dwRows == 0
}

// convBackwardFilterGather is convBackwardFilter for float32 and a
// geometry where filterGatherable holds.
func convBackwardFilterGather(g geom, x, dy, dw []float32, ws *workspace[float32]) {
	p := planFor(g)
	wide := g.OH * p.wq
	ld := (wide + dwLanes - 1) / dwLanes * dwLanes // the widened dy rows, padded to whole vectors
	rows := g.colRows()
	ntb, nkb := (rows+dwTaps-1)/dwTaps, g.K/dwRows
	offs := p.dwOff
	block := dwRows * dwTaps * dwLanes
	nw := workers(g.N)
	// A tap reads ld elements from its start: those of the widened rows
	// past the last phase plane come from a zeroed tail.
	srcs := ws.cols.get(nw, p.srcLen()+ld-wide+p.wq)
	defer ws.cols.put(srcs)
	bufs := ws.parts.get(nw, g.K*ld+nkb*ntb*block)
	defer ws.parts.put(bufs)
	chw, ohw := g.C*g.H*g.W, g.OH*g.OW
	parallel(g.N, func(wk, lo, hi int) {
		src, buf := srcs[wk], bufs[wk]
		clear(src[p.srcLen():])
		clear(buf)
		dyw, acc := buf[:g.K*ld], buf[g.K*ld:]
		for n := lo; n < hi; n++ {
			p.fill(x[n*chw:(n+1)*chw], src)
			dyn := dy[n*g.K*ohw : (n+1)*g.K*ohw]
			for k := range g.K {
				for y := range g.OH {
					copy(dyw[k*ld+y*p.wq:][:g.OW], dyn[k*ohw+y*g.OW:][:g.OW])
				}
			}
			for kb := range nkb {
				for tb := range ntb {
					simd.FilterGradBlock(ld/dwLanes, dyw[kb*dwRows*ld:], ld, src, offs[tb*dwTaps:], acc[(kb*ntb+tb)*block:])
				}
			}
		}
	})
	clear(dw)
	for _, buf := range bufs {
		acc := buf[g.K*ld:]
		for kb := range nkb {
			for tb := range ntb {
				blk := acc[(kb*ntb+tb)*block:][:block]
				for t := range min(dwTaps, rows-tb*dwTaps) {
					for r := range dwRows {
						var s float32
						for _, v := range blk[(t*dwRows+r)*dwLanes:][:dwLanes] {
							s += v
						}
						dw[(kb*dwRows+r)*rows+tb*dwTaps+t] += s
					}
				}
			}
		}
	}
}
