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
// central finite differences in the tests. An operation checks the shapes
// and dtypes of its inputs, finds its output buffer (reusing the one the
// machine preallocates) and leaves the arithmetic to a backend, the
// interface of package graph/backend: the CPU backend of package graph/cpu
// unless UseBackend hands a graph to another. All operations accept
// float32 (training) and float64 (gradient checks) tensors on the CPU; a
// device backend (backend.Device, e.g. package graph/gpu) takes float32
// device tensors, and the operations then allocate their outputs and the
// batch norm statistics on its device.
//
// Batch norm keeps its state outside the operations: the running
// statistics in a BNState owned by the model, and, in training, the
// statistics of the current batch in a BNBatch owned by the net; the sums
// its three gradients share are a node of the graph.
package graph
