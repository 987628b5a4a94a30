package model

import (
	"fmt"
	"math"

	"github.com/cifar-resnet/trainer/graph"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Net is the model as one Gorgonia expression graph for a fixed batch size,
// with the TapeMachine that runs it. A training net computes the loss and
// its gradient with respect to every parameter, and its batch norm layers
// use batch statistics and update the running ones; an evaluation net only
// computes logits, with the running statistics. Every net built from a
// model reads the same parameter tensors and batch norm state.
type Net struct {
	// Batch is the number of images of one run.
	Batch    int
	Training bool
	Graph    *G.ExprGraph
	// X is the input, Batch×3×32×32.
	X *G.Node
	// Logits is the output, Batch×10.
	Logits *G.Node
	// Targets (Batch×10) and Loss exist in training nets only.
	Targets, Loss *G.Node
	// Grads holds ∂Loss/∂p for every parameter p of the model, in order.
	Grads G.Nodes

	model  *Model
	vm     G.VM
	x, tgt *tensor.Dense
}

// Build returns a net for batches of the given size.
func (m *Model) Build(batch int, training bool) (*Net, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("model: batch size must be positive, got %d", batch)
	}
	g := G.NewGraph()
	n := &Net{Batch: batch, Training: training, Graph: g, model: m}
	n.x = tensor.New(tensor.WithShape(batch, Channels, m.size, m.size), tensor.Of(m.dtype))
	n.X = G.NewTensor(g, m.dtype, 4, G.WithShape(batch, Channels, m.size, m.size), G.WithValue(n.x), G.WithName("x"))
	nodes := make(map[string]*G.Node, len(m.Params))
	params := make(G.Nodes, len(m.Params))
	for i, p := range m.Params {
		params[i] = G.NewTensor(g, m.dtype, p.Value.Dims(), G.WithShape(p.Value.Shape()...), G.WithValue(p.Value), G.WithName(p.Name))
		nodes[p.Name] = params[i]
	}
	logits, err := m.forward(n.X, nodes, training)
	if err != nil {
		return nil, err
	}
	n.Logits = logits
	if training {
		n.tgt = tensor.New(tensor.WithShape(batch, NumClasses), tensor.Of(m.dtype))
		n.Targets = G.NewMatrix(g, m.dtype, G.WithShape(batch, NumClasses), G.WithValue(n.tgt), G.WithName("targets"))
		if n.Loss, err = graph.SoftmaxCrossEntropy(logits, n.Targets); err != nil {
			return nil, fmt.Errorf("model: loss: %w", err)
		}
		if n.Grads, err = G.Grad(n.Loss, params...); err != nil {
			return nil, fmt.Errorf("model: gradient: %w", err)
		}
	}
	n.vm = G.NewTapeMachine(g)
	return n, nil
}

// forward replays the model's program on x.
func (m *Model) forward(x *G.Node, nodes map[string]*G.Node, training bool) (*G.Node, error) {
	cur := x
	var saved, main *G.Node
	var err error
	for i := 0; i < len(m.spec); i++ {
		o := m.spec[i]
		switch o.kind {
		case opConv:
			if next := i + 1; !training && next < len(m.spec) && m.spec[next].kind == opBN {
				// In evaluation the batch norm folds into the convolution,
				// and so does the residual addition that may follow.
				b := m.spec[next]
				w, gamma, beta := nodes[o.name+".weight"], nodes[b.name+".gamma"], nodes[b.name+".beta"]
				i++
				if add := i + 1; !b.relu && add < len(m.spec) && m.spec[add].kind == opAddReLU {
					skip := saved
					if m.spec[add].projection {
						skip = main
					}
					cur, err = graph.ConvBNAddReLUEval(cur, w, gamma, beta, skip, b.bn, o.stride, o.pad)
					i++
					break
				}
				cur, err = graph.ConvBNEval(cur, w, gamma, beta, b.bn, o.stride, o.pad, b.relu)
				break
			}
			cur, err = graph.Conv2D(cur, nodes[o.name+".weight"], o.stride, o.pad)
		case opBN:
			if o.relu {
				cur, err = graph.BatchNormReLU(cur, nodes[o.name+".gamma"], nodes[o.name+".beta"], o.bn, training)
			} else {
				cur, err = graph.BatchNorm(cur, nodes[o.name+".gamma"], nodes[o.name+".beta"], o.bn, training)
			}
		case opSave:
			saved = cur
		case opSaveMain:
			main = cur
		case opSkip:
			cur = saved
		case opAddReLU:
			if o.projection {
				cur, err = graph.AddReLU(main, cur)
			} else {
				cur, err = graph.AddReLU(cur, saved)
			}
		case opPool:
			cur, err = graph.GlobalAvgPool(cur)
		case opDense:
			cur, err = graph.Dense(cur, nodes[o.name+".weight"], nodes[o.name+".bias"])
		}
		if err != nil {
			return nil, fmt.Errorf("model: %s: %w", o.name, err)
		}
	}
	return cur, nil
}

// Input returns the input buffer, Batch×3×32×32 float32 values in NCHW
// order, to be filled before Run.
func (n *Net) Input() []float32 { return n.x.Data().([]float32) }

// SetLabels writes the targets of a training net: the one-hot labels mixed
// with the uniform distribution by label smoothing eps.
func (n *Net) SetLabels(labels []int, eps float64) error {
	if !n.Training {
		return fmt.Errorf("model: an evaluation net has no targets")
	}
	if len(labels) != n.Batch {
		return fmt.Errorf("model: %d labels for a batch of %d", len(labels), n.Batch)
	}
	for i, l := range labels {
		if l < 0 || l >= NumClasses {
			return fmt.Errorf("model: label %d of image %d is outside [0, %d)", l, i, NumClasses)
		}
	}
	switch t := n.tgt.Data().(type) {
	case []float32:
		graph.SmoothLabels(t, labels, NumClasses, eps)
	case []float64:
		graph.SmoothLabels(t, labels, NumClasses, eps)
	}
	return nil
}

// Run executes the graph once: forward, and in a training net backward.
func (n *Net) Run() error {
	n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return fmt.Errorf("model: run: %w", err)
	}
	return nil
}

// LossValue returns the loss of the last Run of a training net.
func (n *Net) LossValue() float64 {
	if n.Loss == nil || n.Loss.Value() == nil {
		return math.NaN()
	}
	switch v := n.Loss.Value().Data().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// LogitsValue returns the Batch×10 logits of the last Run. The slice is
// overwritten by the next Run.
func (n *Net) LogitsValue() []float32 { return n.Logits.Value().Data().([]float32) }

// Gradient returns ∂Loss/∂p for the i-th parameter of the model after the
// last Run of a training net. The slice is overwritten by the next Run.
func (n *Net) Gradient(i int) []float32 { return n.Grads[i].Value().Data().([]float32) }

// Close releases the machine.
func (n *Net) Close() error { return n.vm.Close() }
