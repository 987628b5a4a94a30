package cpu

import "github.com/cifar-resnet/trainer/graph/cpu/simd"

// gapForward sets y[i] to the mean of the i-th run of hw elements of x.
func gapForward[T float](hw int, x, y []T) {
	if x32, ok := any(x).([]float32); ok {
		y32 := any(y).([]float32)
		for i := range y32 {
			s, _ := simd.Stats(x32[i*hw:(i+1)*hw], 0) // vector sums
			y32[i] = float32(s / float64(hw))
		}
		return
	}
	for i := range y {
		var s T
		for _, v := range x[i*hw : (i+1)*hw] {
			s += v
		}
		y[i] = s / T(hw)
	}
}

// gapBackward sets the i-th run of hw elements of dx to dy[i]/hw.
func gapBackward[T float](hw int, dy, dx []T) {
	for i, d := range dy {
		v := d / T(hw)
		out := dx[i*hw : (i+1)*hw]
		for j := range out {
			out[j] = v
		}
	}
}
