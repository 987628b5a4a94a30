package kernels_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
)

// bnInput returns an N×C×HW input whose channels differ in offset and
// scale, channel 3 being constant (variance 0). With hard, channel 2 has
// a large mean and a small spread, ill-conditioned for Σx² - (Σx)²/m; the
// statistics must still be right (the normalised output is then
// inaccurate in float32, on the CPU as well).
func bnInput(b kernels.BN, hard bool) []float32 {
	x := randoms(20, b.N*b.C*b.HW)
	for i := range x {
		c := i / b.HW % b.C
		switch {
		case c == 2 && hard:
			x[i] = x[i]*0.1 + 1e4
		case c == 3:
			x[i] = 2
		default:
			x[i] = x[i]*float32(c+1) + float32(5*c)
		}
	}
	return x
}

// bnStatsRef returns the batch mean, biased variance and unbiased
// variance of each channel.
func bnStatsRef(b kernels.BN, x []float32) (mean, variance, unbiased []float64) {
	mean, variance, unbiased = make([]float64, b.C), make([]float64, b.C), make([]float64, b.C)
	m := float64(b.N * b.HW)
	for c := range b.C {
		for n := range b.N {
			for _, v := range x[(n*b.C+c)*b.HW:][:b.HW] {
				mean[c] += float64(v)
			}
		}
		mean[c] /= m
		var ss float64
		for n := range b.N {
			for _, v := range x[(n*b.C+c)*b.HW:][:b.HW] {
				ss += (float64(v) - mean[c]) * (float64(v) - mean[c])
			}
		}
		variance[c], unbiased[c] = ss/m, ss/(m-1)
	}
	return mean, variance, unbiased
}

// TestBatchNormTraining runs the training kernels on planes smaller than
// a block (several images per step of a thread's walk through a channel)
// and larger (two blocks per plane in the element-wise kernels).
func TestBatchNormTraining(t *testing.T) {
	m := module(t)
	for _, b := range []kernels.BN{
		{N: 3, C: 4, HW: 100, Momentum: 0.1, Epsilon: 1e-5}, // 300 values per channel > Block
		{N: 2, C: 4, HW: 300, Momentum: 0.1, Epsilon: 1e-5}, // planes > Block
	} {
		t.Run(fmt.Sprintf("HW=%d", b.HW), func(t *testing.T) { bnTraining(t, m, b) })
	}
}

