package cpu

import (
	"math"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/cpu/simd"
)

// bnRunning is the running statistics of a batch norm layer (see
// backend.BNRunning) as slices.
type bnRunning struct {
	mean, variance    []float32
	momentum, epsilon float64
}

// bnSaved is the batch statistics a training-mode forward pass saves (see
// backend.BNSaved) as slices.
type bnSaved struct{ mean, invstd []float64 }

// bnSums is Σdy and Σdy·x̂ per channel (see
// backend.Backend.BatchNormBackwardSums) as slices.
type bnSums struct{ dy, dyXhat []float64 }

// bnForward normalises x (shape s) into y, channel by channel in parallel,
// then applies ReLU if relu is set. With saved not nil (training mode) it
// normalises with the statistics of the batch, saves them there and
// updates the running statistics st; otherwise it normalises with st.
func bnForward[T float](s tensor.Shape, x, gamma, beta, y []T, st bnRunning, saved *bnSaved, relu bool) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mean, invstd float64
			if saved != nil {
				// One pass: the sums are taken around the first value of
				// the channel, which keeps Σd² - (Σd)²/m well conditioned.
				ref := float64(x[ch*hw])
				var sum, sq float64
				for i := range n {
					row := x[(i*c+ch)*hw:][:hw]
					if r32, ok := any(row).([]float32); ok {
						ps, pq := simd.Stats(r32, float32(ref))
						sum += ps
						sq += pq
						continue
					}
					var ps, pq T
					for _, v := range row {
						d := v - T(ref)
						ps += d
						pq += d * d
					}
					sum += float64(ps)
					sq += float64(pq)
				}
				mean = ref + sum/m
				ss := max(0, sq-sum*sum/m)
				variance := ss / m
				invstd = 1 / math.Sqrt(variance+st.epsilon)
				saved.mean[ch], saved.invstd[ch] = mean, invstd
				unbiased := variance
				if m > 1 {
					unbiased = ss / (m - 1)
				}
				st.mean[ch] = float32((1-st.momentum)*float64(st.mean[ch]) + st.momentum*mean)
				st.variance[ch] = float32((1-st.momentum)*float64(st.variance[ch]) + st.momentum*unbiased)
			} else {
				mean = float64(st.mean[ch])
				invstd = 1 / math.Sqrt(float64(st.variance[ch])+st.epsilon)
			}
			scale := T(float64(gamma[ch]) * invstd)
			shift := T(float64(beta[ch]) - mean*float64(gamma[ch])*invstd)
			for i := range n {
				src := x[(i*c+ch)*hw:][:hw]
				dst := y[(i*c+ch)*hw:][:hw]
				if s32, ok := any(src).([]float32); ok {
					simd.ScaleShift(any(dst).([]float32), s32, float32(scale), float32(shift), relu)
					continue
				}
				if relu {
					for j, v := range src {
						dst[j] = max(v*scale+shift, 0)
					}
					continue
				}
				for j, v := range src {
					dst[j] = v*scale + shift
				}
			}
		}
	})
}

// bnBackwardSums sets sums to Σdy and Σdy·x̂ per channel, for x and dy of
// shape s, with dy taken as 0 where y is when y is not nil.
func bnBackwardSums[T float](s tensor.Shape, x, dy, y []T, saved bnSaved, sums bnSums) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean := T(saved.mean[ch])
			var sumDy, sumDyXc float64
			for i := range n {
				off := (i*c + ch) * hw
				xs, ds := x[off:off+hw], dy[off:off+hw]
				if x32, ok := any(xs).([]float32); ok {
					var ys []float32
					if y != nil {
						ys = any(y).([]float32)[off : off+hw]
					}
					a, b := simd.BNSums(any(ds).([]float32), x32, ys, float32(mean))
					sumDy += a
					sumDyXc += b
					continue
				}
				var a, b T
				if y != nil {
					ys := y[off : off+hw]
					for j, d := range ds {
						if ys[j] > 0 {
							a += d
							b += d * (xs[j] - mean)
						}
					}
				} else {
					for j, d := range ds {
						a += d
						b += d * (xs[j] - mean)
					}
				}
				sumDy += float64(a)
				sumDyXc += float64(b)
			}
			sums.dy[ch], sums.dyXhat[ch] = sumDy, sumDyXc*saved.invstd[ch]
		}
	})
}

// bnBackwardData sets dx, of shape s, to the gradient of a training-mode
// batch norm with respect to its input, from the sums of bnBackwardSums.
func bnBackwardData[T float](s tensor.Shape, x, gamma, dy, y []T, saved bnSaved, sums bnSums, dx []T) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean, invstd := saved.mean[ch], saved.invstd[ch]
			// dx = k·dy + a·x + b with the constants folded per channel.
			k := float64(gamma[ch]) * invstd
			a := -k * invstd * sums.dyXhat[ch] / m
			b := -k*sums.dy[ch]/m - a*mean
			kT, aT, bT := T(k), T(a), T(b)
			for i := range n {
				off := (i*c + ch) * hw
				xs, ds, dst := x[off:off+hw], dy[off:off+hw], dx[off:off+hw]
				if o32, ok := any(dst).([]float32); ok {
					var ys []float32
					if y != nil {
						ys = any(y).([]float32)[off : off+hw]
					}
					simd.BNDx(o32, any(ds).([]float32), any(xs).([]float32), ys, float32(kT), float32(aT), float32(bT))
					continue
				}
				if y != nil {
					ys := y[off : off+hw]
					for j := range dst {
						d := ds[j]
						if ys[j] <= 0 {
							d = 0
						}
						dst[j] = kT*d + aT*xs[j] + bT
					}
					continue
				}
				for j := range dst {
					dst[j] = kT*ds[j] + aT*xs[j] + bT
				}
			}
		}
	})
}

// bnBackwardParams sets those of dgamma and dbeta that are not nil to Σdy·x̂
// and Σdy.
func bnBackwardParams[T float](sums bnSums, dgamma, dbeta []T) {
	for ch := range dgamma {
		dgamma[ch] = T(sums.dyXhat[ch])
	}
	for ch := range dbeta {
		dbeta[ch] = T(sums.dy[ch])
	}
}
