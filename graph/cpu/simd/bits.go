package simd

import "math"

// Branch-free float32 kernels for the ReLU masks. Whether an activation is
// positive is close to a coin toss, so a branch per element mispredicts
// half the time; these work on the bits instead.

// relu32 returns max(v, 0) (with -0 and negative NaNs mapped to +0).
func relu32(v float32) float32 {
	b := math.Float32bits(v)
	return math.Float32frombits(b &^ uint32(int32(b)>>31))
}

// mask32 returns d where y > 0 and 0 where y is +0, for y ≥ 0 (a ReLU
// output).
func mask32(d, y float32) float32 {
	yb := math.Float32bits(y)
	m := uint32(int32(yb|-yb) >> 31) // all ones unless yb == 0
	return math.Float32frombits(math.Float32bits(d) & m)
}
