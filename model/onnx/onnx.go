// Package onnx writes the network in evaluation mode as an ONNX model
// (https://onnx.ai), for ONNX Runtime and the other tools that read the
// format. The protobuf messages are those of the ONNX schema, generated in
// package onnxpb.
//
// The graph, of ONNX opset [Opset], has one input [Input], float32
// N×3×32×32 with a dynamic batch dimension named [BatchDim], the images
// normalised as in training (the normalisation is not part of the graph),
// and one output [Output], float32 N×10, the logits. Each convolution is a
// Conv node without bias followed by a BatchNormalization node in inference
// mode (running statistics, the configured epsilon), then Relu, Add and
// Relu as the network has them; global average pooling is
// GlobalAveragePool then Flatten, and the dense layer a Gemm with the
// weight transposed. The initializers keep the tensors' names in the model
// (stem.conv.weight, stem.bn.gamma, stem.bn.running_mean, ...), and node
// outputs are named after their layer.
package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/onnx/onnxpb"
)

// Versions written: ONNX opset 13 and IR version 7, the IR version of
// that opset (ONNX 1.8), so that every ONNX Runtime since 1.6 reads the
// model.
const (
	Opset     = 13
	IRVersion = 7
)

// Names of the graph's input and output, and of its batch dimension.
const (
	Input    = "images"
	Output   = "logits"
	BatchDim = "N"
)

// Geometry of the input and of the output.
const (
	channels = 3
	size     = 32
	classes  = 10
)

// Options are the descriptive fields of the model.
type Options struct {
	// ProducerName and ProducerVersion name the program that wrote the
	// model.
	ProducerName, ProducerVersion string
	// DocString describes the model, such as how to normalise the input.
	DocString string
	// Metadata becomes the model's metadata_props, in key order.
	Metadata map[string]string
}

// Export returns the ONNX model, serialised, of the network described by
// cfg with the parameters and batch norm statistics params and stats (as
// model.Model.ParamTensors and StatTensors name and lay them out). Every
// tensor the network needs must be there with the shape the previous layer
// implies, and no other: the error names the first that is missing,
// mis-shaped or left over.
func Export(cfg config.Model, params, stats []checkpoint.Tensor, opts Options) ([]byte, error) {
	b := &builder{
		cfg:     cfg,
		tensors: map[string]checkpoint.Tensor{},
		used:    map[string]bool{},
		graph:   &onnxpb.GraphProto{Name: proto.String("resnet")},
	}
	for _, ts := range [][]checkpoint.Tensor{params, stats} {
		for _, t := range ts {
			if _, dup := b.tensors[t.Name]; dup {
				return nil, fmt.Errorf("onnx: two tensors are named %s", t.Name)
			}
			b.tensors[t.Name] = t
		}
	}
	if err := b.network(); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	for _, ts := range [][]checkpoint.Tensor{params, stats} {
		for _, t := range ts {
			if !b.used[t.Name] {
				return nil, fmt.Errorf("onnx: the tensor %s is not part of the network %s", t.Name, describe(cfg))
			}
		}
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName:    proto.String(opts.ProducerName),
		ProducerVersion: proto.String(opts.ProducerVersion),
		DocString:       proto.String(opts.DocString),
		Graph:           b.graph,
	}
	keys := make([]string, 0, len(opts.Metadata))
	for k := range opts.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(opts.Metadata[k])})
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return out, nil
}

// describe writes the architecture of cfg briefly, for errors.
func describe(cfg config.Model) string {
	parts := make([]string, len(cfg.Stages))
	for i, s := range cfg.Stages {
		parts[i] = fmt.Sprintf("%dx%d/%d", s.Channels, s.Blocks, s.Stride)
	}
	return fmt.Sprintf("(stem %d; %s)", cfg.StemChannels, strings.Join(parts, ", "))
}

// builder adds the network's nodes and initializers to a graph.
type builder struct {
	cfg     config.Model
	tensors map[string]checkpoint.Tensor
	used    map[string]bool
	graph   *onnxpb.GraphProto
}

// value is a node output with its channel count.
type value struct {
	name     string
	channels int
}

