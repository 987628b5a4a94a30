package cpu

import (
	"sync"

	"github.com/cifar-resnet/trainer/graph/cpu/gemm"
	"github.com/cifar-resnet/trainer/graph/cpu/simd"
)

// Winograd F(2×2, 3×3) computes a 3×3 "same" convolution on 2×2 output
// tiles with 16 multiplications per tile and channel pair instead of 36
// (Lavin and Gray, 2016). For a tile d (4×4 input pixels) and a filter g:
//
//	Y = Aᵀ·[Σ_c (G·g_c·Gᵀ) ⊙ (Bᵀ·d_c·B)]·A
//
// With U = G·g·Gᵀ transformed once per batch and V = Bᵀ·d·B per image,
// the sum over channels is, for each of the 16 positions ξ of the 4×4
// products, a matrix product M_ξ (K × tiles) = U_ξ (K × C) · V_ξ (C ×
// tiles), done by gemm.SgemmPacked. The transforms are those of package
// simd (AVX-512 assembly where the CPU has it).

// winogradOK reports whether g is a 3×3, stride-1 convolution with padding
// 1 over an image of even height and width, which convForward then
// computes with Winograd F(2×2, 3×3) when the transforms are vector code
// (see vectorConv).
func (g geom) winogradOK() bool {
	return vectorConv && g.R == 3 && g.Stride == 1 && g.Pad == 1 && g.H%2 == 0 && g.W%2 == 0 && g.H > 0 && g.W > 0 && g.planFits()
}

// winoFilters is the filter of a convolution transformed and packed for
// the 16 products.
type winoFilters struct {
	u  []float32
	pa [16]gemm.PackedA
}

var winoPool = sync.Pool{New: func() any { return new(winoFilters) }}

// transform sets f to U = G·g·Gᵀ of the K×C×3×3 filter w, with
// G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], and packs U_ξ (K×C) for each ξ.
func (f *winoFilters) transform(k, c int, w []float32) {
	if cap(f.u) < 16*k*c {
		f.u = make([]float32, 16*k*c)
	}
	f.u = f.u[:16*k*c]
	for kc := range k * c {
		g := w[kc*9 : kc*9+9 : kc*9+9]
		// t = G·g (4×3), then u = t·Gᵀ (4×4).
		var t [4][3]float32
		for j := range 3 {
			g0, g1, g2 := g[j], g[3+j], g[6+j]
			t[0][j] = g0
			t[1][j] = (g0 + g1 + g2) / 2
			t[2][j] = (g0 - g1 + g2) / 2
			t[3][j] = g2
		}
		for i := range 4 {
			r := t[i]
			u := [4]float32{r[0], (r[0] + r[1] + r[2]) / 2, (r[0] - r[1] + r[2]) / 2, r[2]}
			for j, v := range u {
				f.u[(4*i+j)*k*c+kc] = v
			}
		}
	}
	for xi := range 16 {
		f.pa[xi].Pack(k, c, f.u[xi*k*c:(xi+1)*k*c], c)
	}
}

// convForwardWinograd is convForward for float32 when g.winogradOK().
func convForwardWinograd(g geom, x, w, y []float32, ws *workspace[float32], epilogue func(n int, yn []float32)) {
	th, tw := g.H/2, g.W/2
	tiles := th * tw
	// The tiles are read from the zero-padded image: the source buffer of
	// a gather plan of the convolution itself.
	p := planFor(g)
	f := winoPool.Get().(*winoFilters)
	defer winoPool.Put(f)
	f.transform(g.K, g.C, w)
	chw, hw := g.C*g.H*g.W, g.H*g.W
	// The rows of V_ξ and M_ξ are padded by one cache line, so that the 16
	// values of a tile, which are a whole number of rows apart, do not all
	// fall in the same cache set.
	ld := tiles + 16
	nsrc, nv := p.srcLen(), 16*g.C*ld
	bufs := ws.cols.get(workers(g.N), nsrc+nv+16*g.K*ld)
	defer ws.cols.put(bufs)
	plane := p.hq * p.wq
	parallel(g.N, func(wk, lo, hi int) {
		buf := bufs[wk]
		src, v, m := buf[:nsrc], buf[nsrc:nsrc+nv], buf[nsrc+nv:]
		for n := lo; n < hi; n++ {
			p.fill(x[n*chw:(n+1)*chw], src)
			for c := range g.C {
				pl := src[c*plane : (c+1)*plane]
				simd.WinogradInput(pl, p.wq, tw, th, v[c*ld:], g.C*ld, tw)
			}
			for xi := range 16 {
				gemm.SgemmPacked(&f.pa[xi], tiles, v[xi*g.C*ld:(xi+1)*g.C*ld], ld, m[xi*g.K*ld:(xi+1)*g.K*ld], ld)
			}
			yn := y[n*g.K*hw : (n+1)*g.K*hw]
			for k := range g.K {
				simd.WinogradOutput(m[k*ld:], g.K*ld, tw, tw, th, yn[k*hw:(k+1)*hw], g.W)
			}
			if epilogue != nil {
				epilogue(n, yn)
			}
		}
	})
}
