package model

import (
	"math"
	"testing"
)

func TestSoftmax(t *testing.T) {
	// softmax((0, 2 ln 3)/2) = (1/4, 3/4).
	p := Softmax([]float32{0, float32(2 * math.Log(3))}, 2)
	if math.Abs(float64(p[0])-0.25) > 1e-6 || math.Abs(float64(p[1])-0.75) > 1e-6 {
		t.Errorf("got %v, want [0.25 0.75]", p)
	}
}
