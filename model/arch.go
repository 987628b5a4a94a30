package model

import (
	"fmt"
	"math"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
)

// convSpec describes a bias-free convolution and the batch norm after it.
type convSpec struct {
	convName, bnName string // layer names, e.g. "stem.conv" and "stem.bn"
	cin, cout        int    // channels in and out
	r                int    // kernel size
	stride           int
	pad              int
}

// blockSpec describes a residual block: two 3×3 convolutions, and a 1×1
// projection of the skip path when the block changes the shape.
type blockSpec struct {
	conv1, conv2 convSpec
	// skip is the projection, or nil for an identity skip path.
	skip *convSpec
}

// arch is the architecture of the network described by a configuration,
// without weights: stem, blocks, global average pool and a dense layer
// from the last stage's channels to the classes.
type arch struct {
	stem     convSpec
	blocks   []blockSpec
	features int // channels of the last stage
}

// describe returns the architecture cfg describes.
func describe(cfg config.Model) arch {
	a := arch{stem: convSpec{convName: "stem.conv", bnName: "stem.bn", cin: dataset.Channels, cout: cfg.StemChannels, r: 3, stride: 1, pad: 1}}
	cin := cfg.StemChannels
	for si, s := range cfg.Stages {
		for b := range s.Blocks {
			stride := 1
			if b == 0 {
				stride = s.Stride
			}
			name := fmt.Sprintf("stage%d.block%d", si+1, b+1)
			blk := blockSpec{
				conv1: convSpec{convName: name + ".conv1", bnName: name + ".bn1", cin: cin, cout: s.Channels, r: 3, stride: stride, pad: 1},
				conv2: convSpec{convName: name + ".conv2", bnName: name + ".bn2", cin: s.Channels, cout: s.Channels, r: 3, stride: 1, pad: 1},
			}
			if stride != 1 || cin != s.Channels {
				blk.skip = &convSpec{convName: name + ".skip.conv", bnName: name + ".skip.bn", cin: cin, cout: s.Channels, r: 1, stride: stride}
			}
			a.blocks = append(a.blocks, blk)
			cin = s.Channels
		}
	}
	a.features = cin
	return a
}

// layers lists the layers of the architecture with their output shapes
// and parameter counts; a count too large for an int is math.MaxInt.
func (a arch) layers() []Layer {
	var ls []Layer
	convBN := func(c convSpec, h, w int) (int, int) {
		h, w = (h+2*c.pad-c.r)/c.stride+1, (w+2*c.pad-c.r)/c.stride+1
		ls = append(ls,
			Layer{Name: c.convName, Out: []int{c.cout, h, w}, Formula: fmt.Sprintf("%d·%d·%d·%d", c.r, c.r, c.cin, c.cout), Params: mulSat(c.r, c.r, c.cin, c.cout)},
			Layer{Name: c.bnName, Out: []int{c.cout, h, w}, Formula: fmt.Sprintf("2·%d", c.cout), Params: mulSat(2, c.cout)})
		return h, w
	}
	h, w := convBN(a.stem, dataset.Height, dataset.Width)
	for _, b := range a.blocks {
		h1, w1 := convBN(b.conv1, h, w)
		h2, w2 := convBN(b.conv2, h1, w1)
		if b.skip != nil {
			convBN(*b.skip, h, w)
		}
		h, w = h2, w2
	}
	return append(ls,
		Layer{Name: "pool", Out: []int{a.features}, Formula: "0"},
		Layer{Name: "fc", Out: []int{dataset.NumClasses}, Formula: fmt.Sprintf("(%d+1)·%d", a.features, dataset.NumClasses), Params: mulSat(addSat(a.features, 1), dataset.NumClasses)})
}

// Capacity returns the number of learnable parameters of the network
// described by cfg, without allocating it, or -1 if cfg breaks a rule of
// config.Model.Validate (which bounds every width and the number of
// blocks, so that a valid network can always be counted).
func Capacity(cfg config.Model) int {
	if cfg.Validate() != nil {
		return -1
	}
	return total(describe(cfg).layers())
}

// total returns the number of learnable parameters of ls, or math.MaxInt
// if it is larger.
func total(ls []Layer) int {
	n := 0
	for _, l := range ls {
		n = addSat(n, l.Params)
	}
	return n
}

// Layers returns the layers of the network described by cfg, as
// Model.Layers lists them, without allocating the network, whatever its
// size: also when it has more than cfg.MaxParams learnable parameters,
// which New refuses. It returns the error of config.Model.Validate for an
// invalid cfg.
func Layers(cfg config.Model) ([]Layer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return describe(cfg).layers(), nil
}

// mulSat returns the product of non-negative factors, or math.MaxInt if
// it is larger.
func mulSat(factors ...int) int {
	p := 1
	for _, f := range factors {
		if f != 0 && p > math.MaxInt/f {
			return math.MaxInt
		}
		p *= f
	}
	return p
}

// addSat returns a + b for non-negative a and b, or math.MaxInt if the sum
// is larger.
func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}
