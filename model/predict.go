package model

import (
	"fmt"
	"math"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// EvalBatch is the largest batch an evaluation net runs at once.
const EvalBatch = 250

// Classifier is a trained model ready for inference: the network in
// evaluation mode and the normalisation its training data used.
type Classifier struct {
	// Model is the network; the classifier builds its evaluation nets
	// from it.
	Model *Model
	// Normalize maps raw pixels to the network's input, as in training.
	Normalize config.Normalize
	// Epoch and ValAcc describe the checkpoint the weights come from.
	Epoch  int
	ValAcc float64
	// FlipAverage makes Logits, and so Predict, return for each image the
	// mean of the logits of the image and of its mirror image (left and
	// right swapped), a test-time augmentation that matches training with
	// horizontal flips. It doubles the cost of inference.
	FlipAverage bool
	// Shift, if positive, makes Logits also average over translations of
	// each image: the views Translate gives for every offset (dy, dx) with
	// |dy|, |dx| ≤ Shift, the pixels that come from outside the image set
	// to zero (the normalised mean), as training's zero-padded crops see
	// them. With FlipAverage the mirror image is translated the same ways,
	// so a Shift of 1 with FlipAverage averages 18 views and costs 18 times
	// a single one. Shift must be less than Width.
	Shift int

	nets map[int]*Net
}

// Option configures a classifier made by Load or FromCheckpoint.
type Option func(*Classifier)

// OnDevice makes the classifier's nets compute with be, e.g. a GPU's
// backend (see Model.Backend); nil is the CPU.
func OnDevice(be backend.Backend) Option {
	return func(c *Classifier) { c.Model.Backend = be }
}

// Load reads a checkpoint written by the trainer (best.ckpt, last.ckpt or
// a file in the models directory) and returns a classifier with its
// weights, configured by opts (OnDevice). When the checkpoint holds a
// best-validation copy of the weights (a checkpoint of a run in
// progress), those are used. A checkpoint written on either device loads
// on either.
func Load(path string, opts ...Option) (*Classifier, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	return FromCheckpoint(f, opts...)
}

// FromCheckpoint builds a classifier from a decoded checkpoint, configured
// by opts.
func FromCheckpoint(f *checkpoint.File, opts ...Option) (*Classifier, error) {
	m, err := New(f.Config.Model, f.Config.Seed)
	if err != nil {
		return nil, err
	}
	params, stats, acc := f.Params, f.Stats, 0.0
	if len(f.BestParams) > 0 {
		params, stats, acc = f.BestParams, f.BestStats, f.BestValAcc
	}
	if err := m.SetParams(params); err != nil {
		return nil, err
	}
	if err := m.SetStats(stats); err != nil {
		return nil, err
	}
	c := &Classifier{Model: m, Normalize: f.Config.Data.Normalize, Epoch: f.Epoch, ValAcc: acc}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// NewClassifier wraps a model for inference with the given normalisation.
func NewClassifier(m *Model, norm config.Normalize) *Classifier {
	return &Classifier{Model: m, Normalize: norm}
}

// net returns the cached evaluation net for a batch size.
func (c *Classifier) net(batch int) (*Net, error) {
	if n, ok := c.nets[batch]; ok {
		return n, nil
	}
	n, err := c.Model.Build(batch, false)
	if err != nil {
		return nil, err
	}
	if c.nets == nil {
		c.nets = map[int]*Net{}
	}
	c.nets[batch] = n
	return n, nil
}

// Logits runs the network in evaluation mode on normalised NCHW images
// (len(images) a multiple of 3·32·32) and returns their N×10 logits: with
// FlipAverage or Shift set, the mean of the logits of the views they ask
// for. Every value must be finite: a NaN or an infinity is an error that
// names the image and the value's index in it.
func (c *Classifier) Logits(images []float32) ([]float32, error) {
	if len(images)%dataset.ImageSize != 0 {
		return nil, fmt.Errorf("model: %d values is not a whole number of %d-value images", len(images), dataset.ImageSize)
	}
	if err := checkFinite(images); err != nil {
		return nil, err
	}
	if c.Shift < 0 || c.Shift >= dataset.Width {
		return nil, fmt.Errorf("model: a test-time shift of %d pixels; want 0 to %d", c.Shift, dataset.Width-1)
	}
	n := len(images) / dataset.ImageSize
	views := c.views()
	out := make([]float32, n*dataset.NumClasses)
	sum := make([]float64, min(EvalBatch, n)*dataset.NumClasses)
	var mirrored []float32
	if c.FlipAverage {
		mirrored = make([]float32, min(EvalBatch, n)*dataset.ImageSize)
	}
	for lo := 0; lo < n; lo += EvalBatch {
		b := min(EvalBatch, n-lo)
		net, err := c.net(b)
		if err != nil {
			return nil, err
		}
		batch := images[lo*dataset.ImageSize : (lo+b)*dataset.ImageSize]
		if c.FlipAverage {
			Mirror(mirrored[:len(batch)], batch)
		}
		clear(sum)
		for _, v := range views {
			src := batch
			if v.flip {
				src = mirrored[:len(batch)]
			}
			Translate(net.Input(), src, v.dy, v.dx)
			if err := net.Run(); err != nil {
				return nil, err
			}
			for i, z := range net.LogitsValue() {
				sum[i] += float64(z)
			}
		}
		for i := range b * dataset.NumClasses {
			out[lo*dataset.NumClasses+i] = float32(sum[i] / float64(len(views)))
		}
	}
	return out, nil
}

// checkFinite returns an error naming the first image of images (NCHW)
// that holds a NaN or an infinity, and where.
func checkFinite(images []float32) error {
	for i, v := range images {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			j := i % dataset.ImageSize
			return fmt.Errorf("model: image %d has a non-finite value (%g) at index %d (channel %d, row %d, column %d)",
				i/dataset.ImageSize, f, j, j/(dataset.Height*dataset.Width), j%(dataset.Height*dataset.Width)/dataset.Width, j%dataset.Width)
		}
	}
	return nil
}

// view is one test-time view of an image: translated by (dy, dx),
// mirrored first if flip is set.
type view struct {
	dy, dx int
	flip   bool
}

// views lists the views FlipAverage and Shift ask for, the plain image
// first.
func (c *Classifier) views() []view {
	var vs []view
	for _, flip := range []bool{false, true} {
		if flip && !c.FlipAverage {
			break
		}
		vs = append(vs, view{0, 0, flip})
		for dy := -c.Shift; dy <= c.Shift; dy++ {
			for dx := -c.Shift; dx <= c.Shift; dx++ {
				if dy != 0 || dx != 0 {
					vs = append(vs, view{dy, dx, flip})
				}
			}
		}
	}
	return vs
}

// Translate writes into dst the NCHW images of src (len(src) a multiple of
// ImageSize, len(dst) at least len(src)) moved so that pixel (y, x) of each
// output plane is pixel (y+dy, x+dx) of the input plane, or zero where that
// falls outside the image: the crop at offset (dy, dx) of the image padded
// with zeros. dst must not overlap src unless dy and dx are both zero.
func Translate(dst, src []float32, dy, dx int) {
	if dy == 0 && dx == 0 {
		copy(dst, src)
		return
	}
	for p := 0; p+dataset.Height*dataset.Width <= len(src); p += dataset.Height * dataset.Width {
		in, out := src[p:p+dataset.Height*dataset.Width], dst[p:p+dataset.Height*dataset.Width]
		for y := range dataset.Height {
			row := out[y*dataset.Width : (y+1)*dataset.Width]
			sy := y + dy
			if sy < 0 || sy >= dataset.Height {
				clear(row)
				continue
			}
			srow := in[sy*dataset.Width : (sy+1)*dataset.Width]
			// Columns x with 0 ≤ x+dx < Width come from the input.
			x0, x1 := max(0, -dx), min(dataset.Width, dataset.Width-dx)
			if x0 >= x1 {
				clear(row)
				continue
			}
			clear(row[:x0])
			copy(row[x0:x1], srow[x0+dx:x1+dx])
			clear(row[x1:])
		}
	}
}

// Mirror writes into dst the NCHW images of src (len(src) a multiple of
// ImageSize) with each row reversed: the images flipped left to right. dst
// may be src.
func Mirror(dst, src []float32) {
	for r := 0; r+dataset.Width <= len(src); r += dataset.Width {
		in, out := src[r:r+dataset.Width], dst[r:r+dataset.Width]
		for j := range dataset.Width / 2 {
			a, b := in[j], in[dataset.Width-1-j]
			out[j], out[dataset.Width-1-j] = b, a
		}
	}
}

// Predict classifies normalised NCHW float32 images and returns, for each,
// the most probable class and the softmax probabilities of all classes. As
// for Logits, a NaN or an infinity in the images is an error naming the
// image.
func (c *Classifier) Predict(images []float32) (classes []int, probs [][]float32, err error) {
	logits, err := c.Logits(images)
	if err != nil {
		return nil, nil, err
	}
	n := len(logits) / dataset.NumClasses
	classes, probs = make([]int, n), make([][]float32, n)
	for i := range n {
		classes[i] = Argmax(logits[i*dataset.NumClasses : (i+1)*dataset.NumClasses])
		probs[i] = Softmax(logits[i*dataset.NumClasses:(i+1)*dataset.NumClasses], 1)
	}
	return classes, probs, nil
}

// PredictPixels classifies raw images, 3072 bytes each in the CIFAR-10
// layout (1024 red, 1024 green, 1024 blue, rows top to bottom), normalising
// them as the training data was.
func (c *Classifier) PredictPixels(pixels []byte) (classes []int, probs [][]float32, err error) {
	if len(pixels)%dataset.ImageSize != 0 {
		return nil, nil, fmt.Errorf("model: %d bytes is not a whole number of %d-byte images", len(pixels), dataset.ImageSize)
	}
	if len(c.Normalize.Mean) != dataset.Channels || len(c.Normalize.Std) != dataset.Channels {
		return nil, nil, fmt.Errorf("model: normalisation needs %d means and standard deviations", dataset.Channels)
	}
	x := make([]float32, len(pixels))
	dataset.NewNormalization(c.Normalize).Apply(x, pixels)
	return c.Predict(x)
}

// Close releases the evaluation nets.
func (c *Classifier) Close() {
	for _, n := range c.nets {
		n.Close()
	}
	c.nets = nil
}

// Argmax returns the index of the largest value (the first on ties).
func Argmax(xs []float32) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

// Softmax returns softmax(logits/temperature), computed in float64
// without overflow; temperature 1 gives the plain softmax.
func Softmax(logits []float32, temperature float64) []float32 {
	p := make([]float32, len(logits))
	_, s := expSum(logits, temperature, func(i int, e float64) { p[i] = float32(e) })
	for i := range p {
		p[i] = float32(float64(p[i]) / s)
	}
	return p
}

// CrossEntropy returns -log softmax(logits)[label], computed in float64
// as log Σ exp(z - max z) + max z - z[label].
func CrossEntropy(logits []float32, label int) float64 {
	hi, s := expSum(logits, 1, nil)
	return math.Log(s) + hi - float64(logits[label])
}

// expSum returns m, the largest of the logits divided by temperature, and
// the sum of the terms exp(z/temperature - m), each computed in float64
// and handed to term, if it is not nil, with its index.
func expSum(logits []float32, temperature float64, term func(i int, e float64)) (m, sum float64) {
	m = math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v)/temperature)
	}
	for i, v := range logits {
		e := math.Exp(float64(v)/temperature - m)
		if term != nil {
			term(i, e)
		}
		sum += e
	}
	return m, sum
}
