package model

import (
	"math/rand/v2"
	"testing"

	"github.com/cifar-resnet/trainer/config"
)

func TestMirror(t *testing.T) {
	src := make([]float32, 2*ImageSize)
	for i := range src {
		src[i] = float32(i)
	}
	dst := make([]float32, len(src))
	Mirror(dst, src)
	// Image 1, channel 2, row 5: pixel x holds what pixel 31-x held.
	row := (1*Channels+2)*Height*Width + 5*Width
	for x := range Width {
		if want := float32(row + Width - 1 - x); dst[row+x] != want {
			t.Fatalf("pixel %d of the row = %v, want %v", x, dst[row+x], want)
		}
	}
	Mirror(dst, dst)
	for i, v := range dst {
		if v != src[i] {
			t.Fatalf("mirroring twice changed element %d: %v, want %v", i, v, src[i])
		}
	}
}

// TestFlipAverage checks that FlipAverage returns the mean of the logits of
// the images and of their mirror images, across a partial last batch.
func TestFlipAverage(t *testing.T) {
	m, err := New(reference(), 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 5))
	n := EvalBatch + 3
	x := make([]float32, n*ImageSize)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	mx := make([]float32, len(x))
	Mirror(mx, x)
	c := NewClassifier(m, config.Default().Data.Normalize)
	defer c.Close()
	plain, err := c.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	mirrored, err := c.Logits(mx)
	if err != nil {
		t.Fatal(err)
	}
	c.FlipAverage = true
	avg, err := c.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for i, v := range avg {
		if want := (plain[i] + mirrored[i]) / 2; v != want {
			t.Fatalf("logit %d = %v, want (%v + %v)/2", i, v, plain[i], mirrored[i])
		}
		if plain[i] != mirrored[i] {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("the mirror images gave the same logits: the test cannot tell the views apart")
	}
}
