package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
)

// BNState holds the running statistics of one batch norm layer. A training
// graph updates them; an evaluation graph built on the same state reads
// them. Nothing in a graph or machine ever resets them: the mode of a batch
// norm operation is fixed when it is created, so gorgonia.TapeMachine's
// SetTraining calls do not reach it.
//
// On a device backend (backend.Device) the statistics live in device
// tensors, copied from Mean and Var the first time an operation uses them:
// from then on Mean and Var are stale until ToHost copies the device's
// values back, and a change to them reaches the device only through
// ToDevice.
type BNState struct {
	// Mean and Var are the running mean and (unbiased) variance per channel.
	Mean, Var []float32
	// Momentum weighs the newest batch, in PyTorch's convention:
	// running = (1-Momentum)·running + Momentum·batch.
	Momentum float64
	// Epsilon is added to the variance before the square root.
	Epsilon float64

	// dev holds devMean and devVar, the statistics on the device; nil
	// until a device operation uses the state.
	dev             backend.Device
	devMean, devVar *tensor.Dense
}

// NewBNState returns the state of a layer with the given number of
// channels, with running mean 0 and running variance 1.
func NewBNState(channels int, momentum, epsilon float64) *BNState {
	s := &BNState{Mean: make([]float32, channels), Var: make([]float32, channels), Momentum: momentum, Epsilon: epsilon}
	for i := range s.Var {
		s.Var[i] = 1
	}
	return s
}

// running returns the statistics of s as be takes them: tensors over Mean
// and Var, which it reads and updates in place, or for a device backend
// the device copies, made on first use.
func (s *BNState) running(be backend.Backend) (backend.BNRunning, error) {
	st := backend.BNRunning{Momentum: s.Momentum, Epsilon: s.Epsilon}
	dev, ok := be.(backend.Device)
	if !ok {
		st.Mean = tensor.New(tensor.WithShape(len(s.Mean)), tensor.WithBacking(s.Mean))
		st.Var = tensor.New(tensor.WithShape(len(s.Var)), tensor.WithBacking(s.Var))
		return st, nil
	}
	if s.dev != dev {
		if s.dev != nil {
			return st, fmt.Errorf("graph: batch norm statistics already live on another device")
		}
		m, err := dev.NewTensor(tensor.Float32, len(s.Mean))
		if err != nil {
			return st, err
		}
		v, err := dev.NewTensor(tensor.Float32, len(s.Var))
		if err != nil {
			dev.Release(m)
			return st, err
		}
		s.dev, s.devMean, s.devVar = dev, m, v
		if err := s.ToDevice(); err != nil {
			return st, err
		}
	}
	st.Mean, st.Var = s.devMean, s.devVar
	return st, nil
}

// ToHost copies the statistics on the device, if any, to Mean and Var.
func (s *BNState) ToHost() error {
	if s.dev == nil {
		return nil
	}
	if err := s.dev.Download(s.Mean, s.devMean); err != nil {
		return fmt.Errorf("graph: batch norm running mean: %w", err)
	}
	if err := s.dev.Download(s.Var, s.devVar); err != nil {
		return fmt.Errorf("graph: batch norm running variance: %w", err)
	}
	return nil
}

// ToDevice copies Mean and Var to the statistics on the device, if any.
func (s *BNState) ToDevice() error {
	if s.dev == nil {
		return nil
	}
	if err := s.dev.Upload(s.devMean, s.Mean); err != nil {
		return fmt.Errorf("graph: batch norm running mean: %w", err)
	}
	if err := s.dev.Upload(s.devVar, s.Var); err != nil {
		return fmt.Errorf("graph: batch norm running variance: %w", err)
	}
	return nil
}

// BNBatch holds the statistics of the batch a training-mode batch norm
// layer normalised last: the mean and the inverse standard deviation per
// channel, float64 tensors of shape (C). The layer's forward operation
// writes them and its backward operations read them; those take the
// gradient of the forward output as an input, so the graph always runs
// them after the forward pass that wrote the statistics. A training net
// owns one per layer and hands it to BatchNorm or BatchNormReLU. On a
// device backend the forward operation replaces them with device tensors.
type BNBatch struct {
	Mean, InvStd *tensor.Dense
}

