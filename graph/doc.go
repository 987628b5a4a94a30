// Package graph provides the building blocks of the residual network as
// Gorgonia operations: convolution without bias, spatial batch
// normalisation with per-channel parameters, ReLU (alone and fused with the
// residual addition), global average pooling, a dense layer and softmax
// cross-entropy with label smoothing.
//
// Each operation implements gorgonia.Op and gorgonia.SDOp, so a graph built
// from them is differentiated symbolically by gorgonia.Grad and run by a
// gorgonia.TapeMachine. The backward passes are operations of their own,
// written directly from the analytic derivatives and checked against
// central finite differences in the tests. All operations accept float32
// (training) and float64 (gradient checks) tensors, reuse the buffers the
// machine preallocates, and split their work across GOMAXPROCS goroutines.
package graph
