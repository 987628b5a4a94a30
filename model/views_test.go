package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
)

func TestMirror(t *testing.T) {
	src := make([]float32, 2*dataset.ImageSize)
	for i := range src {
		src[i] = float32(i)
	}
	dst := make([]float32, len(src))
	Mirror(dst, src)
	// Image 1, channel 2, row 5: pixel x holds what pixel 31-x held.
	row := (1*dataset.Channels+2)*dataset.Height*dataset.Width + 5*dataset.Width
	for x := range dataset.Width {
		if want := float32(row + dataset.Width - 1 - x); dst[row+x] != want {
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

func TestTranslate(t *testing.T) {
	src := make([]float32, 2*dataset.ImageSize)
	for i := range src {
		src[i] = float32(i + 1)
	}
	dst := make([]float32, len(src))
	for i := range dst {
		dst[i] = -1 // every element must be written
	}
	Translate(dst, src, 2, -3)
	plane := dataset.Height * dataset.Width
	for p := 0; p < 2*dataset.Channels; p++ {
		for y := range dataset.Height {
			for x := range dataset.Width {
				want := float32(0)
				if sy, sx := y+2, x-3; sy < dataset.Height && sx >= 0 {
					want = src[p*plane+sy*dataset.Width+sx]
				}
				if got := dst[p*plane+y*dataset.Width+x]; got != want {
					t.Fatalf("plane %d, pixel (%d, %d) = %v, want %v", p, y, x, got, want)
				}
			}
		}
	}
	// Spot checks by hand: image 1, channel 0 starts at element 3·1024.
	// Its pixel (0, 3) is input pixel (2, 0); its pixel (30, 5) comes from
	// row 32, outside the image; pixel (4, 2) from column -1.
	base := 3 * plane
	if got, want := dst[base+0*dataset.Width+3], float32(base+2*dataset.Width+0+1); got != want {
		t.Errorf("pixel (0, 3) = %v, want %v", got, want)
	}
	if got := dst[base+30*dataset.Width+5]; got != 0 {
		t.Errorf("pixel (30, 5) = %v, want 0", got)
	}
	if got := dst[base+4*dataset.Width+2]; got != 0 {
		t.Errorf("pixel (4, 2) = %v, want 0", got)
	}
	// A shift by the whole width leaves nothing; no shift copies.
	Translate(dst, src, 0, dataset.Width)
	for i, v := range dst {
		if v != 0 {
			t.Fatalf("shift by the width: element %d = %v, want 0", i, v)
		}
	}
	Translate(dst, src, 0, 0)
	for i, v := range dst {
		if v != src[i] {
			t.Fatalf("no shift: element %d = %v, want %v", i, v, src[i])
		}
	}
}

// TestViewAverage checks that FlipAverage and Shift return the mean of the
// logits of every view they ask for, each view computed on its own, across
// a partial last batch.
func TestViewAverage(t *testing.T) {
	m, err := New(reference(), 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(6, 7))
	n := EvalBatch + 2
	x := make([]float32, n*dataset.ImageSize)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	mx := make([]float32, len(x))
	Mirror(mx, x)
	c := NewClassifier(m, config.Default().Data.Normalize)
	defer c.Close()
	single, err := c.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flip  bool
		shift int
		views int
	}{
		{flip: true, shift: 0, views: 2},
		{flip: false, shift: 1, views: 9},
		{flip: true, shift: 1, views: 18},
	} {
		images := [][]float32{x}
		if tc.flip {
			images = append(images, mx)
		}
		want := make([]float64, len(single))
		views := 0
		c.FlipAverage, c.Shift = false, 0
		for _, img := range images {
			for dy := -tc.shift; dy <= tc.shift; dy++ {
				for dx := -tc.shift; dx <= tc.shift; dx++ {
					tx := make([]float32, len(img))
					Translate(tx, img, dy, dx)
					z, err := c.Logits(tx)
					if err != nil {
						t.Fatal(err)
					}
					for i, v := range z {
						want[i] += float64(v)
					}
					views++
				}
			}
		}
		if views != tc.views {
			t.Fatalf("flip %v, shift %d: %d views in the test, want %d", tc.flip, tc.shift, views, tc.views)
		}
		c.FlipAverage, c.Shift = tc.flip, tc.shift
		got, err := c.Logits(x)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			w := want[i] / float64(views)
			if math.Abs(float64(v)-w) > 1e-5*math.Max(1, math.Abs(w)) {
				t.Fatalf("flip %v, shift %d: logit %d = %v, want the mean of %d views %v", tc.flip, tc.shift, i, v, views, w)
			}
		}
		// The average differs from the single view, or the test could
		// not tell that the views were used.
		if got[0] == single[0] && got[1] == single[1] {
			t.Fatalf("flip %v, shift %d: the averaged logits equal the single view's", tc.flip, tc.shift)
		}
	}
	for _, shift := range []int{-1, dataset.Width} {
		c.Shift = shift
		if _, err := c.Logits(x); err == nil {
			t.Errorf("a shift of %d pixels was accepted", shift)
		}
	}
}