// NewBNBatch returns zeroed batch statistics for a layer with the given
// number of channels.
func NewBNBatch(channels int) *BNBatch {
	return &BNBatch{
		Mean:   tensor.New(tensor.WithShape(channels), tensor.Of(tensor.Float64)),
		InvStd: tensor.New(tensor.WithShape(channels), tensor.Of(tensor.Float64)),
	}
}

// saved returns b as be takes it, first moving it to be's device if be
// has one and b is not there yet.
func (b *BNBatch) saved(be backend.Backend) (backend.BNSaved, error) {
	if dev, ok := be.(backend.Device); ok && !dev.Holds(b.Mean) {
		c := b.Mean.Shape().TotalSize()
		m, err := dev.NewTensor(tensor.Float64, c)
		if err != nil {
			return backend.BNSaved{}, err
		}
		s, err := dev.NewTensor(tensor.Float64, c)
		if err != nil {
			dev.Release(m)
			return backend.BNSaved{}, err
		}
		b.Mean, b.InvStd = m, s
	}
	return backend.BNSaved{Mean: b.Mean, InvStd: b.InvStd}, nil
}

// bnOp normalises an NCHW tensor per channel and applies γ and β, and the
// ReLU if relu is set.
type bnOp struct {
	opBase
	state *BNState
	batch *BNBatch // nil in evaluation mode
	relu  bool
}

// BatchNorm applies spatial batch normalisation to the NCHW tensor x with
// the per-channel scale gamma and shift beta (vectors of length C). With
// batch statistics b, the operation is in training mode: it normalises with
// the statistics of the batch (biased variance), saves them in b for the
// backward pass and updates the running statistics of s (unbiased
// variance). With b nil, it is in evaluation mode: it normalises with the
// running statistics and leaves them unchanged, and has no gradient.
func BatchNorm(x, gamma, beta *G.Node, s *BNState, b *BNBatch) (*G.Node, error) {
	return batchNorm(x, gamma, beta, s, b, false)
}

// BatchNormReLU is max(BatchNorm(x, gamma, beta, s, b), 0) in one
// operation: the same result as ReLU of BatchNorm, with one pass less over
// memory forward and backward.
func BatchNormReLU(x, gamma, beta *G.Node, s *BNState, b *BNBatch) (*G.Node, error) {
	return batchNorm(x, gamma, beta, s, b, true)
}

func batchNorm(x, gamma, beta *G.Node, s *BNState, b *BNBatch, relu bool) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 4 {
		return nil, fmt.Errorf("graph: batch norm: input must be NCHW, got shape %v", xs)
	}
	c := xs[1]
	if !gamma.Shape().Eq(tensor.Shape{c}) || !beta.Shape().Eq(tensor.Shape{c}) {
		return nil, fmt.Errorf("graph: batch norm: γ %v and β %v must have shape (%d)", gamma.Shape(), beta.Shape(), c)
	}
	if len(s.Mean) != c || len(s.Var) != c {
		return nil, fmt.Errorf("graph: batch norm: state has %d channels, input has %d", len(s.Mean), c)
	}
	mode := "eval"
	if b != nil {
		mode = "train"
		want := tensor.Shape{c}
		if !b.Mean.Shape().Eq(want) || !b.InvStd.Shape().Eq(want) || b.Mean.Dtype() != tensor.Float64 || b.InvStd.Dtype() != tensor.Float64 {
			return nil, fmt.Errorf("graph: batch norm: batch statistics %v %v and %v %v must be float64 of shape (%d)",
				b.Mean.Dtype(), b.Mean.Shape(), b.InvStd.Dtype(), b.InvStd.Shape(), c)
		}
	}
	name := "BatchNorm"
	if relu {
		name = "BatchNormReLU"
	}
	op := &bnOp{opBase: newBase("%s(%s)", name, mode), state: s, batch: b, relu: relu}
	return G.ApplyOp(op, x, gamma, beta)
}