func bnTraining(t *testing.T, m *kernels.Module, b kernels.BN) {
	x := bnInput(b, true)
	gamma, beta := []float32{1.5, -0.5, 2, 0.75}, []float32{0.1, 0.2, -0.3, 0.4}
	runMean, runVar := []float32{0.5, -1, 0, 2}, []float32{1, 2, 0.5, 3}
	n := len(x)
	px, pg, pb := up(t, x), up(t, gamma), up(t, beta)
	pmean, pinv := buf(t, 8*b.C), buf(t, 8*b.C)
	mean, variance, unbiased := bnStatsRef(b, x)
	invstd := make([]float64, b.C)
	wantRM, wantRV := make([]float64, b.C), make([]float64, b.C)
	for c := range b.C {
		invstd[c] = 1 / math.Sqrt(variance[c]+b.Epsilon)
		wantRM[c] = (1-b.Momentum)*float64(runMean[c]) + b.Momentum*mean[c]
		wantRV[c] = (1-b.Momentum)*float64(runVar[c]) + b.Momentum*unbiased[c]
	}
	// Each channel's values in one slice, in 7 and in 400 (some empty).
	for _, slices := range []int{1, 7, 400} {
		name := fmt.Sprintf("%d slices: ", slices)
		prm, prv := up(t, runMean), up(t, runVar)
		work := buf(t, 8*kernels.BNWork(b, slices))
		check(t, m.BNStats(b, pmean, pinv, prm, prv, px, work, slices))
		near(t, name+"saved mean", down[float64](t, pmean, b.C), mean, 1e-12)
		near(t, name+"saved invstd", down[float64](t, pinv, b.C), invstd, 1e-9)
		near(t, name+"running mean", down[float32](t, prm, b.C), wantRM, 1e-6)
		near(t, name+"running var", down[float32](t, prv, b.C), wantRV, 1e-6)
	}
	prm, prv := up(t, runMean), up(t, runVar)
	slices := 3
	work := buf(t, 8*kernels.BNWork(b, slices))

	// The rest on a well-conditioned input.
	x = bnInput(b, false)
	px = up(t, x)
	check(t, m.BNStats(b, pmean, pinv, prm, prv, px, work, slices))
	mean, variance, _ = bnStatsRef(b, x)
	for c := range b.C {
		invstd[c] = 1 / math.Sqrt(variance[c]+b.Epsilon)
	}
	dy := randoms(21, n)
	pdy := up(t, dy)
	for _, relu := range []bool{false, true} {
		name := fmt.Sprintf("relu=%v", relu)
		py := buf(t, 4*n)
		check(t, m.BNApply(b, py, px, pg, pb, pmean, pinv, relu))
		y := make([]float64, n)
		for i, v := range x {
			c := i / b.HW % b.C
			y[i] = float64(gamma[c])*(float64(v)-mean[c])*invstd[c] + float64(beta[c])
			if relu {
				y[i] = math.Max(y[i], 0)
			}
		}
		gotY := down[float32](t, py, n)
		near(t, name+" forward", gotY, y, 1e-5)

		// The gradients, dy masked by the output where the ReLU is fused.
		var yArg = py
		if !relu {
			yArg = 0
		}
		sums := buf(t, 16*b.C)
		sumDy, sumDyXhat := sums, sums.Add(uint64(8*b.C))
		pdg, pdb := buf(t, 4*b.C), buf(t, 4*b.C)
		check(t, m.BNBackwardSums(b, sumDy, sumDyXhat, pdg, pdb, px, pdy, yArg, pmean, pinv, work, slices))
		wantSdy, wantSdxh := make([]float64, b.C), make([]float64, b.C)
		masked := make([]float64, n)
		for i, d := range dy {
			c := i / b.HW % b.C
			if relu && !(gotY[i] > 0) {
				continue
			}
			masked[i] = float64(d)
			wantSdy[c] += float64(d)
			wantSdxh[c] += float64(d) * (float64(x[i]) - mean[c]) * invstd[c]
		}
		near(t, name+" Σdy", down[float64](t, sumDy, b.C), wantSdy, 1e-9)
		near(t, name+" Σdy·x̂", down[float64](t, sumDyXhat, b.C), wantSdxh, 1e-9)

		near(t, name+" dγ", down[float32](t, pdg, b.C), wantSdxh, 1e-6)
		near(t, name+" dβ", down[float32](t, pdb, b.C), wantSdy, 1e-6)

		pdx := buf(t, 4*n)
		check(t, m.BNBackwardData(b, pdx, px, pdy, yArg, pg, pmean, pinv, sumDy, sumDyXhat))
		M := float64(b.N * b.HW)
		dx := make([]float64, n)
		for i := range dx {
			c := i / b.HW % b.C
			xhat := (float64(x[i]) - mean[c]) * invstd[c]
			dx[i] = float64(gamma[c]) * invstd[c] * (masked[i] - wantSdy[c]/M - xhat*wantSdxh[c]/M)
		}
		// Channel 3 is constant: invstd = 1/sqrt(ε) magnifies rounding.
		near(t, name+" dx", down[float32](t, pdx, n), dx, 1e-4)
	}
}

