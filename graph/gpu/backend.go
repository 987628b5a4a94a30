package gpu

import (
	"fmt"
	"sync"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
)

// Backend computes the operations of package graph on a CUDA device. Its
// tensors are device tensors of its Engine. Methods queue their kernels on
// the device's default stream and return without waiting, except
// SoftmaxCrossEntropy, which returns the loss to the host.
type Backend struct {
	eng *Engine
	mod *kernels.Module

	// mu guards the work buffers: a method that uses one holds mu from
	// its first launch to its last, so that two calls never interleave
	// their use of a buffer on the stream.
	mu   sync.Mutex
	work map[string]cuda.Ptr
	size map[string]uint64
	// ownsDev is set when Open opened the device, which Close closes.
	ownsDev bool
}

// New loads the kernels on dev and returns the backend that runs them.
func New(dev *cuda.Device) (*Backend, error) {
	mod, err := kernels.Load(dev)
	if err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	return &Backend{eng: NewEngine(dev, mod), mod: mod, work: map[string]cuda.Ptr{}, size: map[string]uint64{}}, nil
}

// Open opens CUDA device index (0 is the first GPU) and returns the
// backend on it; Close closes the device too. Without an NVIDIA driver, or
// without a GPU, the error says which is missing (wrapping
// cuda.ErrNoDriver in the first case).
func Open(index int) (*Backend, error) {
	dev, err := cuda.Open(index)
	if err != nil {
		return nil, fmt.Errorf("device cuda: %w", err)
	}
	b, err := New(dev)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("device cuda: %v: %w", dev, err)
	}
	b.ownsDev = true
	return b, nil
}

// Device returns the backend's device.
func (b *Backend) Device() *cuda.Device { return b.eng.dev }

// Engine returns the engine of the backend's tensors.
func (b *Backend) Engine() *Engine { return b.eng }

// NewTensor implements backend.Device.
func (b *Backend) NewTensor(dt tensor.Dtype, shape ...int) (*tensor.Dense, error) {
	return b.eng.NewTensor(dt, shape...)
}

// NewHostTensor implements backend.Device.
func (b *Backend) NewHostTensor(dt tensor.Dtype, shape ...int) (*tensor.Dense, error) {
	return b.eng.NewHostTensor(dt, shape...)
}

// ReleaseHost implements backend.Device.
func (b *Backend) ReleaseHost(t *tensor.Dense) error { return b.eng.ReleaseHost(t) }

// Holds implements backend.Device.
func (b *Backend) Holds(t *tensor.Dense) bool { return b.eng.Holds(t) }

// Release implements backend.Device.
func (b *Backend) Release(t *tensor.Dense) error { return b.eng.Release(t) }

// Upload implements backend.Device.
func (b *Backend) Upload(t *tensor.Dense, src any) error { return b.eng.Upload(t, src) }

// Download implements backend.Device.
func (b *Backend) Download(dst any, t *tensor.Dense) error { return b.eng.Download(dst, t) }

// TensorEngine implements backend.Device: the Engine.
func (b *Backend) TensorEngine() tensor.Engine { return b.eng }

// Kernels returns the loaded kernels.
func (b *Backend) Kernels() *kernels.Module { return b.mod }

// Close frees the work buffers and the staging buffers of uploads,
// unloads the kernels and, for a backend from Open, closes the device.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, p := range b.work {
		if err := b.eng.dev.Free(p); err != nil {
			return fmt.Errorf("gpu: %w", err)
		}
		delete(b.work, k)
	}
	if err := b.eng.closeStages(); err != nil {
		return err
	}
	if err := b.mod.Unload(); err != nil {
		return err
	}
	if b.ownsDev {
		return b.eng.dev.Close()
	}
	return nil
}