func (op *bnOp) Arity() int         { return 3 }
func (op *bnOp) Type() hm.Type      { return fnType(tensorOf(4), tensorOf(1), tensorOf(1), tensorOf(4)) }
func (op *bnOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *bnOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}
func (op *bnOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *bnOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if len(s) != 4 || s[1] != len(op.state.Mean) {
		return nil, fmt.Errorf("graph: %s: input shape %v does not match %d channels", op.name, s, len(op.state.Mean))
	}
	y := op.output(prealloc, dt, s...)
	st, err := op.state.running(op.be)
	if err != nil {
		return op.done(nil, err)
	}
	if op.batch == nil {
		return op.done(y, op.be.BatchNormEval(in[0], in[1], in[2], y, st, op.relu))
	}
	saved, err := op.batch.saved(op.be)
	if err != nil {
		return op.done(nil, err)
	}
	return op.done(y, op.be.BatchNormTrain(in[0], in[1], in[2], y, st, saved, op.relu))
}

// withMask returns the types of the leading inputs of a backward
// operation, followed by the type of the forward output when the batch
// norm includes the ReLU: that output masks the gradient.
func (op *bnOp) withMask(ts ...hm.Type) []hm.Type {
	if op.relu {
		return append(ts, tensorOf(4))
	}
	return ts
}

// SymDiff builds the backward pass: an operation that computes the sums
// Σdy and Σdy·x̂ per channel, which are also the gradients of β and γ, and
// three that read them, one per gradient: the one of x computes from them,
// those of γ and β return what the sums operation wrote for them.
func (op *bnOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if op.batch == nil {
		return nil, fmt.Errorf("graph: %s: gradients are only defined in training mode", op.name)
	}
	x, gamma := in[0], in[1]
	var mask G.Nodes
	if op.relu {
		mask = G.Nodes{out} // the output masks the gradient
	}
	sumsOp := &bnSumsOp{
		opBase: newBase("%sSums", op.name), fwd: op,
		gamma: &bnGradParamOp{opBase: newBase("%sGradGamma", op.name), dt: x.Dtype()},
		beta:  &bnGradParamOp{opBase: newBase("%sGradBeta", op.name), dt: x.Dtype()},
	}
	sums, err := G.ApplyOp(sumsOp, append(G.Nodes{x, grad}, mask...)...)
	if err != nil {
		return nil, err
	}
	dxArgs := append(append(G.Nodes{x, gamma, grad}, mask...), sums)
	dx, err := G.ApplyOp(&bnGradXOp{opBase: newBase("%sGradX", op.name), fwd: op}, dxArgs...)
	if err != nil {
		return nil, err
	}
	dgamma, err := G.ApplyOp(sumsOp.gamma, sums)
	if err != nil {
		return nil, err
	}
	dbeta, err := G.ApplyOp(sumsOp.beta, sums)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dgamma, dbeta}, nil
}

// sumsType is the type of the per-channel sums of the backward pass: a
// float64 matrix, whatever the element type of the graph, so that the
// gradients computed from it round only once.
var sumsType = G.TensorType{Dims: 2, Of: tensor.Float64}

// bnSumsOp computes, for a training-mode batch norm, the 2×C float64
// matrix of Σdy and Σdy·x̂ per channel from (x, dy), or (x, dy, y) when
// the batch norm includes the ReLU (dy is then masked by y > 0 first),
// with the batch statistics of its forward pass. In the same pass it
// writes the gradients of γ and β, which are those sums, to the output
// buffers of the operations gamma and beta that return them.
type bnSumsOp struct {
	opBase
	fwd         *bnOp
	gamma, beta *bnGradParamOp
}

func (op *bnSumsOp) Arity() int { return len(op.fwd.withMask(nil, nil)) }
func (op *bnSumsOp) Type() hm.Type {
	return fnType(append(op.fwd.withMask(tensorOf(4), tensorOf(4)), sumsType)...)
}

func (op *bnSumsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{2, s[1]}, nil
}
func (op *bnSumsOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *bnSumsOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	for _, d := range in[1:] {
		if !d.Shape().Eq(s) {
			return nil, fmt.Errorf("graph: %s: shape %v differs from the input's %v", op.name, d.Shape(), s)
		}
	}
	var y *tensor.Dense
	if op.fwd.relu {
		y = in[2]
	}
	sums := op.output(prealloc, tensor.Float64, 2, s[1])
	saved, err := op.fwd.batch.saved(op.be)
	if err != nil {
		return op.done(nil, err)
	}
	dgamma, err := op.gamma.buffer(dt, s[1])
	if err != nil {
		return op.done(nil, err)
	}
	dbeta, err := op.beta.buffer(dt, s[1])
	if err != nil {
		return op.done(nil, err)
	}
	if err := op.be.BatchNormBackwardSums(in[0], in[1], y, saved, sums, dgamma, dbeta); err != nil {
		return op.done(nil, err)
	}
	op.gamma.written, op.beta.written = true, true
	return op.done(sums, nil)
}

