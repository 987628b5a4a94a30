package graph

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// The hot shapes of the reference network at batch 128: stage 1 (16
// channels at 32×32) and the strided entry of stage 2.
var benchConvs = []struct {
	name                string
	n, c, h, k, r, s, p int
}{
	{"16x32x32-3x3-16", 128, 16, 32, 16, 3, 1, 1},
	{"16x32x32-3x3s2-32", 128, 16, 32, 32, 3, 2, 1},
	{"32x16x16-3x3-32", 128, 32, 16, 32, 3, 1, 1},
}

func randSlice(n int) []float32 {
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func benchGeom(b *testing.B, n, c, h, k, r, s, p int) ConvGeom {
	g, err := newConvGeom(tensor.Shape{n, c, h, h}, tensor.Shape{k, c, r, r}, s, p)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func BenchmarkConvForward(b *testing.B) {
	for _, bc := range benchConvs {
		b.Run(bc.name, func(b *testing.B) {
			g := benchGeom(b, bc.n, bc.c, bc.h, bc.k, bc.r, bc.s, bc.p)
			x, w := randSlice(g.N*g.C*g.H*g.W), randSlice(g.K*g.C*g.R*g.R)
			y := make([]float32, g.N*g.K*g.OH*g.OW)
			var cols scratch[float32]
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				convForward(g, x, w, y, &cols, nil)
			}
			b.ReportMetric(float64(b.N*g.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

func BenchmarkConvBackwardData(b *testing.B) {
	for _, bc := range benchConvs {
		b.Run(bc.name, func(b *testing.B) {
			g := benchGeom(b, bc.n, bc.c, bc.h, bc.k, bc.r, bc.s, bc.p)
			w, dy := randSlice(g.K*g.C*g.R*g.R), randSlice(g.N*g.K*g.OH*g.OW)
			dx := make([]float32, g.N*g.C*g.H*g.W)
			var cols, flip scratch[float32]
			for b.Loop() {
				convBackwardData(g, w, dy, dx, &cols, &flip)
			}
			b.ReportMetric(float64(b.N*g.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

func BenchmarkConvBackwardFilter(b *testing.B) {
	for _, bc := range benchConvs {
		b.Run(bc.name, func(b *testing.B) {
			g := benchGeom(b, bc.n, bc.c, bc.h, bc.k, bc.r, bc.s, bc.p)
			x, dy := randSlice(g.N*g.C*g.H*g.W), randSlice(g.N*g.K*g.OH*g.OW)
			dw := make([]float32, g.K*g.C*g.R*g.R)
			var cols, parts scratch[float32]
			for b.Loop() {
				convBackwardFilter(g, x, dy, dw, &cols, &parts)
			}
			b.ReportMetric(float64(b.N*g.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

func BenchmarkBatchNorm(b *testing.B) {
	s := tensor.Shape{128, 16, 32, 32}
	x, dy := randSlice(s.TotalSize()), randSlice(s.TotalSize())
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	gamma, beta := randSlice(16), randSlice(16)
	op := &bnOp{state: NewBNState(16, 0.1, 1e-5), training: true, relu: true}
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			bnForward(op, s, x, gamma, beta, y)
		}
	})
	b.Run("backward", func(b *testing.B) {
		in := []*tensor.Dense{
			tensor.New(tensor.WithShape(s...), tensor.WithBacking(x)),
			tensor.New(tensor.WithShape(16), tensor.WithBacking(gamma)),
			tensor.New(tensor.WithShape(s...), tensor.WithBacking(dy)),
			tensor.New(tensor.WithShape(s...), tensor.WithBacking(y)),
		}
		g := &bnGradOp{fwd: op, wrt: bnX}
		for b.Loop() {
			op.gen++ // a new pass: the sums are recomputed
			bnBackward(g, s, in, dx)
		}
	})
}
