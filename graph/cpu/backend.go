// Package cpu is the CPU backend of package graph: it implements
// backend.Backend in Go, with the vector routines of package simd and the
// matrix products of package gemm, and chooses the algorithm of each
// convolution itself (Winograd F(2×2, 3×3), products gathered from a padded
// copy of each image, or im2col).
//
// Every method accepts float32 tensors, the training type, and float64
// ones, for the gradient checks, which take the plain im2col and gonum
// paths. The work is split across GOMAXPROCS goroutines, and the scratch
// memory is kept between calls.
package cpu

import (
	"fmt"
	"sync"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
)

// float is the element type every kernel of this package is written for.
type float interface{ ~float32 | ~float64 }

// Backend is the CPU backend. The zero value is ready to use; a Backend is
// safe for concurrent use.
type Backend struct {
	f32 kernels[float32]
	f64 kernels[float64]
}

var _ backend.Backend = (*Backend)(nil)

// New returns a CPU backend.
func New() *Backend { return new(Backend) }

// workspace holds the scratch memory of convolutions in one element type.
type workspace[T float] struct {
	cols  scratch[T] // im2col matrices, padded images, Winograd transforms
	flip  scratch[T] // flipped filters
	parts scratch[T] // per-worker partial filter gradients
	fold  scratch[T] // filters with batch norm folded in
}

// kernels computes the methods of Backend in one element type.
type kernels[T float] struct {
	mu sync.Mutex
	// workspaces holds one workspace per convolution geometry (with N = 0:
	// the buffers are per image). With a single workspace for all
	// geometries, the padded image copies of the reference network ran
	// about a third slower.
	workspaces map[geom]*workspace[T]
}

// workspace returns the workspace of the convolutions of geometry g.
func (k *kernels[T]) workspace(g geom) *workspace[T] {
	g.N = 0
	k.mu.Lock()
	defer k.mu.Unlock()
	ws := k.workspaces[g]
	if ws == nil {
		if k.workspaces == nil {
			k.workspaces = make(map[geom]*workspace[T])
		}
		ws = new(workspace[T])
		k.workspaces[g] = ws
	}
	return ws
}

// typed is what kernels[float32] and kernels[float64] have in common: the
// methods of Backend, on tensors of their element type.
type typed interface {
	conv2D(x, w, y *tensor.Dense, g geom)
	conv2DBackwardData(w, dy, dx *tensor.Dense, g geom)
	conv2DBackwardFilter(x, dy, dw *tensor.Dense, g geom)
	conv2DBNEval(x, w, gamma, beta, skip, y *tensor.Dense, g geom, st bnRunning, relu bool)
	batchNorm(x, gamma, beta, y *tensor.Dense, st bnRunning, saved *bnSaved, relu bool)
	batchNormBackwardSums(x, dy, y *tensor.Dense, saved bnSaved, sums bnSums, dgamma, dbeta *tensor.Dense)
	batchNormBackwardData(x, gamma, dy, y *tensor.Dense, saved bnSaved, sums bnSums, dx *tensor.Dense)
	addReLU(a, b, y *tensor.Dense)
	reluBackward(y, dy, dx *tensor.Dense)
	globalAvgPool(x, y *tensor.Dense)
	globalAvgPoolBackward(dy, dx *tensor.Dense)
	dense(x, w, b, y *tensor.Dense)
	denseBackward(x, w, dy, dx, dw, db *tensor.Dense)
	softmaxCrossEntropy(logits, targets *tensor.Dense, t float64, kl bool) float64
	softmaxCrossEntropyBackward(logits, targets *tensor.Dense, g, t float64, d *tensor.Dense)
}

// with runs fn with the kernels of the element type of t.
func (be *Backend) with(t *tensor.Dense, fn func(k typed)) error {
	switch t.Dtype() {
	case tensor.Float32:
		fn(&be.f32)
	case tensor.Float64:
		fn(&be.f64)
	default:
		return fmt.Errorf("cpu: unsupported dtype %v (want float32 or float64)", t.Dtype())
	}
	return nil
}

// data returns the elements of d, or nil when d is nil.
func data[T float](d *tensor.Dense) []T {
	if d == nil {
		return nil
	}
	return d.Data().([]T)
}

// running returns the running statistics st as slices.
func running(st backend.BNRunning) bnRunning {
	return bnRunning{mean: data32(st.Mean), variance: data32(st.Var), momentum: st.Momentum, epsilon: st.Epsilon}
}

