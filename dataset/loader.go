package dataset

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/cifar-resnet/trainer/config"
)

// Normalization describes how raw pixel values become network inputs. A
// byte p of channel c maps to
//
//	x = (p/255 - Mean[c]) / Std[c]
//
// computed in float64 and rounded to float32. A Std component of zero is
// treated as 1, so the zero Normalization scales pixels to [0, 1].
type Normalization struct {
	Mean, Std [Channels]float32
}

// NewNormalization returns the normalisation a configuration describes:
// its first Channels means and standard deviations, rounded to float32
// (config.Data.Validate requires exactly Channels of each; a missing one
// is 0).
func NewNormalization(n config.Normalize) Normalization {
	var d Normalization
	for c := range min(len(n.Mean), len(n.Std), Channels) {
		d.Mean[c], d.Std[c] = float32(n.Mean[c]), float32(n.Std[c])
	}
	return d
}

// Apply writes into dst the normalised values of the images in pixels,
// whole images in the layout of Set.Pixels. It panics if dst is shorter
// than pixels or if len(pixels) is not a multiple of ImageSize.
func (n Normalization) Apply(dst []float32, pixels []byte) {
	if len(pixels)%ImageSize != 0 || len(dst) < len(pixels) {
		panic(fmt.Sprintf("dataset: Apply: %d values for %d bytes, which must be whole %d-byte images", len(dst), len(pixels), ImageSize))
	}
	lut := n.table()
	for i := 0; i < len(pixels); i += ImageSize {
		normalize(dst[i:i+ImageSize], pixels[i:i+ImageSize], &lut)
	}
}

// table returns the normalised value of every byte value, per channel.
func (n Normalization) table() [Channels][256]float32 {
	var t [Channels][256]float32
	for c := range Channels {
		mean, std := float64(n.Mean[c]), float64(n.Std[c])
		if std == 0 {
			std = 1
		}
		for p := range 256 {
			t[c][p] = float32((float64(p)/255 - mean) / std)
		}
	}
	return t
}

// Augmentation describes the random transformations a [Loader] applies to
// each image. The zero value applies none.
//
// If CropPadding is p > 0, each image is normalised, padded with p zeros on
// every side and cropped back to 32x32 at an offset (dy, dx) drawn
// uniformly from [0, 2p] x [0, 2p], so output pixel (y, x) is input pixel
// (y+dy-p, x+dx-p), or 0 where that lies outside the image. The border is
// zero in the normalised output, as in PyTorch pipelines that pad the
// normalised tensor. (torchvision's RandomCrop applied before Normalize
// instead pads with the raw value 0, which normalises to -Mean/Std.)
//
// If HorizontalFlip is set, each image is mirrored left to right with
// probability 1/2, after cropping.
type Augmentation struct {
	CropPadding    int
	HorizontalFlip bool
	// Cutout, if c > 0, zeroes (in the normalised output) the pixels of
	// the c×c square with top-left corner (cy-c/2, cx-c/2), clipped to the
	// image, for a centre (cy, cx) drawn uniformly from the 32×32 pixels,
	// after cropping and flipping.
	Cutout int
}

// LoaderOptions configures a [Loader].
type LoaderOptions struct {
	// BatchSize is the number of images per batch. It must be positive.
	BatchSize int
	// Shuffle makes each epoch visit the images in a new random order.
	// Otherwise they are visited in the order of the Set.
	Shuffle bool
	// DropLast drops a final batch with fewer than BatchSize images.
	DropLast bool
	// Norm is the normalisation applied to every image.
	Norm Normalization
	// Augment is the random augmentation applied to every image. The zero
	// value applies none.
	Augment Augmentation
	// Seed seeds the shuffling and the augmentation.
	Seed int64
}

// A Batch is a mini-batch of normalised images.
type Batch struct {
	// X holds the N images in NCHW order: the value of channel c, row y
	// and column x of image i is X[i*ImageSize + c*Height*Width + y*Width + x].
	X []float32
	// Labels holds the N labels.
	Labels []int
	// N is the number of images in the batch. It equals the batch size
	// except perhaps for the last batch of an epoch.
	N int
}