// sumsInput checks that v is the float64 2×c matrix of a bnSumsOp.
func sumsInput(name string, v G.Value, c int) (*tensor.Dense, error) {
	d, err := dense(v)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: sums: %w", name, err)
	}
	if d.Dtype() != tensor.Float64 || !d.Shape().Eq(tensor.Shape{2, c}) {
		return nil, fmt.Errorf("graph: %s: sums are %v of shape %v, want float64 of shape (2, %d)", name, d.Dtype(), d.Shape(), c)
	}
	return d, nil
}

// bnGradXOp computes ∂L/∂x of a training-mode batch norm from (x, γ, dy,
// sums), or (x, γ, dy, y, sums) when the batch norm includes the ReLU, and
// the batch statistics of its forward pass:
//
//	x̂ = (x-μ)·invstd
//	∂L/∂x = γ·invstd·(dy - Σdy/M - x̂·Σdy·x̂/M)
//
// with sums over the M = N·H·W values of a channel.
type bnGradXOp struct {
	opBase
	fwd *bnOp
}

func (op *bnGradXOp) Arity() int { return len(op.fwd.withMask(nil, nil, nil)) + 1 }
func (op *bnGradXOp) Type() hm.Type {
	return fnType(append(op.fwd.withMask(tensorOf(4), tensorOf(1), tensorOf(4)), sumsType, tensorOf(4))...)
}

func (op *bnGradXOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}
func (op *bnGradXOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *bnGradXOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	if len(vs) != op.Arity() {
		return nil, fmt.Errorf("graph: %s: expected %d inputs, got %d", op.name, op.Arity(), len(vs))
	}
	last := len(vs) - 1
	in, dt, err := inputs(op.name, last, vs[:last])
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if !in[2].Shape().Eq(s) || op.fwd.relu && !in[3].Shape().Eq(s) {
		return nil, fmt.Errorf("graph: %s: gradient shape %v differs from input shape %v", op.name, in[2].Shape(), s)
	}
	sums, err := sumsInput(op.name, vs[last], s[1])
	if err != nil {
		return nil, err
	}
	var y *tensor.Dense
	if op.fwd.relu {
		y = in[3]
	}
	dx := op.output(prealloc, dt, s...)
	saved, err := op.fwd.batch.saved(op.be)
	if err != nil {
		return op.done(nil, err)
	}
	return op.done(dx, op.be.BatchNormBackwardData(in[0], in[1], in[2], y, saved, sums, dx))
}

// bnGradParamOp returns ∂L/∂γ = Σdy·x̂ or ∂L/∂β = Σdy of a training-mode
// batch norm, in the element type dt of the graph. Its input is the sums
// of the bnSumsOp that computes the gradient into the operation's output
// buffer along with them (a pass of its own would cost a kernel launch on
// a GPU for C numbers); the input orders it after them.
type bnGradParamOp struct {
	opBase
	dt tensor.Dtype
	// written is set when the sums operation has written the gradient
	// for the operation's next Do.
	written bool
}

func (op *bnGradParamOp) Arity() int    { return 1 }
func (op *bnGradParamOp) Type() hm.Type { return fnType(sumsType, G.TensorType{Dims: 1, Of: op.dt}) }
func (op *bnGradParamOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[1]}, nil
}

// buffer returns the operation's output buffer, of c elements of type dt,
// for the sums operation to write the gradient to.
func (op *bnGradParamOp) buffer(dt tensor.Dtype, c int) (*tensor.Dense, error) {
	op.written = false
	d := op.output(nil, dt, c)
	if d == nil {
		err := op.allocErr
		op.allocErr = nil
		return nil, fmt.Errorf("%s: %w", op.name, err)
	}
	return d, nil
}

// Do returns the gradient the sums operation wrote.
func (op *bnGradParamOp) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != 1 {
		return nil, fmt.Errorf("graph: %s: expected 1 input, got %d", op.name, len(vs))
	}
	if !op.written {
		return nil, fmt.Errorf("graph: %s: the batch norm's sums were not computed before it", op.name)
	}
	op.written = false
	return op.buf, nil
}