// savedStats returns the saved statistics s as slices.
func savedStats(s backend.BNSaved) bnSaved {
	return bnSaved{mean: data[float64](s.Mean), invstd: data[float64](s.InvStd)}
}

// sumsOf returns the rows of the 2×C tensor of batch norm sums.
func sumsOf(sums *tensor.Dense) bnSums {
	s := data[float64](sums)
	return bnSums{dy: s[:len(s)/2], dyXhat: s[len(s)/2:]}
}

// data32 returns the elements of a float32 tensor.
func data32(d *tensor.Dense) []float32 { return d.Data().([]float32) }

// Conv2D implements backend.Backend.
func (be *Backend) Conv2D(x, w, y *tensor.Dense, g backend.ConvGeom) error {
	return be.with(x, func(k typed) { k.conv2D(x, w, y, geom(g)) })
}

// Conv2DBackwardData implements backend.Backend.
func (be *Backend) Conv2DBackwardData(w, dy, dx *tensor.Dense, g backend.ConvGeom) error {
	return be.with(w, func(k typed) { k.conv2DBackwardData(w, dy, dx, geom(g)) })
}

// Conv2DBackwardFilter implements backend.Backend.
func (be *Backend) Conv2DBackwardFilter(x, dy, dw *tensor.Dense, g backend.ConvGeom) error {
	return be.with(x, func(k typed) { k.conv2DBackwardFilter(x, dy, dw, geom(g)) })
}

// Conv2DBNEval implements backend.Backend.
func (be *Backend) Conv2DBNEval(x, w, gamma, beta, skip, y *tensor.Dense, g backend.ConvGeom, st backend.BNRunning, relu bool) error {
	if skip != nil && !relu {
		return fmt.Errorf("cpu: conv+bn: a skip input needs the ReLU")
	}
	return be.with(x, func(k typed) { k.conv2DBNEval(x, w, gamma, beta, skip, y, geom(g), running(st), relu) })
}

// BatchNormTrain implements backend.Backend.
func (be *Backend) BatchNormTrain(x, gamma, beta, y *tensor.Dense, st backend.BNRunning, saved backend.BNSaved, relu bool) error {
	s := savedStats(saved)
	return be.with(x, func(k typed) { k.batchNorm(x, gamma, beta, y, running(st), &s, relu) })
}

// BatchNormEval implements backend.Backend.
func (be *Backend) BatchNormEval(x, gamma, beta, y *tensor.Dense, st backend.BNRunning, relu bool) error {
	return be.with(x, func(k typed) { k.batchNorm(x, gamma, beta, y, running(st), nil, relu) })
}

// BatchNormBackwardSums implements backend.Backend.
func (be *Backend) BatchNormBackwardSums(x, dy, y *tensor.Dense, saved backend.BNSaved, sums, dgamma, dbeta *tensor.Dense) error {
	return be.with(x, func(k typed) { k.batchNormBackwardSums(x, dy, y, savedStats(saved), sumsOf(sums), dgamma, dbeta) })
}

// BatchNormBackwardData implements backend.Backend.
func (be *Backend) BatchNormBackwardData(x, gamma, dy, y *tensor.Dense, saved backend.BNSaved, sums, dx *tensor.Dense) error {
	return be.with(x, func(k typed) { k.batchNormBackwardData(x, gamma, dy, y, savedStats(saved), sumsOf(sums), dx) })
}

// AddReLU implements backend.Backend.
func (be *Backend) AddReLU(a, b, y *tensor.Dense) error {
	return be.with(a, func(k typed) { k.addReLU(a, b, y) })
}

// ReLUBackward implements backend.Backend.
func (be *Backend) ReLUBackward(y, dy, dx *tensor.Dense) error {
	return be.with(y, func(k typed) { k.reluBackward(y, dy, dx) })
}

// GlobalAvgPool implements backend.Backend.
func (be *Backend) GlobalAvgPool(x, y *tensor.Dense) error {
	return be.with(x, func(k typed) { k.globalAvgPool(x, y) })
}

// GlobalAvgPoolBackward implements backend.Backend.
func (be *Backend) GlobalAvgPoolBackward(dy, dx *tensor.Dense) error {
	return be.with(dy, func(k typed) { k.globalAvgPoolBackward(dy, dx) })
}

// Dense implements backend.Backend.
func (be *Backend) Dense(x, w, b, y *tensor.Dense) error {
	return be.with(x, func(k typed) { k.dense(x, w, b, y) })
}

// DenseBackward implements backend.Backend.
func (be *Backend) DenseBackward(x, w, dy, dx, dw, db *tensor.Dense) error {
	return be.with(dy, func(k typed) { k.denseBackward(x, w, dy, dx, dw, db) })
}

