package cpu

import "testing"

// TestGAPFloat32 checks the vectorised float32 global average pool on rows
// whose means are known exactly.
func TestGAPFloat32(t *testing.T) {
	const hw = 64
	x := make([]float32, 3*hw)
	for i := range x {
		x[i] = float32(i % hw) // each row holds 0..63: mean 31.5
	}
	x[2*hw+5] += 64 // the third row's mean is 32.5
	y := make([]float32, 3)
	gapForward(hw, x, y)
	for i, want := range []float32{31.5, 31.5, 32.5} {
		if y[i] != want {
			t.Errorf("mean of row %d = %v, want %v", i, y[i], want)
		}
	}
}