// ringSize is the number of batch buffers of an epoch: one for the caller,
// one being filled and one ready.
const ringSize = 3

// A Loader cuts a Set into batches, epoch after epoch.
//
// A Loader may be used by several goroutines at once, and several epochs
// may be iterated at the same time.
type Loader struct {
	set *Set
	opt LoaderOptions
	lut [Channels][256]float32
	n   int // images per epoch, after DropLast

	mu   sync.Mutex
	free []*epochState // buffers of finished epochs, for reuse
}

// NewLoader returns a Loader that reads from s with the given options. The
// Loader keeps s and reads it during iteration; s must not be modified
// while the Loader is in use.
func NewLoader(s *Set, opt LoaderOptions) (*Loader, error) {
	if s == nil {
		return nil, errors.New("dataset: NewLoader: nil Set")
	}
	if len(s.Pixels) != len(s.Labels)*ImageSize {
		return nil, fmt.Errorf("dataset: NewLoader: Set has %d labels but %d pixel bytes, want %d",
			len(s.Labels), len(s.Pixels), len(s.Labels)*ImageSize)
	}
	if opt.BatchSize <= 0 {
		return nil, fmt.Errorf("dataset: NewLoader: batch size %d is not positive", opt.BatchSize)
	}
	if opt.Augment.CropPadding < 0 {
		return nil, fmt.Errorf("dataset: NewLoader: crop padding %d is negative", opt.Augment.CropPadding)
	}
	l := &Loader{set: s, opt: opt, lut: opt.Norm.table(), n: s.Len()}
	if opt.DropLast {
		l.n -= l.n % opt.BatchSize
	}
	return l, nil
}

// NumBatches returns the number of batches in an epoch.
func (l *Loader) NumBatches() int {
	return (l.n + l.opt.BatchSize - 1) / l.opt.BatchSize
}

// An epochState holds the buffers of one epoch.
type epochState struct {
	batches [ringSize]Batch
	order   []int
	aug     []augment // the augmentation of each image of the batch being filled
}

// augment is the augmentation drawn for one image: its crop offsets dy and
// dx in [0, 2·CropPadding] (CropPadding, CropPadding: none), whether it is
// flipped, and the top-left corner (cy, cx) of its cutout square.
type augment struct {
	dy, dx, cy, cx int
	flip           bool
}

// fillWorkers is the most goroutines that fill the images of a batch,
// each at least fillChunk of them: the batch's augmentation is drawn in
// order first, so the images are the same whatever the number.
const (
	fillWorkers = 8
	fillChunk   = 32
)

// fillJob is the images [lo, hi) of a batch for a goroutine to fill.
type fillJob struct {
	b      *Batch
	idx    []int
	aug    []augment
	lo, hi int
}

func (l *Loader) getState() *epochState {
	l.mu.Lock()
	if k := len(l.free); k > 0 {
		st := l.free[k-1]
		l.free = l.free[:k-1]
		l.mu.Unlock()
		return st
	}
	l.mu.Unlock()
	b := l.opt.BatchSize
	st := &epochState{order: make([]int, l.set.Len()), aug: make([]augment, b)}
	for i := range st.batches {
		st.batches[i] = Batch{
			X:      make([]float32, b*ImageSize),
			Labels: make([]int, b),
		}
	}
	return st
}

func (l *Loader) putState(st *epochState) {
	l.mu.Lock()
	l.free = append(l.free, st)
	l.mu.Unlock()
}

// An Iterator steps through the batches of one epoch. An Iterator must not
// be used by several goroutines at once.
type Iterator struct {
	l      *Loader
	st     *epochState // nil once the iterator is closed or exhausted
	free   chan *Batch
	ready  chan *Batch
	done   chan struct{}
	exited chan struct{}
	cur    *Batch
}