// SoftmaxCrossEntropy implements backend.Backend.
func (be *Backend) SoftmaxCrossEntropy(logits, targets *tensor.Dense, t float64, kl bool) (float64, error) {
	var loss float64
	err := be.with(logits, func(k typed) { loss = k.softmaxCrossEntropy(logits, targets, t, kl) })
	return loss, err
}

// SoftmaxCrossEntropyBackward implements backend.Backend.
func (be *Backend) SoftmaxCrossEntropyBackward(logits, targets *tensor.Dense, g, t float64, d *tensor.Dense) error {
	return be.with(logits, func(k typed) { k.softmaxCrossEntropyBackward(logits, targets, g, t, d) })
}

func (k *kernels[T]) conv2D(x, w, y *tensor.Dense, g geom) {
	convForward(g, data[T](x), data[T](w), data[T](y), k.workspace(g), nil)
}

func (k *kernels[T]) conv2DBackwardData(w, dy, dx *tensor.Dense, g geom) {
	convBackwardData(g, data[T](w), data[T](dy), data[T](dx), k.workspace(g))
}

func (k *kernels[T]) conv2DBackwardFilter(x, dy, dw *tensor.Dense, g geom) {
	convBackwardFilter(g, data[T](x), data[T](dy), data[T](dw), k.workspace(g))
}

func (k *kernels[T]) conv2DBNEval(x, w, gamma, beta, skip, y *tensor.Dense, g geom, st bnRunning, relu bool) {
	convBNForward(g, data[T](x), data[T](w), data[T](gamma), data[T](beta), data[T](skip), data[T](y), st, relu, k.workspace(g))
}

func (k *kernels[T]) batchNorm(x, gamma, beta, y *tensor.Dense, st bnRunning, saved *bnSaved, relu bool) {
	bnForward(x.Shape(), data[T](x), data[T](gamma), data[T](beta), data[T](y), st, saved, relu)
}

func (k *kernels[T]) batchNormBackwardSums(x, dy, y *tensor.Dense, saved bnSaved, sums bnSums, dgamma, dbeta *tensor.Dense) {
	bnBackwardSums(x.Shape(), data[T](x), data[T](dy), data[T](y), saved, sums)
	bnBackwardParams(sums, data[T](dgamma), data[T](dbeta))
}

func (k *kernels[T]) batchNormBackwardData(x, gamma, dy, y *tensor.Dense, saved bnSaved, sums bnSums, dx *tensor.Dense) {
	bnBackwardData(x.Shape(), data[T](x), data[T](gamma), data[T](dy), data[T](y), saved, sums, data[T](dx))
}

func (k *kernels[T]) addReLU(a, b, y *tensor.Dense) { addReLU(data[T](a), data[T](b), data[T](y)) }

func (k *kernels[T]) reluBackward(y, dy, dx *tensor.Dense) {
	reluBackward(data[T](y), data[T](dy), data[T](dx))
}

func (k *kernels[T]) globalAvgPool(x, y *tensor.Dense) {
	s := x.Shape()
	gapForward(s[2]*s[3], data[T](x), data[T](y))
}

func (k *kernels[T]) globalAvgPoolBackward(dy, dx *tensor.Dense) {
	s := dx.Shape()
	gapBackward(s[2]*s[3], data[T](dy), data[T](dx))
}

func (k *kernels[T]) dense(x, w, b, y *tensor.Dense) {
	xs, ws := x.Shape(), w.Shape()
	denseForward(xs[0], xs[1], ws[0], data[T](x), data[T](w), data[T](b), data[T](y))
}

func (k *kernels[T]) denseBackward(x, w, dy, dx, dw, db *tensor.Dense) {
	xs, ws := x.Shape(), w.Shape()
	denseBackward(xs[0], xs[1], ws[0], data[T](x), data[T](w), data[T](dy), data[T](dx), data[T](dw), data[T](db))
}

func (k *kernels[T]) softmaxCrossEntropy(logits, targets *tensor.Dense, t float64, kl bool) float64 {
	s := logits.Shape()
	return xentForward(s[0], s[1], t, kl, data[T](logits), data[T](targets))
}

func (k *kernels[T]) softmaxCrossEntropyBackward(logits, targets *tensor.Dense, g, t float64, d *tensor.Dense) {
	s := logits.Shape()
	xentBackward(s[0], s[1], g, t, data[T](logits), data[T](targets), data[T](d))
}
