package dataset

import (
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cifar-resnet/trainer/config"
)

var half = Normalization{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}}

// batches collects copies of all batches of epoch e.
func batches(t *testing.T, l *Loader, e int) []Batch {
	t.Helper()
	it := l.Epoch(e)
	defer it.Close()
	var out []Batch
	for it.Next() {
		b := it.Batch()
		out = append(out, Batch{X: slices.Clone(b.X), Labels: slices.Clone(b.Labels), N: b.N})
	}
	if it.Batch() != nil {
		t.Error("Batch() != nil after the end of the epoch")
	}
	return out
}

// batchIDs returns the image ids of a loader built on idSet with the zero
// Normalization, in batch order.
func batchIDs(bs []Batch) []int {
	var out []int
	for _, b := range bs {
		for i := range b.N {
			lo := int(math.Round(float64(b.X[i*ImageSize] * 255)))
			hi := int(math.Round(float64(b.X[i*ImageSize+1] * 255)))
			out = append(out, lo|hi<<8)
		}
	}
	return out
}

func TestNormalization(t *testing.T) {
	s := &Set{Pixels: make([]byte, ImageSize), Labels: []uint8{7}}
	s.Pixels[0] = 255          // R (0, 0)
	s.Pixels[1] = 0            // R (0, 1)
	s.Pixels[2] = 51           // R (0, 2)
	s.Pixels[1024+5] = 255     // G (0, 5)
	s.Pixels[2048+32*31] = 102 // B (31, 0)
	l, err := NewLoader(s, LoaderOptions{BatchSize: 1, Norm: half})
	if err != nil {
		t.Fatal(err)
	}
	bs := batches(t, l, 0)
	if len(bs) != 1 || bs[0].N != 1 || len(bs[0].X) != ImageSize || len(bs[0].Labels) != 1 {
		t.Fatalf("got %d batches", len(bs))
	}
	x := bs[0].X
	for _, c := range []struct {
		i    int
		want float32
	}{{0, 1}, {1, -1}, {2, -0.6}, {3, -1}, {1024 + 5, 1}, {2048 + 32*31, -0.2}, {ImageSize - 1, -1}} {
		if x[c.i] != c.want {
			t.Errorf("X[%d] = %v, want %v", c.i, x[c.i], c.want)
		}
	}
	if bs[0].Labels[0] != 7 {
		t.Errorf("label = %d, want 7", bs[0].Labels[0])
	}

	// Per-channel statistics.
	norm := Normalization{Mean: [3]float32{0.1, 0.2, 0.3}, Std: [3]float32{0.25, 0.5, 2}}
	x = make([]float32, ImageSize)
	labels := make([]int, 1)
	s.Fill(x, labels, []int{0}, norm)
	for _, c := range []struct {
		i int
		p float64
		c int
	}{{0, 255, 0}, {2, 51, 0}, {1024 + 5, 255, 1}, {1024, 0, 1}, {2048 + 32*31, 102, 2}} {
		want := float32((c.p/255 - float64(norm.Mean[c.c])) / float64(norm.Std[c.c]))
		if x[c.i] != want {
			t.Errorf("Fill: X[%d] = %v, want %v", c.i, x[c.i], want)
		}
	}
	if labels[0] != 7 {
		t.Errorf("Fill: label = %d, want 7", labels[0])
	}

	// The zero Normalization scales to [0, 1].
	s.Fill(x, nil, []int{0}, Normalization{})
	if x[0] != 1 || x[1] != 0 || x[2] != 0.2 {
		t.Errorf("zero Normalization: %v, want [1 0 0.2]", x[:3])
	}
}

