// Package backend defines the seam between the operations of package
// graph and the code that computes them: the Backend interface, and the
// descriptions of work its methods take.
//
// An operation checks the shapes and dtypes of its inputs, finds its
// output tensor and calls one Backend method for each forward or backward
// computation; the backend does the arithmetic, wherever its tensors live
// (package graph/cpu computes on the CPU). The methods take tensors and
// shapes, never algorithms: choosing how to compute a convolution is the
// backend's business.
//
// Every tensor argument is a *tensor.Dense of the shape the method states.
// The data tensors of one call share one dtype, float32 (training) or
// float64 (gradient checks); statistics have fixed dtypes, given where they
// appear. Outputs are overwritten, never read; the caller has checked
// every shape.
package backend

import "gorgonia.org/tensor"

// Backend computes the operations of package graph. Its methods may be
// called concurrently for different outputs.
type Backend interface {
	// Conv2D sets y (N×K×OH×OW) to the convolution of x (N×C×H×W) with
	// the filter w (K×C×R×R), without bias.
	Conv2D(x, w, y *tensor.Dense, g ConvGeom) error
	// Conv2DBackwardData sets dx (N×C×H×W) to the gradient with respect
	// to x of Conv2D, from w and dy (N×K×OH×OW), the gradient with respect
	// to its output.
	Conv2DBackwardData(w, dy, dx *tensor.Dense, g ConvGeom) error
	// Conv2DBackwardFilter sets dw (K×C×R×R) to the gradient with respect
	// to w of Conv2D, from x and dy.
	Conv2DBackwardFilter(x, dy, dw *tensor.Dense, g ConvGeom) error
	// Conv2DBNEval sets y to Conv2D(x, w) followed by an evaluation-mode
	// batch norm with gamma and beta (K) and the running statistics st,
	// then by ReLU if relu is set. If skip (the shape of y) is not nil, it
	// is added before the ReLU, which relu must then request: the end of a
	// residual block.
	Conv2DBNEval(x, w, gamma, beta, skip, y *tensor.Dense, g ConvGeom, st BNRunning, relu bool) error

	// BatchNormTrain normalises x (N×C×H×W) per channel with the mean and
	// the biased variance of the batch, applies gamma and beta (C), then
	// ReLU if relu is set, and writes the result to y (N×C×H×W). It saves
	// the batch mean and inverse standard deviation in saved, and moves the
	// running statistics st towards the batch mean and unbiased variance.
	BatchNormTrain(x, gamma, beta, y *tensor.Dense, st BNRunning, saved BNSaved, relu bool) error
	// BatchNormEval is BatchNormTrain with the running statistics in place
	// of the batch's; it changes no statistics.
	BatchNormEval(x, gamma, beta, y *tensor.Dense, st BNRunning, relu bool) error
	// BatchNormBackwardSums sets sums, a float64 tensor of shape (2, C), to
	// Σdy and Σdy·x̂ per channel, where dy (N×C×H×W) is the gradient with
	// respect to the batch norm's output and x̂ = (x - mean)·invstd with
	// the statistics saved by BatchNormTrain. If y, the output of a batch
	// norm that included the ReLU, is not nil, dy is taken as 0 where y is.
	// It also sets those of dgamma and dbeta (C, of x's element type) that
	// are not nil to the gradients with respect to gamma (Σdy·x̂) and beta
	// (Σdy), so that they take no pass of their own.
	BatchNormBackwardSums(x, dy, y *tensor.Dense, saved BNSaved, sums, dgamma, dbeta *tensor.Dense) error
	// BatchNormBackwardData sets dx (N×C×H×W) to the gradient with respect
	// to x of BatchNormTrain, from the arguments of BatchNormBackwardSums
	// and the sums it computed:
	//
	//	dx = gamma·invstd·(dy - Σdy/M - x̂·Σdy·x̂/M)
	//
	// with M = N·H·W values per channel.
	BatchNormBackwardData(x, gamma, dy, y *tensor.Dense, saved BNSaved, sums, dx *tensor.Dense) error

	// AddReLU sets y = max(a + b, 0) elementwise, or max(a, 0) when b is
	// nil; a, b and y have one shape.
	AddReLU(a, b, y *tensor.Dense) error
	// ReLUBackward sets dx to dy where the ReLU output y is positive and
	// to 0 elsewhere.
	ReLUBackward(y, dy, dx *tensor.Dense) error

	// GlobalAvgPool sets y (N×C) to the means of x (N×C×H×W) over the H·W
	// positions of each channel.
	GlobalAvgPool(x, y *tensor.Dense) error
	// GlobalAvgPoolBackward spreads dy (N×C) evenly over the H·W positions
	// of each channel of dx (N×C×H×W).
	GlobalAvgPoolBackward(dy, dx *tensor.Dense) error

	// Dense sets y (N×O) = x·wᵀ + b for x of shape N×I, w of shape O×I and
	// b of length O.
	Dense(x, w, b, y *tensor.Dense) error
	// DenseBackward sets those of dx = dy·w, dw = dyᵀ·x and db = Σₙ dy
	// that are not nil, from the inputs of Dense and dy (N×O).
	DenseBackward(x, w, dy, dx, dw, db *tensor.Dense) error

	// SoftmaxCrossEntropy returns, for N×K logits and targets,
	//
	//	t²/N · Σₙ Σₖ targets[n,k] · (e[n,k] - log softmax(logits[n]/t)ₖ)
	//
	// where e[n,k] = log(targets[n,k]/Sₙ) when kl is set (Sₙ the sum of
	// row n of the targets) and 0 otherwise: the cross-entropy, or the
	// Kullback-Leibler divergence, at temperature t. The loss is one
	// number, returned to the caller in float64.
	SoftmaxCrossEntropy(logits, targets *tensor.Dense, t float64, kl bool) (float64, error)
	// SoftmaxCrossEntropyBackward sets d (N×K) to the gradient of
	// SoftmaxCrossEntropy with respect to the logits, times g:
	// g·t·(Sₙ·softmax(logits[n]/t) - targets[n])/N.
	SoftmaxCrossEntropyBackward(logits, targets *tensor.Dense, g, t float64, d *tensor.Dense) error
}