// buffer returns the work buffer called name, grown to at least bytes.
// The caller holds b.mu.
func (b *Backend) buffer(name string, bytes uint64) (cuda.Ptr, error) {
	if b.size[name] >= bytes {
		return b.work[name], nil
	}
	if p, ok := b.work[name]; ok {
		// Kernels queued before may still use the old buffer.
		if err := b.eng.dev.Synchronize(); err != nil {
			return 0, fmt.Errorf("gpu: %w", err)
		}
		if err := b.eng.dev.Free(p); err != nil {
			return 0, fmt.Errorf("gpu: %w", err)
		}
	}
	delete(b.work, name)
	p, err := b.eng.dev.Alloc(bytes)
	if err != nil {
		return 0, fmt.Errorf("gpu: work buffer %s: %w", name, err)
	}
	b.work[name], b.size[name] = p, bytes
	return p, nil
}

// args resolves the device addresses of a call's tensors: f32 are float32
// tensors, f64 float64 ones; a nil tensor whose name is in optional has
// address 0.
type args struct {
	e   *Engine
	err error
}

func (a *args) p(t *tensor.Dense, dt tensor.Dtype, name string, optional bool) cuda.Ptr {
	if a.err != nil {
		return 0
	}
	if t == nil && optional {
		return 0
	}
	p, err := a.e.ptr(t, dt, name)
	if err != nil {
		a.err = err
	}
	return p
}

func (a *args) f32(t *tensor.Dense, name string) cuda.Ptr { return a.p(t, tensor.Float32, name, false) }
func (a *args) opt(t *tensor.Dense, name string) cuda.Ptr { return a.p(t, tensor.Float32, name, true) }
func (a *args) f64(t *tensor.Dense, name string) cuda.Ptr { return a.p(t, tensor.Float64, name, false) }

func conv(g backend.ConvGeom) kernels.Conv {
	return kernels.Conv{N: g.N, C: g.C, H: g.H, W: g.W, K: g.K, R: g.R, Stride: g.Stride, Pad: g.Pad}
}

// bnShape returns the batch norm shape of the N×C×H×W tensor x.
func bnShape(x *tensor.Dense, momentum, eps float64) (kernels.BN, error) {
	s := x.Shape()
	if len(s) != 4 {
		return kernels.BN{}, fmt.Errorf("gpu: batch norm input must be N×C×H×W, got shape %v", s)
	}
	return kernels.BN{N: s[0], C: s[1], HW: s[2] * s[3], Momentum: momentum, Epsilon: eps}, nil
}

// Conv2D implements backend.Backend.
func (b *Backend) Conv2D(x, w, y *tensor.Dense, g backend.ConvGeom) error {
	a := args{e: b.eng}
	px, pw, py := a.f32(x, "x"), a.f32(w, "w"), a.f32(y, "y")
	if a.err != nil {
		return a.err
	}
	return b.mod.ConvForward(conv(g), py, px, pw, 0, 0, false)
}

// Conv2DBackwardData implements backend.Backend.
func (b *Backend) Conv2DBackwardData(w, dy, dx *tensor.Dense, g backend.ConvGeom) error {
	a := args{e: b.eng}
	pw, pdy, pdx := a.f32(w, "w"), a.f32(dy, "dy"), a.f32(dx, "dx")
	if a.err != nil {
		return a.err
	}
	return b.mod.ConvBackwardData(conv(g), pdx, pw, pdy)
}