// Epoch returns an iterator over the batches of epoch e, counting from 0.
//
// The order of the images and their augmentation depend only on the seed
// of the Loader and e, so a run resumed at epoch e sees exactly the batches
// it would have seen without the interruption. The next batch is prepared
// on another goroutine while the caller works on the current one.
//
// A caller that stops before Next returns false must call Close to stop
// that goroutine.
func (l *Loader) Epoch(e int) *Iterator {
	it := &Iterator{
		l:      l,
		st:     l.getState(),
		free:   make(chan *Batch, ringSize),
		ready:  make(chan *Batch, ringSize),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for i := range it.st.batches {
		it.free <- &it.st.batches[i]
	}
	go l.produce(it.st, e, it.free, it.ready, it.done, it.exited)
	return it
}

// produce fills the batches of epoch e and sends them on ready, until the
// epoch ends or done is closed. It fills each batch's images with up to
// fillWorkers goroutines: itself and helpers that live as long as it.
func (l *Loader) produce(st *epochState, e int, free <-chan *Batch, ready chan<- *Batch, done <-chan struct{}, exited chan<- struct{}) {
	defer close(exited)
	defer close(ready)
	bs := l.opt.BatchSize
	workers := max(1, min(runtime.GOMAXPROCS(0), fillWorkers, bs/fillChunk))
	jobs, finished := make(chan fillJob, workers), make(chan struct{}, workers)
	defer close(jobs)
	for range workers - 1 {
		go func() {
			for j := range jobs {
				l.pixels(j)
				finished <- struct{}{}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(mix64(uint64(l.opt.Seed)), mix64(uint64(e)^epochStream)))
	order := st.order
	for i := range order {
		order[i] = i
	}
	if l.opt.Shuffle {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	for start := 0; start < l.n; start += bs {
		var b *Batch
		select {
		case b = <-free:
		case <-done:
			return
		}
		idx := order[start:min(start+bs, l.n)]
		n := len(idx)
		l.draw(b, idx, st.aug, rng)
		for w := 1; w < workers; w++ {
			jobs <- fillJob{b, idx, st.aug, w * n / workers, (w + 1) * n / workers}
		}
		l.pixels(fillJob{b, idx, st.aug, 0, n / workers})
		for w := 1; w < workers; w++ {
			<-finished
		}
		// There are only ringSize batches, so this never blocks.
		ready <- b
	}
}

// draw sets the size and labels of batch b for the images idx of the set
// and draws their augmentation from rng into aug, in the order of idx.
func (l *Loader) draw(b *Batch, idx []int, aug []augment, rng *rand.Rand) {
	n := len(idx)
	b.N = n
	b.X = b.X[:n*ImageSize]
	b.Labels = b.Labels[:n]
	pad, c := l.opt.Augment.CropPadding, l.opt.Augment.Cutout
	for j, i := range idx {
		b.Labels[j] = int(l.set.Labels[i])
		a := augment{dy: pad, dx: pad}
		if pad > 0 {
			a.dy = rng.IntN(2*pad + 1)
			a.dx = rng.IntN(2*pad + 1)
		}
		if l.opt.Augment.HorizontalFlip {
			a.flip = rng.Uint64()&1 == 1
		}
		if c > 0 {
			a.cy, a.cx = rng.IntN(Height)-c/2, rng.IntN(Width)-c/2
		}
		aug[j] = a
	}
}

// pixels writes the normalised, augmented images [j.lo, j.hi) of batch
// j.b.
func (l *Loader) pixels(j fillJob) {
	pad, c := l.opt.Augment.CropPadding, l.opt.Augment.Cutout
	for k := j.lo; k < j.hi; k++ {
		i, a := j.idx[k], j.aug[k]
		src := l.set.Pixels[i*ImageSize : (i+1)*ImageSize]
		dst := j.b.X[k*ImageSize : (k+1)*ImageSize]
		if a.dy == pad && a.dx == pad && !a.flip {
			normalize(dst, src, &l.lut)
		} else {
			transform(dst, src, &l.lut, a.dy-pad, a.dx-pad, a.flip)
		}
		if c > 0 {
			cutout(dst, a.cy, a.cx, c)
		}
	}
}

// cutout zeroes the c×c square of every channel of img whose top-left
// corner is (y0, x0), clipped to the image.
func cutout(img []float32, y0, x0, c int) {
	const plane = Height * Width
	ylo, yhi := max(0, y0), min(Height, y0+c)
	xlo, xhi := max(0, x0), min(Width, x0+c)
	if xhi <= xlo {
		return
	}
	for ch := range Channels {
		for y := ylo; y < yhi; y++ {
			clear(img[ch*plane+y*Width+xlo : ch*plane+y*Width+xhi])
		}
	}
}

// normalize writes the normalised image src into dst.
func normalize(dst []float32, src []byte, lut *[Channels][256]float32) {
	const plane = Height * Width
	for c := range Channels {
		t := &lut[c]
		d := dst[c*plane : (c+1)*plane]
		for k, p := range src[c*plane : (c+1)*plane] {
			d[k] = t[p]
		}
	}
}

// transform writes into dst the normalised image src shifted by (oy, ox)
// with zero fill, then mirrored left to right if flip is set: output pixel
// (y, x) is input pixel (y+oy, x'+ox), where x' is x, or Width-1-x if flip
// is set.
func transform(dst []float32, src []byte, lut *[Channels][256]float32, oy, ox int, flip bool) {
	const plane = Height * Width
	for c := range Channels {
		t := &lut[c]
		for y := range Height {
			row := dst[c*plane+y*Width : c*plane+(y+1)*Width]
			sy := y + oy
			if sy < 0 || sy >= Height {
				clear(row)
				continue
			}
			srow := src[c*plane+sy*Width : c*plane+(sy+1)*Width]
			for x := range Width {
				sx := x
				if flip {
					sx = Width - 1 - x
				}
				sx += ox
				if sx < 0 || sx >= Width {
					row[x] = 0
				} else {
					row[x] = t[srow[sx]]
				}
			}
		}
	}
}

// Next advances to the next batch, which Batch then returns. It returns
// false at the end of the epoch or after Close.
func (it *Iterator) Next() bool {
	if it.st == nil {
		return false
	}
	if it.cur != nil {
		it.free <- it.cur
		it.cur = nil
	}
	b, ok := <-it.ready
	if !ok {
		it.release()
		return false
	}
	it.cur = b
	return true
}

// Batch returns the current batch. It is valid until the next call to Next
// or Close, after which its memory is reused. Batch returns nil before the
// first call to Next and after Next has returned false.
func (it *Iterator) Batch() *Batch {
	return it.cur
}

// Close stops the goroutine that prepares batches and releases the
// iterator's buffers for reuse by later epochs. It is safe to call Close
// more than once and after Next has returned false.
func (it *Iterator) Close() {
	if it.st == nil {
		return
	}
	it.release()
}

func (it *Iterator) release() {
	close(it.done)
	<-it.exited
	it.cur = nil
	it.l.putState(it.st)
	it.st = nil
}

// Fill writes the images idx of s, normalised with norm and without
// augmentation, into x in NCHW order, and their labels into labels, if
// labels is not nil. It is meant for evaluation. Fill panics if x holds
// fewer than len(idx)*ImageSize values, if labels is not nil and shorter
// than idx, or if an index is out of range.
func (s *Set) Fill(x []float32, labels []int, idx []int, norm Normalization) {
	if len(x) < len(idx)*ImageSize {
		panic(fmt.Sprintf("dataset: Fill: len(x) = %d, want at least %d", len(x), len(idx)*ImageSize))
	}
	if labels != nil && len(labels) < len(idx) {
		panic(fmt.Sprintf("dataset: Fill: len(labels) = %d, want at least %d", len(labels), len(idx)))
	}
	lut := norm.table()
	for j, i := range idx {
		normalize(x[j*ImageSize:(j+1)*ImageSize], s.Image(i), &lut)
		if labels != nil {
			labels[j] = int(s.Labels[i])
		}
	}
}