func TestBatchNormEvaluation(t *testing.T) {
	m := module(t)
	b := kernels.BN{N: 2, C: 4, HW: 9, Epsilon: 1e-5}
	x := bnInput(b, false)
	gamma, beta := []float32{1.5, -0.5, 2, 0.75}, []float32{0.1, 0.2, -0.3, 0.4}
	runMean, runVar := []float32{0.5, 6, 10, 2}, []float32{0.3, 2, 8, 0}
	prm, prv := up(t, runMean), up(t, runVar)
	pmean, pinv, py := buf(t, 8*b.C), buf(t, 8*b.C), buf(t, 4*len(x))
	check(t, m.BNEvalStats(b, pmean, pinv, prm, prv))
	check(t, m.BNApply(b, py, up(t, x), up(t, gamma), up(t, beta), pmean, pinv, true))
	want := make([]float64, len(x))
	for i, v := range x {
		c := i / b.HW % b.C
		s := float64(gamma[c]) / math.Sqrt(float64(runVar[c])+b.Epsilon)
		want[i] = math.Max(s*(float64(v)-float64(runMean[c]))+float64(beta[c]), 0)
	}
	near(t, "eval forward", down[float32](t, py, len(x)), want, 1e-5)
	near(t, "running mean unchanged", down[float32](t, prm, b.C), f64(runMean), 0)
}

// TestConvBNFold checks the evaluation-mode convolution with batch norm
// folded into it (and the residual end of a block) against the
// convolution followed by batch norm.
func TestConvBNFold(t *testing.T) {
	m := module(t)
	g := kernels.Conv{N: 2, C: 3, H: 5, W: 5, K: 4, R: 3, Stride: 1, Pad: 1}
	eps := 1e-5
	x, w := randoms(30, g.N*g.C*g.H*g.W), randoms(31, g.K*g.C*g.R*g.R)
	gamma, beta := []float32{1.5, -0.5, 2, 0.75}, []float32{0.1, 0.2, -0.3, 0.4}
	runMean, runVar := []float32{0.5, -0.25, 0, 0.1}, []float32{0.3, 2, 0.8, 1}
	crr := g.C * g.R * g.R
	pwf, pbias := buf(t, 4*len(w)), buf(t, 4*g.K)
	check(t, m.BNFold(pwf, pbias, up(t, w), up(t, gamma), up(t, beta), up(t, runMean), up(t, runVar), g.K, crr, eps))
	ny := g.N * g.K * g.OH() * g.OW()
	skip := randoms(32, ny)
	py := buf(t, 4*ny)
	check(t, m.ConvForward(g, py, up(t, x), pwf, pbias, up(t, skip), true))
	y := convRef(g, x, w)
	ohw := g.OH() * g.OW()
	for i := range y {
		k := i / ohw % g.K
		s := float64(gamma[k]) / math.Sqrt(float64(runVar[k])+eps)
		y[i] = math.Max(s*(y[i]-float64(runMean[k]))+float64(beta[k])+float64(skip[i]), 0)
	}
	near(t, "folded conv+bn+add+relu", down[float32](t, py, ny), y, 1e-5)
}

func TestBNSlices(t *testing.T) {
	for _, c := range []struct {
		b    kernels.BN
		want int
	}{
		{kernels.BN{N: 512, C: 16, HW: 32 * 32}, 32},  // 512 blocks of 16,384 values
		{kernels.BN{N: 512, C: 32, HW: 16 * 16}, 16},  // 512 blocks of 8,192 values
		{kernels.BN{N: 128, C: 16, HW: 32 * 32}, 32},  // 512 blocks of 4,096 values
		{kernels.BN{N: 128, C: 32, HW: 16 * 16}, 8},   // at least 4,096 values each
		{kernels.BN{N: 3, C: 4, HW: 100}, 1},          // fewer than 4,096 values
		{kernels.BN{N: 4096, C: 2048, HW: 1024}, 1},   // more channels than 512
		{kernels.BN{N: 1 << 20, C: 1, HW: 1024}, 512}, // one channel
	} {
		if got := kernels.BNSlices(c.b); got != c.want {
			t.Errorf("BNSlices(%+v) = %d, want %d", c.b, got, c.want)
		}
	}
}