func TestBatchCount(t *testing.T) {
	s := idSet(10)
	for _, tt := range []struct {
		batch    int
		dropLast bool
		sizes    []int
	}{
		{4, false, []int{4, 4, 2}},
		{4, true, []int{4, 4}},
		{5, false, []int{5, 5}},
		{5, true, []int{5, 5}},
		{10, true, []int{10}},
		{11, false, []int{10}},
		{11, true, nil},
		{1, false, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	} {
		for _, shuffle := range []bool{false, true} {
			l, err := NewLoader(s, LoaderOptions{BatchSize: tt.batch, DropLast: tt.dropLast, Shuffle: shuffle})
			if err != nil {
				t.Fatal(err)
			}
			if l.NumBatches() != len(tt.sizes) {
				t.Errorf("batch %d, dropLast %v: NumBatches() = %d, want %d", tt.batch, tt.dropLast, l.NumBatches(), len(tt.sizes))
			}
			var sizes []int
			for _, b := range batches(t, l, 0) {
				if len(b.X) != b.N*ImageSize || len(b.Labels) != b.N {
					t.Errorf("batch of %d: len(X) = %d, len(Labels) = %d", b.N, len(b.X), len(b.Labels))
				}
				sizes = append(sizes, b.N)
			}
			if !slices.Equal(sizes, tt.sizes) {
				t.Errorf("batch %d, dropLast %v: sizes %v, want %v", tt.batch, tt.dropLast, sizes, tt.sizes)
			}
		}
	}
}

func TestLoaderOrder(t *testing.T) {
	const n = 300
	s := idSet(n)
	l, err := NewLoader(s, LoaderOptions{BatchSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	got := batchIDs(batches(t, l, 3))
	for i, id := range got {
		if id != i {
			t.Fatalf("without Shuffle, image %d of the epoch is %d", i, id)
		}
	}

	opt := LoaderOptions{BatchSize: 32, Shuffle: true, Seed: 5}
	l, _ = NewLoader(s, opt)
	e0 := batchIDs(batches(t, l, 0))
	if len(e0) != n {
		t.Fatalf("epoch has %d images, want %d", len(e0), n)
	}
	seen := make([]int, n)
	for _, id := range e0 {
		seen[id]++
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("image %d appears %d times in an epoch", id, k)
		}
	}
	if slices.IsSorted(e0) {
		t.Error("Shuffle: epoch is in order")
	}
	// Labels follow their images.
	for _, b := range batches(t, l, 0) {
		for i := range b.N {
			id := batchIDs([]Batch{{X: b.X[i*ImageSize : (i+1)*ImageSize], N: 1}})[0]
			if b.Labels[i] != id%NumClasses {
				t.Fatalf("image %d has label %d, want %d", id, b.Labels[i], id%NumClasses)
			}
		}
	}

	if e1 := batchIDs(batches(t, l, 1)); slices.Equal(e0, e1) {
		t.Error("epochs 0 and 1 have the same order")
	}
	l2, _ := NewLoader(s, opt)
	if again := batchIDs(batches(t, l2, 0)); !slices.Equal(e0, again) {
		t.Error("a new Loader with the same seed gives another order for epoch 0")
	}
	opt.Seed = 6
	l3, _ := NewLoader(s, opt)
	if other := batchIDs(batches(t, l3, 0)); slices.Equal(e0, other) {
		t.Error("seeds 5 and 6 give the same order")
	}
}

// TestDeterminism checks that the batches of an epoch, augmentation
// included, depend only on the seed and the epoch, not on what ran before.
func TestDeterminism(t *testing.T) {
	_, s := genRecords(100, 11)
	opt := LoaderOptions{
		BatchSize: 16, Shuffle: true, Norm: half, Seed: 9,
		Augment: Augmentation{CropPadding: 4, HorizontalFlip: true},
	}
	l1, _ := NewLoader(s, opt)
	batches(t, l1, 0)
	batches(t, l1, 1)
	a := batches(t, l1, 2)

	l2, _ := NewLoader(s, opt)
	b := batches(t, l2, 2) // resumed at epoch 2
	if len(a) != len(b) {
		t.Fatalf("%d and %d batches", len(a), len(b))
	}
	for i := range a {
		if !slices.Equal(a[i].X, b[i].X) || !slices.Equal(a[i].Labels, b[i].Labels) {
			t.Fatalf("batch %d of epoch 2 differs after resuming", i)
		}
	}
	c := batches(t, l2, 3)
	if slices.Equal(a[0].X, c[0].X) {
		t.Error("epochs 2 and 3 start with the same batch")
	}
}

// reference computes the augmented image in the most direct way: pad the
// normalised image with zeros, crop at (dy, dx), then flip.
func reference(src []byte, norm Normalization, pad, dy, dx int, flip bool) []float32 {
	size := Height + 2*pad
	padded := make([]float32, Channels*size*size)
	for c := range Channels {
		for y := range Height {
			for x := range Width {
				p := float64(src[c*1024+y*32+x])
				padded[c*size*size+(y+pad)*size+x+pad] = float32((p/255 - float64(norm.Mean[c])) / float64(norm.Std[c]))
			}
		}
	}
	out := make([]float32, ImageSize)
	for c := range Channels {
		for y := range Height {
			for x := range Width {
				sx := x
				if flip {
					sx = Width - 1 - x
				}
				out[c*1024+y*32+x] = padded[c*size*size+(y+dy)*size+sx+dx]
			}
		}
	}
	return out
}

func TestTransformKnown(t *testing.T) {
	// Pixels 1..255 so that no normalised pixel is 0 under half.
	src := make([]byte, ImageSize)
	for i := range src {
		src[i] = uint8(1 + i%255)
	}
	lut := half.table()
	dst := make([]float32, ImageSize)

	// Offset (dy, dx) = (0, 6) with padding 4: shift up by 4, left by -2.
	transform(dst, src, &lut, 0-4, 6-4, false)
	for c := range Channels {
		for y := range Height {
			for x := range Width {
				v := dst[c*1024+y*32+x]
				if y < 4 || x >= 30 {
					if v != 0 {
						t.Fatalf("crop: (c=%d, y=%d, x=%d) = %v, want padding 0", c, y, x, v)
					}
					continue
				}
				if want := lut[c][src[c*1024+(y-4)*32+x+2]]; v != want {
					t.Fatalf("crop: (c=%d, y=%d, x=%d) = %v, want %v", c, y, x, v, want)
				}
			}
		}
	}
	if !slices.Equal(dst, reference(src, half, 4, 0, 6, false)) {
		t.Error("crop differs from the reference")
	}

	// Flip only: every row reversed.
	transform(dst, src, &lut, 0, 0, true)
	for c := range Channels {
		for y := range Height {
			for x := range Width {
				if got, want := dst[c*1024+y*32+x], lut[c][src[c*1024+y*32+31-x]]; got != want {
					t.Fatalf("flip: (c=%d, y=%d, x=%d) = %v, want %v", c, y, x, got, want)
				}
			}
		}
	}

	// Crop then flip.
	transform(dst, src, &lut, 8-4, 1-4, true)
	if !slices.Equal(dst, reference(src, half, 4, 8, 1, true)) {
		t.Error("crop and flip differ from the reference")
	}
}

// matchAugmented returns the (dy, dx, flip) for which the reference
// matches got exactly, or ok = false.
func matchAugmented(got []float32, src []byte, norm Normalization, pad int, flips bool) (dy, dx int, flip, ok bool) {
	for dy := range 2*pad + 1 {
		for dx := range 2*pad + 1 {
			for _, f := range []bool{false, true} {
				if f && !flips {
					continue
				}
				if slices.Equal(got, reference(src, norm, pad, dy, dx, f)) {
					return dy, dx, f, true
				}
			}
		}
	}
	return 0, 0, false, false
}

func TestAugmentation(t *testing.T) {
	const n = 200
	_, s := genRecords(n, 21)
	// Avoid pixel values whose normalised value is 0 or which make an
	// image symmetric by accident: random bytes do that.
	for _, tt := range []struct {
		name  string
		aug   Augmentation
		pad   int
		flips bool
	}{
		{"flip", Augmentation{HorizontalFlip: true}, 0, true},
		{"crop", Augmentation{CropPadding: 4}, 4, false},
		{"crop and flip", Augmentation{CropPadding: 2, HorizontalFlip: true}, 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLoader(s, LoaderOptions{BatchSize: 64, Norm: half, Augment: tt.aug, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			dys := map[int]int{}
			dxs := map[int]int{}
			pairs := map[[2]int]bool{}
			flipped := 0
			k := 0
			for _, b := range batches(t, l, 0) {
				for i := range b.N {
					dy, dx, flip, ok := matchAugmented(b.X[i*ImageSize:(i+1)*ImageSize], s.Image(k), half, tt.pad, tt.flips)
					if !ok {
						t.Fatalf("image %d is no crop/flip of the original", k)
					}
					dys[dy]++
					dxs[dx]++
					pairs[[2]int{dy, dx}] = true
					if flip {
						flipped++
					}
					k++
				}
			}
			if k != n {
				t.Fatalf("%d images, want %d", k, n)
			}
			if len(dys) != 2*tt.pad+1 || len(dxs) != 2*tt.pad+1 {
				t.Errorf("offsets seen: dy %v, dx %v; want all of [0, %d]", dys, dxs, 2*tt.pad)
			}
			// dy and dx are drawn independently.
			if side := 2*tt.pad + 1; len(pairs) < side*side/2 {
				t.Errorf("only %d distinct (dy, dx) pairs of %d", len(pairs), side*side)
			}
			if tt.flips && (flipped < n/4 || flipped > 3*n/4) {
				t.Errorf("%d of %d images flipped", flipped, n)
			}
			if !tt.flips && flipped != 0 {
				t.Errorf("%d images flipped without HorizontalFlip", flipped)
			}
		})
	}
}

func TestNoAugmentation(t *testing.T) {
	_, s := genRecords(50, 31)
	l, _ := NewLoader(s, LoaderOptions{BatchSize: 50, Norm: half, Shuffle: true, Seed: 1})
	b := batches(t, l, 0)[0]
	want := make([]float32, 50*ImageSize)
	wantLabels := make([]int, 50)
	// Recover the order from the labels and pixels: images are distinct.
	idx := make([]int, 50)
	for i := range 50 {
		found := false
		for k := range 50 {
			if slices.Equal(b.X[i*ImageSize:(i+1)*ImageSize], reference(s.Image(k), half, 0, 0, 0, false)) {
				idx[i] = k
				found = true
			}
		}
		if !found {
			t.Fatalf("image %d of the batch is not a normalised input image", i)
		}
	}
	s.Fill(want, wantLabels, idx, half)
	if !slices.Equal(b.X, want) || !slices.Equal(b.Labels, wantLabels) {
		t.Error("batch differs from Fill")
	}
}

func TestNewLoaderErrors(t *testing.T) {
	s := idSet(4)
	for _, tt := range []struct {
		name string
		s    *Set
		opt  LoaderOptions
	}{
		{"nil set", nil, LoaderOptions{BatchSize: 1}},
		{"zero batch", s, LoaderOptions{}},
		{"negative batch", s, LoaderOptions{BatchSize: -3}},
		{"negative padding", s, LoaderOptions{BatchSize: 1, Augment: Augmentation{CropPadding: -1}}},
		{"inconsistent set", &Set{Pixels: make([]byte, 5), Labels: []uint8{1}}, LoaderOptions{BatchSize: 1}},
	} {
		if l, err := NewLoader(tt.s, tt.opt); err == nil || l != nil {
			t.Errorf("%s: NewLoader = %v, %v, want error", tt.name, l, err)
		}
	}
	// An empty set is valid and has no batches.
	l, err := NewLoader(&Set{}, LoaderOptions{BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if l.NumBatches() != 0 || len(batches(t, l, 0)) != 0 {
		t.Error("empty set has batches")
	}
}

func TestIteratorClose(t *testing.T) {
	s := idSet(100)
	l, _ := NewLoader(s, LoaderOptions{BatchSize: 10, Shuffle: true})

	it := l.Epoch(0)
	if it.Batch() != nil {
		t.Error("Batch() != nil before Next")
	}
	if !it.Next() || it.Batch().N != 10 {
		t.Fatal("no first batch")
	}
	it.Close()
	it.Close()
	if it.Next() {
		t.Error("Next after Close returned true")
	}
	if it.Batch() != nil {
		t.Error("Batch() != nil after Close")
	}

	it = l.Epoch(1)
	for it.Next() {
	}
	it.Close()
	it.Close()

	// Two epochs at once do not share buffers.
	a, b := l.Epoch(0), l.Epoch(0)
	for a.Next() && b.Next() {
		if &a.Batch().X[0] == &b.Batch().X[0] {
			t.Fatal("concurrent iterators share a buffer")
		}
		if !slices.Equal(a.Batch().X, b.Batch().X) {
			t.Fatal("concurrent iterators of the same epoch differ")
		}
	}
	a.Close()
	b.Close()
}

// TestPrefetch checks that batches are prepared ahead of the caller.
func TestPrefetch(t *testing.T) {
	l, _ := NewLoader(idSet(100), LoaderOptions{BatchSize: 10})
	it := l.Epoch(0)
	defer it.Close()
	if !it.Next() {
		t.Fatal("no batch")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(it.ready) < ringSize-1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d batches ready while the caller holds one, want %d", len(it.ready), ringSize-1)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSteadyStateAllocs checks that batches reuse their buffers: the
// allocations of an epoch do not grow with its number of batches.
func TestSteadyStateAllocs(t *testing.T) {
	l, _ := NewLoader(idSet(2000), LoaderOptions{
		BatchSize: 10, Shuffle: true, Augment: Augmentation{CropPadding: 4, HorizontalFlip: true},
	})
	batches(t, l, 0) // allocates the ring
	e := 0
	allocs := testing.AllocsPerRun(5, func() {
		e++
		it := l.Epoch(e)
		for it.Next() {
		}
		it.Close()
	})
	// 200 batches per epoch; a handful of allocations per epoch (the
	// iterator, its channels, the goroutine, the generator).
	if allocs > 20 {
		t.Errorf("%v allocations per epoch of %d batches", allocs, l.NumBatches())
	}
}

func BenchmarkEpoch(b *testing.B) {
	_, s := genRecords(2048, 1)
	l, _ := NewLoader(s, LoaderOptions{
		BatchSize: 128, Shuffle: true, Norm: half,
		Augment: Augmentation{CropPadding: 4, HorizontalFlip: true},
	})
	b.SetBytes(int64(len(s.Pixels)))
	e := 0
	for b.Loop() {
		it := l.Epoch(e)
		for it.Next() {
		}
		it.Close()
		e++
	}
}

// TestCutout checks that cutout zeroes one clipped square, the same in
// every channel, on white images, and nothing else.
func TestCutout(t *testing.T) {
	s := &Set{Pixels: make([]byte, 200*ImageSize), Labels: make([]uint8, 200)}
	for i := range s.Pixels {
		s.Pixels[i] = 255 // normalises to 1
	}
	l, err := NewLoader(s, LoaderOptions{BatchSize: 200, Norm: half, Augment: Augmentation{Cutout: 8}, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	b := batches(t, l, 0)[0]
	clipped := 0
	for i := range b.N {
		img := b.X[i*ImageSize : (i+1)*ImageSize]
		ylo, yhi, xlo, xhi, zeros := Height, -1, Width, -1, 0
		for y := range Height {
			for x := range Width {
				v := img[y*Width+x]
				for c := 1; c < Channels; c++ {
					if img[c*Height*Width+y*Width+x] != v {
						t.Fatalf("image %d pixel (%d,%d): channels differ", i, y, x)
					}
				}
				switch v {
				case 0:
					zeros++
					ylo, yhi, xlo, xhi = min(ylo, y), max(yhi, y), min(xlo, x), max(xhi, x)
				case 1:
				default:
					t.Fatalf("image %d pixel (%d,%d) = %v, want 0 or 1", i, y, x, v)
				}
			}
		}
		h, w := yhi-ylo+1, xhi-xlo+1
		if zeros != h*w || h < 4 || h > 8 || w < 4 || w > 8 {
			t.Fatalf("image %d: %d zeros in a %d×%d box, want a full square of side 4 to 8", i, zeros, h, w)
		}
		if h < 8 || w < 8 {
			clipped++
		}
	}
	if clipped == 0 || clipped == b.N {
		t.Errorf("%d of %d squares clipped by the border: the centres are not spread over the image", clipped, b.N)
	}
	if again := batches(t, l, 0)[0]; !slices.Equal(again.X, b.X) {
		t.Error("cutout is not deterministic for a seed and epoch")
	}
}

// TestNewNormalizationApply checks the one conversion from the
// configuration and Apply on hand-computed values: (p/255 - mean)/std per
// channel, a zero std taken as 1.
func TestNewNormalizationApply(t *testing.T) {
	n := NewNormalization(config.Normalize{Mean: []float64{0.5, 0.25, 0}, Std: []float64{0.5, 0.5, 0}})
	if n.Mean != [Channels]float32{0.5, 0.25, 0} || n.Std != [Channels]float32{0.5, 0.5, 0} {
		t.Fatalf("NewNormalization = %+v", n)
	}
	pixels := make([]byte, 2*ImageSize)
	plane := Height * Width
	pixels[0], pixels[plane], pixels[2*plane] = 255, 0, 51
	pixels[ImageSize+plane+1] = 255
	x := make([]float32, len(pixels))
	n.Apply(x, pixels)
	for _, c := range []struct {
		i    int
		want float32
	}{{0, 1}, {1, -1}, {plane, -0.5}, {2 * plane, 0.2}, {2*plane + 1, 0}, {ImageSize + plane + 1, 1.5}} {
		if x[c.i] != c.want {
			t.Errorf("x[%d] = %v, want %v", c.i, x[c.i], c.want)
		}
	}
}

// TestParallelFill checks that batches filled by several goroutines hold
// the same images, bit for bit, as those filled by one: the augmentation
// is drawn in order before the images are split among the goroutines.
func TestParallelFill(t *testing.T) {
	_, s := genRecords(600, 3)
	opt := LoaderOptions{BatchSize: 256, Shuffle: true, Norm: half, Seed: 7,
		Augment: Augmentation{CropPadding: 4, HorizontalFlip: true, Cutout: 8}}
	epoch := func(procs int) []Batch {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		l, err := NewLoader(s, opt)
		if err != nil {
			t.Fatal(err)
		}
		return batches(t, l, 1)
	}
	// Batches of 256, 256 and 88 images: one goroutine, then four (64 or
	// 22 images each).
	one, four := epoch(1), epoch(4)
	if len(one) != 3 || len(four) != 3 {
		t.Fatalf("%d and %d batches, want 3", len(one), len(four))
	}
	for k := range one {
		if one[k].N != four[k].N || !slices.Equal(one[k].Labels, four[k].Labels) || !slices.Equal(one[k].X, four[k].X) {
			t.Errorf("batch %d differs between one goroutine and four", k)
		}
	}
}
