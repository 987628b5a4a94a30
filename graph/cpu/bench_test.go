package cpu

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
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

// benchGeom is the geometry of a square image and kernel.
func benchGeom(n, c, h, k, r, s, p int) geom {
	return geom(backend.NewConvGeom(n, c, h, h, k, r, s, p))
}

// benchConvsWith runs one benchmark for each of benchConvs: setup
// allocates the operands and returns the computation to time.
func benchConvsWith(b *testing.B, setup func(g geom, ws *workspace[float32]) func()) {
	for _, bc := range benchConvs {
		b.Run(bc.name, func(b *testing.B) {
			g := benchGeom(bc.n, bc.c, bc.h, bc.k, bc.r, bc.s, bc.p)
			var ws workspace[float32]
			run := setup(g, &ws)
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(b.N*g.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

func BenchmarkConvForward(b *testing.B) {
	benchConvsWith(b, func(g geom, ws *workspace[float32]) func() {
		x, w := randSlice(g.N*g.C*g.H*g.W), randSlice(g.K*g.C*g.R*g.R)
		y := make([]float32, g.N*g.K*g.OH*g.OW)
		return func() { convForward(g, x, w, y, ws, nil) }
	})
}

func BenchmarkConvBackwardData(b *testing.B) {
	benchConvsWith(b, func(g geom, ws *workspace[float32]) func() {
		w, dy := randSlice(g.K*g.C*g.R*g.R), randSlice(g.N*g.K*g.OH*g.OW)
		dx := make([]float32, g.N*g.C*g.H*g.W)
		return func() { convBackwardData(g, w, dy, dx, ws) }
	})
}

func BenchmarkConvBackwardFilter(b *testing.B) {
	benchConvsWith(b, func(g geom, ws *workspace[float32]) func() {
		x, dy := randSlice(g.N*g.C*g.H*g.W), randSlice(g.N*g.K*g.OH*g.OW)
		dw := make([]float32, g.K*g.C*g.R*g.R)
		return func() { convBackwardFilter(g, x, dy, dw, ws) }
	})
}

func BenchmarkBatchNorm(b *testing.B) {
	s := tensor.Shape{128, 16, 32, 32}
	x, dy := randSlice(s.TotalSize()), randSlice(s.TotalSize())
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	gamma, beta := randSlice(16), randSlice(16)
	st := bnRunning{mean: make([]float32, 16), variance: make([]float32, 16), momentum: 0.1, epsilon: 1e-5}
	saved := bnSaved{mean: make([]float64, 16), invstd: make([]float64, 16)}
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			bnForward(s, x, gamma, beta, y, st, &saved, true)
		}
	})
	b.Run("backward", func(b *testing.B) {
		sums := bnSums{dy: make([]float64, 16), dyXhat: make([]float64, 16)}
		for b.Loop() {
			bnBackwardSums(s, x, dy, y, saved, sums)
			bnBackwardData(s, x, gamma, dy, y, saved, sums, dx)
		}
	})
}