// network adds the whole network: the stem, every block of every stage,
// pooling and the dense layer.
func (b *builder) network() error {
	b.graph.Input = []*onnxpb.ValueInfoProto{valueInfo(Input, channels, size, size)}
	b.graph.Output = []*onnxpb.ValueInfoProto{valueInfo(Output, classes)}
	x, err := b.convBN(value{Input, channels}, "stem.conv", "stem.bn", 1)
	if err != nil {
		return err
	}
	x = b.node("Relu", "stem.relu", x.channels, []string{x.name})
	for si, s := range b.cfg.Stages {
		for bi := range s.Blocks {
			stride := 1
			if bi == 0 {
				stride = s.Stride
			}
			name := fmt.Sprintf("stage%d.block%d", si+1, bi+1)
			if x, err = b.block(name, x, stride); err != nil {
				return err
			}
		}
	}
	pool := b.node("GlobalAveragePool", "pool", x.channels, []string{x.name})
	flat := b.node("Flatten", "flatten", x.channels, []string{pool.name}, intAttr("axis", 1))
	w, bias := "fc.weight", "fc.bias"
	if err := b.initializer(w, classes, flat.channels); err != nil {
		return err
	}
	if err := b.initializer(bias, classes); err != nil {
		return err
	}
	n := &onnxpb.NodeProto{
		OpType: proto.String("Gemm"), Name: proto.String("fc"),
		Input: []string{flat.name, w, bias}, Output: []string{Output},
		Attribute: []*onnxpb.AttributeProto{intAttr("transB", 1)},
	}
	b.graph.Node = append(b.graph.Node, n)
	return nil
}

// block adds a residual block: conv1 → bn1 → ReLU → conv2 → bn2, plus the
// input or its projection (skip.conv → skip.bn), then ReLU of the sum.
func (b *builder) block(name string, x value, stride int) (value, error) {
	y, err := b.convBN(x, name+".conv1", name+".bn1", stride)
	if err != nil {
		return value{}, err
	}
	y = b.node("Relu", name+".relu1", y.channels, []string{y.name})
	if y, err = b.convBN(y, name+".conv2", name+".bn2", 1); err != nil {
		return value{}, err
	}
	skip := x
	if _, ok := b.tensors[name+".skip.conv.weight"]; ok {
		if skip, err = b.convBN(x, name+".skip.conv", name+".skip.bn", stride); err != nil {
			return value{}, err
		}
	} else if stride != 1 || x.channels != y.channels {
		return value{}, fmt.Errorf("the block %s changes the shape (stride %d, %d to %d channels) but has no %s.skip.conv.weight", name, stride, x.channels, y.channels, name)
	}
	sum := b.node("Add", name+".add", y.channels, []string{y.name, skip.name})
	return b.node("Relu", name+".relu", sum.channels, []string{sum.name}), nil
}

// convBN adds a convolution without bias (square kernel, padding that
// keeps the size at stride 1) and its batch norm in inference mode.
func (b *builder) convBN(x value, conv, bn string, stride int) (value, error) {
	w, ok := b.tensors[conv+".weight"]
	if !ok || len(w.Shape) != 4 {
		return value{}, fmt.Errorf("the network needs a 4-dimensional tensor %s.weight", conv)
	}
	cout, r := w.Shape[0], w.Shape[2]
	if err := b.initializer(conv+".weight", cout, x.channels, r, r); err != nil {
		return value{}, err
	}
	pad := int64(r / 2)
	y := b.node("Conv", conv, cout, []string{x.name, conv + ".weight"},
		intsAttr("kernel_shape", int64(r), int64(r)),
		intsAttr("pads", pad, pad, pad, pad),
		intsAttr("strides", int64(stride), int64(stride)))
	inputs := []string{y.name}
	for _, suffix := range []string{".gamma", ".beta", ".running_mean", ".running_var"} {
		if err := b.initializer(bn+suffix, cout); err != nil {
			return value{}, err
		}
		inputs = append(inputs, bn+suffix)
	}
	n := b.node("BatchNormalization", bn, cout, inputs,
		floatAttr("epsilon", float32(b.cfg.BNEpsilon)),
		// ONNX weighs the running value by momentum: 1 - PyTorch's.
		floatAttr("momentum", float32(1-b.cfg.BNMomentum)))
	return n, nil
}

// node appends a node whose single output is named after the node.
func (b *builder) node(op, name string, channels int, inputs []string, attrs ...*onnxpb.AttributeProto) value {
	b.graph.Node = append(b.graph.Node, &onnxpb.NodeProto{
		OpType: proto.String(op), Name: proto.String(name),
		Input: inputs, Output: []string{name}, Attribute: attrs,
	})
	return value{name, channels}
}

// initializer adds the tensor name, which must have the given shape, as a
// float32 initializer.
func (b *builder) initializer(name string, shape ...int) error {
	t, ok := b.tensors[name]
	switch {
	case !ok:
		return fmt.Errorf("the network needs a tensor %s of shape %v", name, shape)
	case !slices.Equal(t.Shape, shape):
		return fmt.Errorf("the tensor %s has shape %v, want %v", name, t.Shape, shape)
	case len(t.Data) != product(shape):
		return fmt.Errorf("the tensor %s has %d values, want %d", name, len(t.Data), product(shape))
	}
	b.used[name] = true
	raw := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	b.graph.Initializer = append(b.graph.Initializer, &onnxpb.TensorProto{
		Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw,
	})
	return nil
}

func product(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// valueInfo describes a float32 tensor of shape BatchDim × dims.
func valueInfo(name string, dims ...int) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: BatchDim}},
	}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape,
		}}},
	}
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func intsAttr(name string, vs ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: vs}
}

func floatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}
