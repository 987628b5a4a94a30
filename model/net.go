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
	// Soft (Batch×10) holds the teachers' targets of a distillation net
	// (see BuildDistillation); it is nil otherwise.
	Soft *G.Node
	// Grads holds ∂Loss/∂p for every parameter p of the model, in order.
	Grads G.Nodes

	model        *Model
	vm           G.VM
	x, tgt, soft *tensor.Dense
	// weight is the share of the teachers' term in a distillation net.
	weight float64
}

// Build returns a net for batches of the given size.
func (m *Model) Build(batch int, training bool) (*Net, error) {
	return m.build(batch, training, 0, 0)
}

// BuildDistillation returns a training net whose loss is
//
//	(1-weight)·CE(labels, softmax(z)) + weight·T²·KL(q ‖ softmax(z/T))
//
// for logits z, temperature T and teachers' distributions q, set for each
// batch with SetLabels and SetTeacherProbs. The weight is in [0, 1] and
// the temperature is positive.
func (m *Model) BuildDistillation(batch int, weight, temperature float64) (*Net, error) {
	if !(weight >= 0 && weight <= 1) {
		return nil, fmt.Errorf("model: the distillation weight must be in [0, 1], got %g", weight)
	}
	if !(temperature > 0) || math.IsInf(temperature, 1) {
		return nil, fmt.Errorf("model: the distillation temperature must be positive and finite, got %g", temperature)
	}
	return m.build(batch, true, weight, temperature)
}

// build returns a net; a temperature > 0 makes it a distillation net.
func (m *Model) build(batch int, training bool, weight, temperature float64) (*Net, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("model: batch size must be positive, got %d", batch)
	}
	g := G.NewGraph()
	n := &Net{Batch: batch, Training: training, Graph: g, model: m, weight: weight}
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
		if temperature > 0 {
			n.soft = tensor.New(tensor.WithShape(batch, NumClasses), tensor.Of(m.dtype))
			n.Soft = G.NewMatrix(g, m.dtype, G.WithShape(batch, NumClasses), G.WithValue(n.soft), G.WithName("soft_targets"))
			kd, err := graph.SoftmaxKLDivergence(logits, n.Soft, temperature)
			if err != nil {
				return nil, fmt.Errorf("model: distillation loss: %w", err)
			}
			if n.Loss, err = G.Add(n.Loss, kd); err != nil {
				return nil, fmt.Errorf("model: distillation loss: %w", err)
			}
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
			if cur == x {
				// The images are data: the stem needs no input gradient.
				cur, err = graph.Conv2DNoInputGrad(cur, nodes[o.name+".weight"], o.stride, o.pad)
				break
			}
			cur, err = graph.Conv2D(cur, nodes[o.name+".weight"], o.stride, o.pad)
		case opBN:
			// A training net owns the batch statistics its layers save
			// for their backward passes; an evaluation net has none.
			var batch *graph.BNBatch
			if training {
				batch = graph.NewBNBatch(len(o.bn.Mean))
			}
			if o.relu {
				cur, err = graph.BatchNormReLU(cur, nodes[o.name+".gamma"], nodes[o.name+".beta"], o.bn, batch)
			} else {
				cur, err = graph.BatchNorm(cur, nodes[o.name+".gamma"], nodes[o.name+".beta"], o.bn, batch)
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
// with the uniform distribution by label smoothing eps (and, in a
// distillation net, scaled by 1-weight).
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
		scale(t, 1-n.weight)
	case []float64:
		graph.SmoothLabels(t, labels, NumClasses, eps)
		scale(t, 1-n.weight)
	}
	return nil
}

// SetTeacherProbs writes the teachers' targets of a distillation net:
// probs holds Batch rows of 10 probabilities (each row summing to 1), the
// teachers' softmax at the net's temperature.
func (n *Net) SetTeacherProbs(probs []float32) error {
	if n.soft == nil {
		return fmt.Errorf("model: the net was not built for distillation")
	}
	if len(probs) != n.Batch*NumClasses {
		return fmt.Errorf("model: %d teacher probabilities for a batch of %d×%d", len(probs), n.Batch, NumClasses)
	}
	switch t := n.soft.Data().(type) {
	case []float32:
		for i, p := range probs {
			t[i] = float32(n.weight) * p
		}
	case []float64:
		for i, p := range probs {
			t[i] = n.weight * float64(p)
		}
	}
	return nil
}

func scale[T float32 | float64](xs []T, a float64) {
	if a == 1 {
		return
	}
	for i := range xs {
		xs[i] *= T(a)
	}
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
