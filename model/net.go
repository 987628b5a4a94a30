package model

import (
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/graph"
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
	// dev is set for a net on a device (see device.go).
	dev *deviceNet
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
// batch with SetLabels and SetTeacherProbs. The two terms are nodes of the
// graph, summed with their weights there; the targets are the labels and
// the teachers' distributions as they are. The weight is in [0, 1] and
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
func (m *Model) build(batch int, training bool, weight, temperature float64) (_ *Net, err error) {
	if batch <= 0 {
		return nil, fmt.Errorf("model: batch size must be positive, got %d", batch)
	}
	g := G.NewGraph()
	n := &Net{Batch: batch, Training: training, Graph: g, model: m}
	dn, err := m.newDeviceNet(n)
	if err != nil {
		return nil, err
	}
	n.dev = dn
	defer func() {
		if err != nil && dn.dev != nil {
			dn.release()
		}
	}()
	var x *tensor.Dense
	n.x, x = dn.input(m.dtype, batch, dataset.Channels, m.size, m.size)
	n.X = G.NewTensor(g, m.dtype, 4, G.WithShape(batch, dataset.Channels, m.size, m.size), G.WithValue(x), G.WithName("x"))
	b := &builder{nodes: make(map[*Param]*G.Node, len(m.Params)), train: training}
	params := make(G.Nodes, len(m.Params))
	for i, p := range m.Params {
		v, err := m.value(p)
		if err != nil {
			return nil, err
		}
		params[i] = G.NewTensor(g, m.dtype, p.Value.Dims(), G.WithShape(p.Value.Shape()...), G.WithValue(v), G.WithName(p.Name))
		b.nodes[p] = params[i]
	}
	if training {
		n.Logits, err = b.forward(n.X, &m.w)
	} else {
		n.Logits, err = b.forwardEval(n.X, fold(&m.w))
	}
	if err != nil {
		return nil, err
	}
	if training {
		var tgt *tensor.Dense
		n.tgt, tgt = dn.input(m.dtype, batch, dataset.NumClasses)
		n.Targets = G.NewMatrix(g, m.dtype, G.WithShape(batch, dataset.NumClasses), G.WithValue(tgt), G.WithName("targets"))
		if n.Loss, err = graph.SoftmaxCrossEntropy(n.Logits, n.Targets); err != nil {
			return nil, fmt.Errorf("model: loss: %w", err)
		}
		if temperature > 0 {
			var soft *tensor.Dense
			n.soft, soft = dn.input(m.dtype, batch, dataset.NumClasses)
			n.Soft = G.NewMatrix(g, m.dtype, G.WithShape(batch, dataset.NumClasses), G.WithValue(soft), G.WithName("soft_targets"))
			kd, err := graph.SoftmaxKLDivergence(n.Logits, n.Soft, temperature)
			if err != nil {
				return nil, fmt.Errorf("model: distillation loss: %w", err)
			}
			if n.Loss, err = m.weightedSum(n.Loss, 1-weight, kd, weight); err != nil {
				return nil, fmt.Errorf("model: distillation loss: %w", err)
			}
		}
		if n.Grads, err = G.Grad(n.Loss, params...); err != nil {
			return nil, fmt.Errorf("model: gradient: %w", err)
		}
	}
	graph.UseBackend(g, m.Backend)
	if dn.dev != nil {
		n.vm = G.NewTapeMachine(g, G.WithEngine(dn.dev.TensorEngine()))
	} else {
		n.vm = G.NewTapeMachine(g)
	}
	return n, nil
}

// weightedSum returns the node wa·a + wb·b for scalar nodes a and b.
func (m *Model) weightedSum(a *G.Node, wa float64, b *G.Node, wb float64) (*G.Node, error) {
	constant := func(v float64) *G.Node {
		if m.dtype == tensor.Float64 {
			return G.NewConstant(v)
		}
		return G.NewConstant(float32(v))
	}
	ta, err := G.Mul(constant(wa), a)
	if err != nil {
		return nil, err
	}
	tb, err := G.Mul(constant(wb), b)
	if err != nil {
		return nil, err
	}
	return G.Add(ta, tb)
}

// builder adds the layers of a net to its graph, reading the parameters
// from nodes. In training mode its batch norms use and save the batch's
// statistics and update the running ones; otherwise they use the running
// statistics.
type builder struct {
	nodes map[*Param]*G.Node
	train bool
}

// forward is the network in its training form: the stem, the residual
// blocks, then the head.
func (b *builder) forward(x *G.Node, w *weights) (*G.Node, error) {
	h, err := b.stem(x, &w.stem)
	for i := range w.blocks {
		if err != nil {
			break
		}
		h, err = b.basicBlock(h, &w.blocks[i])
	}
	if err != nil {
		return nil, err
	}
	return b.head(h, w)
}

// stem is conv3x3 → BN → ReLU on the images. The images are data: the
// stem computes no gradient with respect to them.
func (b *builder) stem(x *G.Node, p *convBN) (*G.Node, error) {
	h, err := graph.Conv2DNoInputGrad(x, b.nodes[p.weight], p.stride, p.pad)
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", p.convName, err)
	}
	return b.batchNorm(h, p, true)
}

