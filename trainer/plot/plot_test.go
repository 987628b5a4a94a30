package plot

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// syntheticHistory returns n epochs of a plausible run.
func syntheticHistory(n int) checkpoint.History {
	var h checkpoint.History
	for i := 0; i < n; i++ {
		x := float64(i) / float64(max(n-1, 1))
		h.Loss = append(h.Loss, 2.3*math.Exp(-2*x)+0.3)
		h.ValLoss = append(h.ValLoss, 2.2*math.Exp(-1.8*x)+0.4+0.05*math.Sin(7*x))
		h.TrainAcc = append(h.TrainAcc, 0.1+0.75*(1-math.Exp(-3*x)))
		h.ValAcc = append(h.ValAcc, 0.1+0.7*(1-math.Exp(-3*x))-0.03*math.Sin(9*x))
		h.LR = append(h.LR, 0.1*(1-x))
		h.Seconds = append(h.Seconds, 12)
	}
	return h
}

// readPNG decodes the PNG at path and checks its size and that it is not
// a single colour.
func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 1000 {
		t.Errorf("image is %dx%d, want 800x1000", b.Dx(), b.Dy())
	}
	return img
}

// colours counts the distinct colours in the rectangle r of img.
func colours(img image.Image, r image.Rectangle) int {
	seen := make(map[[4]uint32]bool)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, b, a}] = true
		}
	}
	return len(seen)
}

func TestTraining(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{1, 2, 20, 150} {
		path := filepath.Join(dir, "training.png")
		if err := Training(path, syntheticHistory(n), "default"); err != nil {
			t.Fatalf("%d epochs: %v", n, err)
		}
		img := readPNG(t, path)
		// The three panels hold something besides the background.
		for i := range 3 {
			if colours(img, image.Rect(0, i*333, 800, (i+1)*333)) < 3 {
				t.Errorf("%d epochs: panel %d is nearly uniform", n, i+1)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only training.png", len(entries))
	}
}

func TestTrainingNonFinite(t *testing.T) {
	h := syntheticHistory(5)
	h.Loss[3] = math.NaN()
	h.Loss[4] = math.Inf(1)
	h.ValAcc = []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	path := filepath.Join(t.TempDir(), "training.png")
	if err := Training(path, h, ""); err != nil {
		t.Fatal(err)
	}
	readPNG(t, path)
}

// EpochPoints numbers the epochs from 1, scales the values and leaves out
// NaN and infinities.
func TestEpochPoints(t *testing.T) {
	got := EpochPoints([]float64{0.5, math.NaN(), math.Inf(1), 0.25, math.Inf(-1)}, 100)
	if want := (plotter.XYs{{X: 1, Y: 50}, {X: 4, Y: 25}}); !reflect.DeepEqual(got, want) {
		t.Errorf("EpochPoints = %v, want %v", got, want)
	}
	if got := EpochPoints(nil, 1); len(got) != 0 {
		t.Errorf("EpochPoints(nil) = %v, want no points", got)
	}
}

func TestTrainingErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "training.png")
	if err := Training(path, checkpoint.History{}, "x"); err == nil || !strings.Contains(err.Error(), "empty history") || !strings.Contains(err.Error(), path) {
		t.Errorf("Training(empty) = %v", err)
	}
	h := syntheticHistory(3)
	h.ValAcc = h.ValAcc[:2]
	if err := Training(path, h, "x"); err == nil || !strings.Contains(err.Error(), "differ in length") {
		t.Errorf("Training(ragged) = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a failed Training left a file")
	}
	bad := filepath.Join(dir, "missing", "training.png")
	if err := Training(bad, syntheticHistory(3), ""); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Training into a missing directory = %v", err)
	}
}

// TestBestMarked draws a history unmarked and marked at epochs 10 and 20:
// the marks change every panel, further right for the later epoch.
func TestBestMarked(t *testing.T) {
	h := syntheticHistory(30)
	render := func(best int) image.Image {
		c, err := drawTraining(h, "x", best)
		if err != nil {
			t.Fatal(err)
		}
		return c.Image()
	}
	plain := render(0)
	// meanX returns the mean column of the pixels of panel i that differ
	// from the unmarked image, and their number.
	meanX := func(img image.Image, i int) (float64, int) {
		sum, n := 0, 0
		for y := i * 333; y < (i+1)*333; y++ {
			for x := 0; x < 800; x++ {
				if img.At(x, y) != plain.At(x, y) {
					sum += x
					n++
				}
			}
		}
		return float64(sum) / float64(max(n, 1)), n
	}
	at10, at20 := render(10), render(20)
	for i, name := range []string{"loss", "accuracy", "learning rate"} {
		x10, n10 := meanX(at10, i)
		x20, n20 := meanX(at20, i)
		if n10 < 50 || n20 < 50 || !(x10 < x20) {
			t.Errorf("%s panel: %d pixels marked around x = %.0f for epoch 10, %d around x = %.0f for epoch 20", name, n10, x10, n20, x20)
		}
	}
}

func TestEpochTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 2, "0 1 2"},
		{1, 2, "1 2"},
		{1, 30, "5 10 15 20 25 30"},
		{1, 120, "20 40 60 80 100 120"},
		{1, 240, "50 100 150 200"},
	} {
		var got []string
		for _, tk := range (EpochTicks{}).Ticks(tc.lo, tc.hi) {
			got = append(got, tk.Label)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("EpochTicks.Ticks(%g, %g) = %v, want %s", tc.lo, tc.hi, got, tc.want)
		}
	}
}
