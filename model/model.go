// Package model builds the residual network of the assignment from the
// model section of a configuration, as Gorgonia expression graphs that
// share one set of weights.
//
// The network is a stem (3x3 convolution, batch norm, ReLU), the residual
// blocks of every stage, global average pooling and one dense layer to 10
// logits. A residual block is conv3x3(stride s) → BN → ReLU → conv3x3 → BN,
// plus an identity skip, or a 1x1 convolution with stride s and batch norm
// when the shape changes, followed by ReLU of the sum. Convolutions have no
// bias: the batch norm shift absorbs it. The input geometry and the number
// of classes are package dataset's.
//
// The code reads like the architecture. arch.go describes it from the
// configuration, without weights (layer names, shapes, parameter counts);
// model.go allocates its weights in a struct of the same shape (stem,
// blocks, dense layer); net.go builds the training form of a net from
// them (stem, basicBlock, head) and its loss; fold.go rewrites that form
// for evaluation (fold: each batch norm, ReLU and residual addition folded
// into a convolution) and builds it.
//
// Every net runs its operations on a backend.Backend: the CPU backend of
// package graph/cpu unless Model.Backend names another, e.g. a GPU's.
package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/graph"
	"github.com/cifar-resnet/trainer/graph/backend"
)

// Param is one learnable tensor. Its Value is shared by every graph built
// from the model, so an optimizer that updates Value in place updates them
// all.
type Param struct {
	// Name identifies the tensor, e.g. "stage2.block1.conv1.weight".
	Name  string
	Value *tensor.Dense
	// Decay reports whether weight decay applies by default: true for
	// convolution and dense weights, false for batch norm γ, β and biases.
	Decay bool
}

// Data returns the parameter's values as float32. It panics if the model
// was built in float64, which only tests do.
func (p *Param) Data() []float32 { return p.Value.Data().([]float32) }

// BN is the running statistics of one batch norm layer.
type BN struct {
	Name  string
	State *graph.BNState
}

// Layer is one row of the model summary.
type Layer struct {
	// Name of the layer, e.g. "stage1.block2.bn1".
	Name string
	// Out is the output shape of one image: C×H×W, or the class count.
	Out []int
	// Formula is the parameter count written out, e.g. "3·3·16·32".
	Formula string
	// Params is the number of learnable parameters of the layer.
	Params int
}

// Model is the network's architecture and weights.
type Model struct {
	Config config.Model
	// Params are the learnable tensors, in the order of the layers.
	Params []*Param
	// BNs are the batch norm layers, in the order of the layers.
	BNs    []*BN
	Layers []Layer
	// Backend computes the operations of the nets built from the model
	// after it is set; nil, the default, is the CPU backend of package
	// graph/cpu. It is the hook for another implementation of
	// backend.Backend, such as a GPU's: every operation of a net, forward
	// and backward, calls it (see graph.UseBackend).
	Backend backend.Backend

	dtype tensor.Dtype
	// size is the height and width of the input images: 32, except in
	// gradient checks, which use smaller images.
	size   int
	byName map[string]*Param
	w      weights
	// devValues are the device copies of the parameters (device.go).
	devValues map[*Param]*tensor.Dense
}

// convBN is the weights of a convolution and its batch norm.
type convBN struct {
	convSpec
	weight, gamma, beta *Param
	// bn is the batch norm's running statistics.
	stats *graph.BNState
}

// block is the weights of a residual block.
type block struct {
	conv1, conv2 convBN
	// skip is the projection of the skip path, or nil for the identity.
	skip *convBN
}

// weights is every learnable tensor and running statistic of the network,
// arranged as the architecture: stem, blocks, dense layer.
type weights struct {
	stem     convBN
	blocks   []block
	fcWeight *Param
	fcBias   *Param
}