// basicBlock is ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))) + skip(x)), where
// skip is the identity or BN(conv1x1(x)).
func (b *builder) basicBlock(x *G.Node, p *block) (*G.Node, error) {
	h, err := b.convBN(x, &p.conv1, true)
	if err != nil {
		return nil, err
	}
	if h, err = b.convBN(h, &p.conv2, false); err != nil {
		return nil, err
	}
	skip := x
	if p.skip != nil {
		if skip, err = b.convBN(x, p.skip, false); err != nil {
			return nil, err
		}
	}
	out, err := graph.AddReLU(h, skip)
	if err != nil {
		return nil, fmt.Errorf("model: %s: residual addition: %w", p.conv2.bnName, err)
	}
	return out, nil
}

// convBN is a convolution followed by batch norm, and ReLU if relu is set.
func (b *builder) convBN(x *G.Node, p *convBN, relu bool) (*G.Node, error) {
	h, err := graph.Conv2D(x, b.nodes[p.weight], p.stride, p.pad)
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", p.convName, err)
	}
	return b.batchNorm(h, p, relu)
}

// batchNorm is the batch norm of p, and ReLU if relu is set.
func (b *builder) batchNorm(x *G.Node, p *convBN, relu bool) (*G.Node, error) {
	// A training net owns the batch statistics its layers save for their
	// backward passes; an evaluation net has none.
	var batch *graph.BNBatch
	if b.train {
		batch = graph.NewBNBatch(len(p.stats.Mean))
	}
	bn := graph.BatchNorm
	if relu {
		bn = graph.BatchNormReLU
	}
	h, err := bn(x, b.nodes[p.gamma], b.nodes[p.beta], p.stats, batch)
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", p.bnName, err)
	}
	return h, nil
}

// head is global average pooling and the dense layer to the logits.
func (b *builder) head(x *G.Node, w *weights) (*G.Node, error) {
	h, err := graph.GlobalAvgPool(x)
	if err != nil {
		return nil, fmt.Errorf("model: pool: %w", err)
	}
	if h, err = graph.Dense(h, b.nodes[w.fcWeight], b.nodes[w.fcBias]); err != nil {
		return nil, fmt.Errorf("model: fc: %w", err)
	}
	return h, nil
}

// Input returns the input buffer, Batch×3×32×32 float32 values in NCHW
// order, to be filled before Run. On a device the buffer is usually the
// driver's page-locked memory: do not use it after Close.
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
		if l < 0 || l >= dataset.NumClasses {
			return fmt.Errorf("model: label %d of image %d is outside [0, %d)", l, i, dataset.NumClasses)
		}
	}
	switch t := n.tgt.Data().(type) {
	case []float32:
		graph.SmoothLabels(t, labels, dataset.NumClasses, eps)
	case []float64:
		graph.SmoothLabels(t, labels, dataset.NumClasses, eps)
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
	if len(probs) != n.Batch*dataset.NumClasses {
		return fmt.Errorf("model: %d teacher probabilities for a batch of %d×%d", len(probs), n.Batch, dataset.NumClasses)
	}
	switch t := n.soft.Data().(type) {
	case []float32:
		copy(t, probs)
	case []float64:
		for i, p := range probs {
			t[i] = float64(p)
		}
	}
	return nil
}

// Run executes the graph once: forward, and in a training net backward.
func (n *Net) Run() error {
	if err := n.dev.upload(); err != nil {
		return fmt.Errorf("model: run: %w", err)
	}
	n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return fmt.Errorf("model: run: %w", machineError(err))
	}
	return nil
}

// machineError turns an error of the machine into the error of the
// operation that failed. Gorgonia wraps it with the machine's program
// counter and instruction ("PC 40. Failed to execute instruction …:
// Failed to carry op.Do(): …"), which say nothing to a user, and its
// error type has no Unwrap, so errors.Is could not find a device out of
// memory. The result says the operation's error, after the operation's
// name unless the error names it already (as this project's operations
// do).
func machineError(err error) error {
	e, ok := err.(interface {
		Err() error
		Node() *G.Node
	})
	if !ok {
		return err
	}
	cause := e.Err()
	for {
		c, ok := cause.(interface{ Cause() error })
		if !ok || c.Cause() == nil {
			break
		}
		cause = c.Cause()
	}
	if node := e.Node(); node != nil && node.Op() != nil {
		if op := fmt.Sprint(node.Op()); !strings.Contains(cause.Error(), op) {
			return fmt.Errorf("%s: %w", op, cause)
		}
	}
	return cause
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
func (n *Net) LogitsValue() []float32 {
	if n.dev.dev != nil {
		return n.dev.download(n.Logits)
	}
	return n.Logits.Value().Data().([]float32)
}

// Gradient returns ∂Loss/∂p for the i-th parameter of the model after the
// last Run of a training net. The slice is overwritten by the next Run.
// On a device the gradient is copied to the host (DeviceGradient avoids
// the copy).
func (n *Net) Gradient(i int) []float32 {
	if n.dev.dev != nil {
		return n.dev.download(n.Grads[i])
	}
	return n.Grads[i].Value().Data().([]float32)
}

// Close releases the machine and, on a device, the net's device memory
// (the model's parameters and statistics stay).
func (n *Net) Close() error {
	err := n.vm.Close()
	if n.dev.dev != nil {
		if e := graph.ReleaseBuffers(n.Graph); err == nil {
			err = e
		}
		if e := n.dev.release(); err == nil {
			err = e
		}
	}
	return err
}