// ConvGeom is the geometry of a 2-D convolution over a batch of NCHW
// images with a K×C×R×R filter: square kernels, equal stride and zero
// padding on both axes.
type ConvGeom struct {
	N, C, H, W int // input
	K, R       int // output channels, kernel size
	Stride     int
	Pad        int
	OH, OW     int // output height and width
}

// BNRunning is the running statistics of a batch norm layer: the mean
// and the unbiased variance per channel (float32 tensors of shape (C)),
// updated in place as running = (1-Momentum)·running + Momentum·batch,
// and the Epsilon added to the variance before its square root.
type BNRunning struct {
	Mean, Var         *tensor.Dense
	Momentum, Epsilon float64
}

// BNSaved is the statistics of the batch a training-mode batch norm
// normalised, saved by the forward pass for the backward pass: the mean
// and the inverse standard deviation per channel (float64 tensors of shape
// (C)).
type BNSaved struct {
	Mean, InvStd *tensor.Dense
}

// NewConvGeom returns the geometry of a convolution of an N×C×H×W input
// with a K×C×R×R filter: the output size follows from the others,
// OH = (H + 2·pad - R)/stride + 1 and likewise OW. It checks nothing; an
// output size below 1 means the kernel does not fit.
func NewConvGeom(n, c, h, w, k, r, stride, pad int) ConvGeom {
	return ConvGeom{N: n, C: c, H: h, W: w, K: k, R: r, Stride: stride, Pad: pad,
		OH: (h+2*pad-r)/stride + 1, OW: (w+2*pad-r)/stride + 1}
}
