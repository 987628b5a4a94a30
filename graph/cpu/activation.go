package cpu

import "github.com/cifar-resnet/trainer/graph/cpu/simd"

// addReLU sets y = max(a + b, 0), or max(a, 0) when b is nil, in
// parallel chunks.
func addReLU[T float](a, b, y []T) {
	parallel(len(y), func(_, lo, hi int) {
		if b == nil {
			reluRow(y[lo:hi], a[lo:hi])
			return
		}
		addReLURow(y[lo:hi], a[lo:hi], b[lo:hi])
	})
}

// reluBackward sets dx = dy where y > 0 and 0 elsewhere, in parallel
// chunks.
func reluBackward[T float](y, dy, dx []T) {
	parallel(len(y), func(_, lo, hi int) {
		reluMaskRow(dx[lo:hi], dy[lo:hi], y[lo:hi])
	})
}

// reluRow sets dst = max(src, 0) elementwise.
func reluRow[T float](dst, src []T) {
	if d32, ok := any(dst).([]float32); ok {
		simd.ReLU(d32, any(src).([]float32))
		return
	}
	for i, v := range src[:len(dst)] {
		dst[i] = max(v, 0)
	}
}

// addReLURow sets dst = max(a + b, 0) elementwise.
func addReLURow[T float](dst, a, b []T) {
	if d32, ok := any(dst).([]float32); ok {
		simd.AddReLU(d32, any(a).([]float32), any(b).([]float32))
		return
	}
	for i := range dst {
		dst[i] = max(a[i]+b[i], 0)
	}
}

// reluMaskRow sets dst = dy where y > 0 and 0 elsewhere.
func reluMaskRow[T float](dst, dy, y []T) {
	if d32, ok := any(dst).([]float32); ok {
		simd.ReLUMask(d32, any(dy).([]float32), any(y).([]float32))
		return
	}
	for i, v := range y[:len(dst)] {
		if v > 0 {
			dst[i] = dy[i]
		} else {
			dst[i] = 0
		}
	}
}
