package model

import (
	"math"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
)

func TestSoftmax(t *testing.T) {
	// softmax((0, 2 ln 3)/2) = (1/4, 3/4).
	p := Softmax([]float32{0, float32(2 * math.Log(3))}, 2)
	if math.Abs(float64(p[0])-0.25) > 1e-6 || math.Abs(float64(p[1])-0.75) > 1e-6 {
		t.Errorf("got %v, want [0.25 0.75]", p)
	}
}

// A NaN or an infinity in the input is an error naming the image and the
// index, not a confident prediction.
func TestPredictRefusesNonFiniteValues(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClassifier(m, config.Default().Data.Normalize)
	defer c.Close()
	images := make([]float32, 5*dataset.ImageSize)
	for i := range images {
		images[i] = float32(i%7)/7 - 0.5
	}
	classes, _, err := c.Predict(images)
	if err != nil || len(classes) != 5 {
		t.Fatalf("finite images: %d classes, err %v", len(classes), err)
	}

	nan := float32(math.NaN())
	for _, tt := range []struct {
		name string
		set  func(x []float32)
		want string
	}{
		{"one NaN", func(x []float32) { x[3*dataset.ImageSize+17] = nan },
			"model: image 3 has a non-finite value (NaN) at index 17 (channel 0, row 0, column 17)"},
		{"an all-NaN image", func(x []float32) {
			for i := range dataset.ImageSize {
				x[2*dataset.ImageSize+i] = nan
			}
		}, "model: image 2 has a non-finite value (NaN) at index 0 (channel 0, row 0, column 0)"},
		{"+Inf, last value", func(x []float32) { x[5*dataset.ImageSize-1] = float32(math.Inf(1)) },
			"model: image 4 has a non-finite value (+Inf) at index 3071 (channel 2, row 31, column 31)"},
		{"-Inf, green plane", func(x []float32) { x[1024+2*32+5] = float32(math.Inf(-1)) },
			"model: image 0 has a non-finite value (-Inf) at index 1093 (channel 1, row 2, column 5)"},
	} {
		x := append([]float32(nil), images...)
		tt.set(x)
		if _, _, err := c.Predict(x); err == nil || err.Error() != tt.want {
			t.Errorf("%s: Predict err = %v\nwant %s", tt.name, err, tt.want)
		}
		if _, err := c.Logits(x); err == nil || err.Error() != tt.want {
			t.Errorf("%s: Logits err = %v\nwant %s", tt.name, err, tt.want)
		}
	}
}

// TestCrossEntropy checks the loss on hand-computed values, also where
// a naive exp would overflow.
func TestCrossEntropy(t *testing.T) {
	for _, tc := range []struct {
		z     []float32
		label int
		want  float64
	}{
		{[]float32{0, 0}, 1, math.Ln2},
		{[]float32{1, 2, 3}, 2, math.Log(math.Exp(-2) + math.Exp(-1) + 1)},
		{[]float32{1000, 0}, 1, 1000},
		{[]float32{-1000, 0}, 1, 0},
	} {
		if got := CrossEntropy(tc.z, tc.label); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("CrossEntropy(%v, %d) = %v, want %v", tc.z, tc.label, got, tc.want)
		}
	}
}
