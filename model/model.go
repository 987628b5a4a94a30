// Package model builds the residual network of the assignment from the
// model section of a configuration, as Gorgonia expression graphs that
// share one set of weights.
//
// The network is a stem (3x3 convolution, batch norm, ReLU), the residual
// blocks of every stage, global average pooling and one dense layer to 10
// logits. A residual block is conv3x3(stride s) → BN → ReLU → conv3x3 → BN,
// plus an identity skip, or a 1x1 convolution with stride s and batch norm
// when the shape changes, followed by ReLU of the sum. Convolutions have no
// bias: the batch norm shift absorbs it.
package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph"
	"gorgonia.org/tensor"
)

// Input geometry and output classes of the network.
const (
	Channels   = 3
	Height     = 32
	Width      = 32
	ImageSize  = Channels * Height * Width
	NumClasses = 10
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

	dtype tensor.Dtype
	// size is the height and width of the input images: 32, except in
	// gradient checks, which use smaller images.
	size   int
	byName map[string]*Param
	spec   []op // the layers as a program, replayed by Build
}

// opKind names a step of the network's program.
type opKind int

const (
	opConv     opKind = iota
	opBN              // batch norm, with ReLU when relu is set
	opSave            // remember the current tensor as the block input
	opSaveMain        // remember the current tensor as the main branch
	opSkip            // continue from the block input, for a projection
	opAddReLU         // ReLU(main + skip)
	opPool
	opDense
)

// op is one step of the program: the layer name and its hyperparameters.
type op struct {
	kind        opKind
	name        string
	cin, cout   int // channels in and out (convolution, batch norm, dense)
	r           int // kernel size
	stride, pad int
	relu        bool // a batch norm followed by ReLU
	residual    bool // the batch norm that ends a block's residual branch
	projection  bool // an opAddReLU whose skip is a projection
	bn          *graph.BNState
}

// program lists the steps of the network described by cfg, in order.
func program(cfg config.Model) []op {
	var p []op
	conv := func(name string, cin, cout, r, stride, pad int) {
		p = append(p, op{kind: opConv, name: name, cin: cin, cout: cout, r: r, stride: stride, pad: pad})
	}
	bn := func(name string, c int, relu bool) {
		p = append(p, op{kind: opBN, name: name, cin: c, cout: c, relu: relu})
	}
	residualBN := func(name string, c int) {
		p = append(p, op{kind: opBN, name: name, cin: c, cout: c, residual: true})
	}
	conv("stem.conv", Channels, cfg.StemChannels, 3, 1, 1)
	bn("stem.bn", cfg.StemChannels, true)
	cin := cfg.StemChannels
	for si, s := range cfg.Stages {
		for b := range s.Blocks {
			stride := 1
			if b == 0 {
				stride = s.Stride
			}
			name := fmt.Sprintf("stage%d.block%d", si+1, b+1)
			p = append(p, op{kind: opSave})
			conv(name+".conv1", cin, s.Channels, 3, stride, 1)
			bn(name+".bn1", s.Channels, true)
			conv(name+".conv2", s.Channels, s.Channels, 3, 1, 1)
			residualBN(name+".bn2", s.Channels)
			if stride != 1 || cin != s.Channels {
				p = append(p, op{kind: opSaveMain}, op{kind: opSkip})
				conv(name+".skip.conv", cin, s.Channels, 1, stride, 0)
				bn(name+".skip.bn", s.Channels, false)
				p = append(p, op{kind: opAddReLU, projection: true})
			} else {
				p = append(p, op{kind: opAddReLU})
			}
			cin = s.Channels
		}
	}
	p = append(p, op{kind: opPool, name: "pool", cin: cin, cout: cin})
	p = append(p, op{kind: opDense, name: "fc", cin: cin, cout: NumClasses})
	return p
}

// Capacity returns the number of learnable parameters of the network
// described by cfg, without allocating it, or -1 if cfg breaks a rule of
// config.Model.Validate (which bounds every width and the number of
// blocks, so that a valid network can always be counted).
func Capacity(cfg config.Model) int {
	if cfg.Validate() != nil {
		return -1
	}
	n := 0
	for _, l := range plan(program(cfg)) {
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
	return plan(program(cfg)), nil
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
	spec := program(cfg)
	layers := plan(spec)
	total := 0
	for _, l := range layers {
		total = addSat(total, l.Params)
	}
	if total > cfg.MaxParams {
		return nil, fmt.Errorf("model: the network has %d learnable parameters, over the limit model.max_params = %d", total, cfg.MaxParams)
	}
	m := &Model{Config: cfg, Layers: layers, dtype: dt, size: Height, byName: map[string]*Param{}, spec: spec}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	add := func(name string, shape []int, decay bool, fill func() float64) {
		n := tensor.Shape(shape).TotalSize()
		var t *tensor.Dense
		if dt == tensor.Float64 {
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
		m.Params = append(m.Params, p)
		m.byName[name] = p
	}
	momentum, epsilon := cfg.BNMomentum, cfg.BNEpsilon
	for i := range m.spec {
		o := &m.spec[i]
		switch o.kind {
		case opConv:
			std := math.Sqrt(2 / float64(o.cout*o.r*o.r))
			add(o.name+".weight", []int{o.cout, o.cin, o.r, o.r}, true, func() float64 { return rng.NormFloat64() * std })
		case opBN:
			gamma := 1.0
			if o.residual && cfg.ZeroInitResidual {
				gamma = 0
			}
			add(o.name+".gamma", []int{o.cout}, false, func() float64 { return gamma })
			add(o.name+".beta", []int{o.cout}, false, func() float64 { return 0 })
			o.bn = graph.NewBNState(o.cout, momentum, epsilon)
			m.BNs = append(m.BNs, &BN{Name: o.name, State: o.bn})
		case opDense:
			bound := 1 / math.Sqrt(float64(o.cin))
			uniform := func() float64 { return (2*rng.Float64() - 1) * bound }
			add(o.name+".weight", []int{o.cout, o.cin}, true, uniform)
			add(o.name+".bias", []int{o.cout}, false, uniform)
		}
	}
	return m, nil
}

// plan lists the layers of a program with their output shapes and
// parameter counts; a count too large for an int is math.MaxInt.
func plan(p []op) []Layer {
	var ls []Layer
	h, w := Height, Width
	var savedH, savedW int
	for _, o := range p {
		switch o.kind {
		case opConv:
			h, w = (h+2*o.pad-o.r)/o.stride+1, (w+2*o.pad-o.r)/o.stride+1
			ls = append(ls, Layer{Name: o.name, Out: []int{o.cout, h, w}, Formula: fmt.Sprintf("%d·%d·%d·%d", o.r, o.r, o.cin, o.cout), Params: mulSat(o.r, o.r, o.cin, o.cout)})
		case opBN:
			ls = append(ls, Layer{Name: o.name, Out: []int{o.cout, h, w}, Formula: fmt.Sprintf("2·%d", o.cout), Params: mulSat(2, o.cout)})
		case opSave:
			savedH, savedW = h, w
		case opSkip:
			h, w = savedH, savedW
		case opPool:
			ls = append(ls, Layer{Name: o.name, Out: []int{o.cout}, Formula: "0"})
		case opDense:
			ls = append(ls, Layer{Name: o.name, Out: []int{o.cout}, Formula: fmt.Sprintf("(%d+1)·%d", o.cin, o.cout), Params: mulSat(addSat(o.cin, 1), o.cout)})
		}
	}
	return ls
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
