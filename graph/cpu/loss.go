package cpu

import "math"

// logSumExp returns log Σ exp(row/t) without overflow.
func logSumExp[T float](row []T, t float64) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v)/t)
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v)/t - m)
	}
	return m + math.Log(s)
}

// xentForward returns the cross-entropy (or with kl the Kullback-Leibler
// divergence) of backend.Backend.SoftmaxCrossEntropy for n×k logits and
// targets at temperature temp.
func xentForward[T float](n, k int, temp float64, kl bool, logits, targets []T) float64 {
	var total float64
	for r := range n {
		row, t := logits[r*k:(r+1)*k], targets[r*k:(r+1)*k]
		lse := logSumExp(row, temp)
		var sum float64
		if kl {
			for _, v := range t {
				sum += float64(v)
			}
		}
		for j, v := range row {
			if t[j] == 0 {
				continue
			}
			total -= float64(t[j]) * (float64(v)/temp - lse)
			if kl {
				total += float64(t[j]) * math.Log(float64(t[j])/sum)
			}
		}
	}
	return temp * temp * total / float64(n)
}

// xentBackward sets d = g·temp·(S·softmax(logits/temp) - targets)/n, S
// being the sum of each target row.
func xentBackward[T float](n, k int, g, temp float64, logits, targets, d []T) {
	scale := g * temp / float64(n)
	for r := range n {
		row, t, out := logits[r*k:(r+1)*k], targets[r*k:(r+1)*k], d[r*k:(r+1)*k]
		lse := logSumExp(row, temp)
		var sum float64
		for _, v := range t {
			sum += float64(v)
		}
		for j, v := range row {
			out[j] = T(scale * (sum*math.Exp(float64(v)/temp-lse) - float64(t[j])))
		}
	}
}