// Conv2DBackwardFilter implements backend.Backend.
func (b *Backend) Conv2DBackwardFilter(x, dy, dw *tensor.Dense, g backend.ConvGeom) error {
	a := args{e: b.eng}
	px, pdy, pdw := a.f32(x, "x"), a.f32(dy, "dy"), a.f32(dw, "dw")
	if a.err != nil {
		return a.err
	}
	kg := conv(g)
	splits := kernels.FilterSplits(kg)
	if splits == 1 {
		return b.mod.ConvBackwardFilter(kg, pdw, px, pdy, 0, 1)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	work, err := b.buffer("filter", uint64(kernels.FilterWork(kg, splits))*4)
	if err != nil {
		return err
	}
	return b.mod.ConvBackwardFilter(kg, pdw, px, pdy, work, splits)
}

// Conv2DBNEval implements backend.Backend: the batch norm is folded into
// the filter and a bias, then one convolution kernel adds the bias and the
// skip and applies the ReLU.
func (b *Backend) Conv2DBNEval(x, w, gamma, beta, skip, y *tensor.Dense, g backend.ConvGeom, st backend.BNRunning, relu bool) error {
	a := args{e: b.eng}
	px, pw, pg, pb := a.f32(x, "x"), a.f32(w, "w"), a.f32(gamma, "gamma"), a.f32(beta, "beta")
	ps, py := a.opt(skip, "skip"), a.f32(y, "y")
	pm, pv := a.f32(st.Mean, "running mean"), a.f32(st.Var, "running variance")
	if a.err != nil {
		return a.err
	}
	crr := g.C * g.R * g.R
	b.mu.Lock()
	defer b.mu.Unlock()
	fold, err := b.buffer("fold", uint64(g.K*crr+g.K)*4)
	if err != nil {
		return err
	}
	bias := fold.Add(uint64(g.K*crr) * 4)
	if err := b.mod.BNFold(fold, bias, pw, pg, pb, pm, pv, g.K, crr, st.Epsilon); err != nil {
		return err
	}
	return b.mod.ConvForward(conv(g), py, px, fold, bias, ps, relu)
}

// BatchNormTrain implements backend.Backend.
func (b *Backend) BatchNormTrain(x, gamma, beta, y *tensor.Dense, st backend.BNRunning, saved backend.BNSaved, relu bool) error {
	a := args{e: b.eng}
	px, pg, pb, py := a.f32(x, "x"), a.f32(gamma, "gamma"), a.f32(beta, "beta"), a.f32(y, "y")
	pm, pv := a.f32(st.Mean, "running mean"), a.f32(st.Var, "running variance")
	sm, si := a.f64(saved.Mean, "saved mean"), a.f64(saved.InvStd, "saved inverse std")
	if a.err != nil {
		return a.err
	}
	bn, err := bnShape(x, st.Momentum, st.Epsilon)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	work, slices, err := b.bnWork(bn)
	if err != nil {
		return err
	}
	if err := b.mod.BNStats(bn, sm, si, pm, pv, px, work, slices); err != nil {
		return err
	}
	return b.mod.BNApply(bn, py, px, pg, pb, sm, si, relu)
}

// bnWork returns the work buffer of the per-channel sums of batch norm bn
// and the number of slices they are split into. The caller holds b.mu.
func (b *Backend) bnWork(bn kernels.BN) (cuda.Ptr, int, error) {
	slices := kernels.BNSlices(bn)
	work, err := b.buffer("bnsums", uint64(kernels.BNWork(bn, slices))*sizeof64)
	return work, slices, err
}

// BatchNormEval implements backend.Backend.
func (b *Backend) BatchNormEval(x, gamma, beta, y *tensor.Dense, st backend.BNRunning, relu bool) error {
	a := args{e: b.eng}
	px, pg, pb, py := a.f32(x, "x"), a.f32(gamma, "gamma"), a.f32(beta, "beta"), a.f32(y, "y")
	pm, pv := a.f32(st.Mean, "running mean"), a.f32(st.Var, "running variance")
	if a.err != nil {
		return a.err
	}
	bn, err := bnShape(x, st.Momentum, st.Epsilon)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	stats, err := b.buffer("evalstats", 2*uint64(bn.C)*sizeof64)
	if err != nil {
		return err
	}
	invstd := stats.Add(uint64(bn.C) * sizeof64)
	if err := b.mod.BNEvalStats(bn, stats, invstd, pm, pv); err != nil {
		return err
	}
	return b.mod.BNApply(bn, py, px, pg, pb, stats, invstd, relu)
}

// sums returns the addresses of Σdy and Σdy·x̂ in the (2, C) float64
// tensor sums.
func (a *args) sums(sums *tensor.Dense, c int) (cuda.Ptr, cuda.Ptr) {
	p := a.f64(sums, "sums")
	if a.err == nil && sums.Shape().TotalSize() != 2*c {
		a.err = fmt.Errorf("gpu: sums has shape %v, want (2, %d)", sums.Shape(), c)
	}
	return p, p.Add(uint64(c) * sizeof64)
}

// BatchNormBackwardSums implements backend.Backend.
func (b *Backend) BatchNormBackwardSums(x, dy, y *tensor.Dense, saved backend.BNSaved, sums, dgamma, dbeta *tensor.Dense) error {
	bn, err := bnShape(x, 0, 0)
	if err != nil {
		return err
	}
	a := args{e: b.eng}
	px, pdy, py := a.f32(x, "x"), a.f32(dy, "dy"), a.opt(y, "y")
	sm, si := a.f64(saved.Mean, "saved mean"), a.f64(saved.InvStd, "saved inverse std")
	s1, s2 := a.sums(sums, bn.C)
	pg, pb := a.opt(dgamma, "dgamma"), a.opt(dbeta, "dbeta")
	if a.err != nil {
		return a.err
	}
	for _, d := range []*tensor.Dense{dgamma, dbeta} {
		if d != nil && d.Shape().TotalSize() != bn.C {
			return fmt.Errorf("gpu: a batch norm parameter's gradient has shape %v, want (%d)", d.Shape(), bn.C)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	work, slices, err := b.bnWork(bn)
	if err != nil {
		return err
	}
	return b.mod.BNBackwardSums(bn, s1, s2, pg, pb, px, pdy, py, sm, si, work, slices)
}

// BatchNormBackwardData implements backend.Backend.
func (b *Backend) BatchNormBackwardData(x, gamma, dy, y *tensor.Dense, saved backend.BNSaved, sums, dx *tensor.Dense) error {
	bn, err := bnShape(x, 0, 0)
	if err != nil {
		return err
	}
	a := args{e: b.eng}
	px, pg, pdy, py, pdx := a.f32(x, "x"), a.f32(gamma, "gamma"), a.f32(dy, "dy"), a.opt(y, "y"), a.f32(dx, "dx")
	sm, si := a.f64(saved.Mean, "saved mean"), a.f64(saved.InvStd, "saved inverse std")
	s1, s2 := a.sums(sums, bn.C)
	if a.err != nil {
		return a.err
	}
	return b.mod.BNBackwardData(bn, pdx, px, pdy, py, pg, sm, si, s1, s2)
}

// AddReLU implements backend.Backend.
func (b *Backend) AddReLU(x, y, out *tensor.Dense) error {
	a := args{e: b.eng}
	px, py, po := a.f32(x, "a"), a.opt(y, "b"), a.f32(out, "y")
	if a.err != nil {
		return a.err
	}
	n := out.Shape().TotalSize()
	if py == 0 {
		return b.mod.ReLU(po, px, n)
	}
	return b.mod.AddReLU(po, px, py, n)
}

// ReLUBackward implements backend.Backend.
func (b *Backend) ReLUBackward(y, dy, dx *tensor.Dense) error {
	a := args{e: b.eng}
	py, pdy, pdx := a.f32(y, "y"), a.f32(dy, "dy"), a.f32(dx, "dx")
	if a.err != nil {
		return a.err
	}
	return b.mod.ReLUBackward(pdx, py, pdy, dx.Shape().TotalSize())
}

// poolShape returns the rows (N·C) and positions (H·W) of the N×C×H×W x.
func poolShape(x *tensor.Dense) (rows, hw int, err error) {
	s := x.Shape()
	if len(s) != 4 {
		return 0, 0, fmt.Errorf("gpu: pooling input must be N×C×H×W, got shape %v", s)
	}
	return s[0] * s[1], s[2] * s[3], nil
}

// GlobalAvgPool implements backend.Backend.
func (b *Backend) GlobalAvgPool(x, y *tensor.Dense) error {
	a := args{e: b.eng}
	px, py := a.f32(x, "x"), a.f32(y, "y")
	if a.err != nil {
		return a.err
	}
	rows, hw, err := poolShape(x)
	if err != nil {
		return err
	}
	return b.mod.GAPForward(py, px, rows, hw)
}

// GlobalAvgPoolBackward implements backend.Backend.
func (b *Backend) GlobalAvgPoolBackward(dy, dx *tensor.Dense) error {
	a := args{e: b.eng}
	pdy, pdx := a.f32(dy, "dy"), a.f32(dx, "dx")
	if a.err != nil {
		return a.err
	}
	rows, hw, err := poolShape(dx)
	if err != nil {
		return err
	}
	return b.mod.GAPBackward(pdx, pdy, rows, hw)
}

// denseShape returns N, I and O of a dense layer with input x (N×I) and
// weights w (O×I).
func denseShape(x, w *tensor.Dense) (n, in, out int, err error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		return 0, 0, 0, fmt.Errorf("gpu: dense layer with input %v and weights %v, want N×I and O×I", xs, ws)
	}
	return xs[0], xs[1], ws[0], nil
}

// Dense implements backend.Backend.
func (b *Backend) Dense(x, w, bias, y *tensor.Dense) error {
	a := args{e: b.eng}
	px, pw, pb, py := a.f32(x, "x"), a.f32(w, "w"), a.f32(bias, "b"), a.f32(y, "y")
	if a.err != nil {
		return a.err
	}
	n, in, out, err := denseShape(x, w)
	if err != nil {
		return err
	}
	return b.mod.DenseForward(py, px, pw, pb, n, in, out)
}

// DenseBackward implements backend.Backend.
func (b *Backend) DenseBackward(x, w, dy, dx, dw, db *tensor.Dense) error {
	a := args{e: b.eng}
	px, pw, pdy := a.f32(x, "x"), a.f32(w, "w"), a.f32(dy, "dy")
	pdx, pdw, pdb := a.opt(dx, "dx"), a.opt(dw, "dw"), a.opt(db, "db")
	if a.err != nil {
		return a.err
	}
	n, in, out, err := denseShape(x, w)
	if err != nil {
		return err
	}
	return b.mod.DenseBackward(pdx, pdw, pdb, px, pw, pdy, n, in, out)
}

// lossShape returns N and K of N×K logits.
func lossShape(logits *tensor.Dense) (n, k int, err error) {
	s := logits.Shape()
	if len(s) != 2 {
		return 0, 0, fmt.Errorf("gpu: logits must be N×K, got shape %v", s)
	}
	return s[0], s[1], nil
}

// SoftmaxCrossEntropy implements backend.Backend. It waits for the loss.
func (b *Backend) SoftmaxCrossEntropy(logits, targets *tensor.Dense, t float64, kl bool) (float64, error) {
	a := args{e: b.eng}
	pl, pt := a.f32(logits, "logits"), a.f32(targets, "targets")
	if a.err != nil {
		return 0, a.err
	}
	n, k, err := lossShape(logits)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	loss, err := b.buffer("loss", sizeof64)
	if err != nil {
		return 0, err
	}
	if err := b.mod.XentForward(loss, pl, pt, n, k, t, kl); err != nil {
		return 0, err
	}
	v := make([]float64, 1)
	if err := cuda.Download(b.eng.dev, v, loss); err != nil {
		return 0, fmt.Errorf("gpu: loss: %w", err)
	}
	return v[0], nil
}

// SoftmaxCrossEntropyBackward implements backend.Backend.
func (b *Backend) SoftmaxCrossEntropyBackward(logits, targets *tensor.Dense, g, t float64, d *tensor.Dense) error {
	a := args{e: b.eng}
	pl, pt, pd := a.f32(logits, "logits"), a.f32(targets, "targets"), a.f32(d, "d")
	if a.err != nil {
		return a.err
	}
	n, k, err := lossShape(logits)
	if err != nil {
		return err
	}
	return b.mod.XentBackward(pd, pl, pt, g, n, k, t)
}

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Device  = (*Backend)(nil)
)