// New builds a float32 model from cfg with weights initialised from seed:
// convolutions He-normal with fan-out (std √(2/(K·R·R))), the dense layer
// uniform in ±1/√in for weights and bias (PyTorch's default), batch norm
// γ = 1 (0 for each block's second batch norm if cfg.ZeroInitResidual),
// β = 0, running mean 0 and variance 1. Before allocating anything it
// checks cfg with config.Model.Validate, whose bounds on widths and blocks
// keep every tensor allocatable, and refuses a network with more than
// cfg.MaxParams learnable parameters; both errors name the key.
func New(cfg config.Model, seed int64) (*Model, error) {
	return newModel(cfg, seed, tensor.Float32)
}

func newModel(cfg config.Model, seed int64, dt tensor.Dtype) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	a := describe(cfg)
	layers := a.layers()
	if n := total(layers); n > cfg.MaxParams {
		return nil, fmt.Errorf("model: the network has %d learnable parameters, over the limit model.max_params = %d", n, cfg.MaxParams)
	}
	m := &Model{Config: cfg, Layers: layers, dtype: dt, size: dataset.Height, byName: map[string]*Param{}}
	in := initializer{m: m, rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed))}
	m.w.stem = in.convBN(a.stem, false)
	for _, b := range a.blocks {
		blk := block{conv1: in.convBN(b.conv1, false), conv2: in.convBN(b.conv2, cfg.ZeroInitResidual)}
		if b.skip != nil {
			skip := in.convBN(*b.skip, false)
			blk.skip = &skip
		}
		m.w.blocks = append(m.w.blocks, blk)
	}
	bound := 1 / math.Sqrt(float64(a.features))
	uniform := func() float64 { return (2*in.rng.Float64() - 1) * bound }
	m.w.fcWeight = in.add("fc.weight", []int{dataset.NumClasses, a.features}, true, uniform)
	m.w.fcBias = in.add("fc.bias", []int{dataset.NumClasses}, false, uniform)
	return m, nil
}

// initializer allocates the parameters of a model, in order, drawing
// their initial values from rng.
type initializer struct {
	m   *Model
	rng *rand.Rand
}

// add appends a parameter of the given shape, filled by calls to fill.
func (in initializer) add(name string, shape []int, decay bool, fill func() float64) *Param {
	n := tensor.Shape(shape).TotalSize()
	var t *tensor.Dense
	if in.m.dtype == tensor.Float64 {
		d := make([]float64, n)
		for i := range d {
			d[i] = fill()
		}
		t = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	} else {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(fill())
		}
		t = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	}
	p := &Param{Name: name, Value: t, Decay: decay}
	in.m.Params = append(in.m.Params, p)
	in.m.byName[name] = p
	return p
}

// convBN allocates a He-normal convolution and a batch norm with β = 0
// and γ = 1, or γ = 0 if zeroGamma is set.
func (in initializer) convBN(s convSpec, zeroGamma bool) convBN {
	std := math.Sqrt(2 / float64(s.cout*s.r*s.r))
	gamma := 1.0
	if zeroGamma {
		gamma = 0
	}
	c := convBN{convSpec: s}
	c.weight = in.add(s.convName+".weight", []int{s.cout, s.cin, s.r, s.r}, true, func() float64 { return in.rng.NormFloat64() * std })
	c.gamma = in.add(s.bnName+".gamma", []int{s.cout}, false, func() float64 { return gamma })
	c.beta = in.add(s.bnName+".beta", []int{s.cout}, false, func() float64 { return 0 })
	c.stats = graph.NewBNState(s.cout, in.m.Config.BNMomentum, in.m.Config.BNEpsilon)
	in.m.BNs = append(in.m.BNs, &BN{Name: s.bnName, State: c.stats})
	return c
}

// Capacity returns the number of learnable parameters, counted from the
// parameter tensors themselves.
func (m *Model) Capacity() int {
	n := 0
	for _, p := range m.Params {
		n += p.Value.Shape().TotalSize()
	}
	return n
}

// Param returns the parameter with the given name, or nil.
func (m *Model) Param(name string) *Param { return m.byName[name] }
