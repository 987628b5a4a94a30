package kernels_test

import (
	"fmt"
	"math"
	"testing"
)

func TestSmoothLabels(t *testing.T) {
	m := module(t)
	labels := []int32{2, 0, 3}
	const n, k, eps = 3, 4, 0.1
	p := buf(t, 4*n*k)
	check(t, m.SmoothLabels(p, up(t, labels), n, k, eps))
	// SmoothLabels' float32 arithmetic: off = eps/k, on = (1-eps) + off.
	off := float64(float32(eps / k))
	on := float64(float32(1-eps) + float32(eps/k))
	want := []float64{
		off, off, on, off,
		on, off, off, off,
		off, off, off, on,
	}
	near(t, "SmoothLabels", down[float32](t, p, n*k), want, 0)
}

// xentRef returns the loss and the logits' gradient (for seed g) of
// SoftmaxCrossEntropy (kl false, t 1) or SoftmaxKLDivergence.
func xentRef(n, k int, logits, targets []float32, t, g float64, kl bool) (float64, []float64) {
	var total float64
	d := make([]float64, n*k)
	for r := range n {
		row, tg := logits[r*k:(r+1)*k], targets[r*k:(r+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v)/t)
		}
		var se, sum float64
		for j, v := range row {
			se += math.Exp(float64(v)/t - mx)
			sum += float64(tg[j])
		}
		lse := mx + math.Log(se)
		for j, v := range row {
			p, q := math.Exp(float64(v)/t-lse), float64(tg[j])
			d[r*k+j] = g * t * (sum*p - q) / float64(n)
			if q == 0 {
				continue
			}
			total -= q * (float64(v)/t - lse)
			if kl {
				total += q * math.Log(q/sum)
			}
		}
	}
	return t * t * total / float64(n), d
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	m := module(t)
	const n, k = 300, 10 // more rows than a block has threads
	logits := randoms(40, n*k)
	for i := range logits {
		logits[i] *= 8
	}
	// Label-smoothed rows, and for the divergence rows weighted by ½ with
	// some zero entries.
	smooth, weighted := make([]float32, n*k), make([]float32, n*k)
	for r := range n {
		for j := range k {
			smooth[r*k+j] = 0.01
			if j == r%k {
				smooth[r*k+j] = 0.91
			}
			if j%3 != 0 {
				weighted[r*k+j] = 0.5 / float32(k-(k+2)/3)
			}
		}
	}
	pl := up(t, logits)
	for _, c := range []struct {
		targets []float32
		t, g    float64
		kl      bool
	}{
		{smooth, 1, 1, false},
		{weighted, 4, 0.75, true},
	} {
		name := fmt.Sprintf("t=%g kl=%v", c.t, c.kl)
		pt := up(t, c.targets)
		ploss, pd := buf(t, 8), buf(t, 4*n*k)
		check(t, m.XentForward(ploss, pl, pt, n, k, c.t, c.kl))
		check(t, m.XentBackward(pd, pl, pt, c.g, n, k, c.t))
		loss, d := xentRef(n, k, logits, c.targets, c.t, c.g, c.kl)
		near(t, name+" loss", down[float64](t, ploss, 1), []float64{loss}, 1e-12)
		near(t, name+" gradient", down[float32](t, pd, n*k), d, 1e-6)
	}
}
