package onnx_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/onnx"
	"github.com/cifar-resnet/trainer/model/onnx/onnxpb"
)

// randomModel returns a model of cfg whose parameters and batch norm
// statistics are all random, so that every tensor matters.
func randomModel(t *testing.T, cfg config.Model, seed uint64) *model.Model {
	t.Helper()
	m, err := model.New(cfg, int64(seed))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	params, stats := m.ParamTensors(), m.StatTensors()
	for _, p := range params {
		if strings.HasSuffix(p.Name, ".gamma") || strings.HasSuffix(p.Name, ".beta") {
			for i := range p.Data {
				p.Data[i] = float32(0.5 + rng.Float64())
			}
		}
	}
	for _, s := range stats {
		for i := range s.Data {
			if strings.HasSuffix(s.Name, ".running_var") {
				s.Data[i] = float32(0.5 + rng.Float64())
			} else {
				s.Data[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
	}
	if err := m.SetParams(params); err != nil {
		t.Fatal(err)
	}
	if err := m.SetStats(stats); err != nil {
		t.Fatal(err)
	}
	return m
}

// tensor is a float64 array with its shape, for the evaluator.
type tensor struct {
	shape []int
	data  []float64
}

// run evaluates an ONNX graph made of the operators Export uses, in
// float64, with the semantics the ONNX operator documentation gives them:
// an implementation independent of the model package.
func run(t *testing.T, m *onnxpb.ModelProto, images []float32, n int) []float64 {
	t.Helper()
	vals := map[string]tensor{}
	for _, init := range m.Graph.Initializer {
		if init.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
			t.Fatalf("initializer %s has type %d", init.GetName(), init.GetDataType())
		}
		raw := init.GetRawData()
		d := make([]float64, len(raw)/4)
		for i := range d {
			d[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
		shape := make([]int, len(init.Dims))
		for i, v := range init.Dims {
			shape[i] = int(v)
		}
		vals[init.GetName()] = tensor{shape, d}
	}
	x := make([]float64, len(images))
	for i, v := range images {
		x[i] = float64(v)
	}
	vals[onnx.Input] = tensor{[]int{n, 3, 32, 32}, x}
	for _, node := range m.Graph.Node {
		in := make([]tensor, len(node.Input))
		for i, name := range node.Input {
			v, ok := vals[name]
			if !ok {
				t.Fatalf("node %s reads %s before it is computed", node.GetName(), name)
			}
			in[i] = v
		}
		attrs := map[string]*onnxpb.AttributeProto{}
		for _, a := range node.Attribute {
			attrs[a.GetName()] = a
		}
		var out tensor
		switch node.GetOpType() {
		case "Conv":
			out = conv(in[0], in[1], attrs["strides"].Ints, attrs["pads"].Ints, attrs["kernel_shape"].Ints)
		case "BatchNormalization":
			out = batchNorm(in, float64(attrs["epsilon"].GetF()))
		case "Relu":
			out = tensor{in[0].shape, make([]float64, len(in[0].data))}
			for i, v := range in[0].data {
				out.data[i] = math.Max(v, 0)
			}
		case "Add":
			if !slices.Equal(in[0].shape, in[1].shape) {
				t.Fatalf("Add %s of shapes %v and %v", node.GetName(), in[0].shape, in[1].shape)
			}
			out = tensor{in[0].shape, make([]float64, len(in[0].data))}
			for i := range out.data {
				out.data[i] = in[0].data[i] + in[1].data[i]
			}
		case "GlobalAveragePool":
			s := in[0].shape
			hw := s[2] * s[3]
			out = tensor{[]int{s[0], s[1], 1, 1}, make([]float64, s[0]*s[1])}
			for i := range out.data {
				for _, v := range in[0].data[i*hw : (i+1)*hw] {
					out.data[i] += v / float64(hw)
				}
			}
		case "Flatten":
			if attrs["axis"].GetI() != 1 {
				t.Fatalf("Flatten axis %d", attrs["axis"].GetI())
			}
			s := in[0].shape
			out = tensor{[]int{s[0], len(in[0].data) / s[0]}, in[0].data}
		case "Gemm":
			if attrs["transB"].GetI() != 1 {
				t.Fatal("Gemm without transB")
			}
			a, w, b := in[0], in[1], in[2]
			rows, k, cols := a.shape[0], a.shape[1], w.shape[0]
			out = tensor{[]int{rows, cols}, make([]float64, rows*cols)}
			for r := range rows {
				for c := range cols {
					s := b.data[c]
					for j := range k {
						s += a.data[r*k+j] * w.data[c*k+j]
					}
					out.data[r*cols+c] = s
				}
			}
		default:
			t.Fatalf("unexpected operator %s", node.GetOpType())
		}
		vals[node.Output[0]] = out
	}
	y := vals[onnx.Output]
	if !slices.Equal(y.shape, []int{n, 10}) {
		t.Fatalf("logits of shape %v", y.shape)
	}
	return y.data
}

func conv(x, w tensor, strides, pads, kernel []int64) tensor {
	n, cin, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	cout, r := w.shape[0], int(kernel[0])
	s, pt, pl := int(strides[0]), int(pads[0]), int(pads[1])
	oh, ow := (h+int(pads[0])+int(pads[2])-r)/s+1, (wd+int(pads[1])+int(pads[3])-r)/s+1
	out := tensor{[]int{n, cout, oh, ow}, make([]float64, n*cout*oh*ow)}
	for b := range n {
		for o := range cout {
			for y := range oh {
				for xo := range ow {
					var sum float64
					for c := range cin {
						for ky := range r {
							iy := y*s + ky - pt
							if iy < 0 || iy >= h {
								continue
							}
							for kx := range r {
								ix := xo*s + kx - pl
								if ix < 0 || ix >= wd {
									continue
								}
								sum += x.data[((b*cin+c)*h+iy)*wd+ix] * w.data[((o*cin+c)*r+ky)*r+kx]
							}
						}
					}
					out.data[((b*cout+o)*oh+y)*ow+xo] = sum
				}
			}
		}
	}
	return out
}

func batchNorm(in []tensor, eps float64) tensor {
	x, scale, bias, mean, variance := in[0], in[1], in[2], in[3], in[4]
	c, hw := x.shape[1], x.shape[2]*x.shape[3]
	out := tensor{x.shape, make([]float64, len(x.data))}
	for i, v := range x.data {
		ch := i / hw % c
		out.data[i] = (v-mean.data[ch])/math.Sqrt(variance.data[ch]+eps)*scale.data[ch] + bias.data[ch]
	}
	return out
}

// The exported graph computes the logits of the Go network, for networks
// with identity skips, strided projections and a projection at stride 1
// (a stage that only widens).
func TestExportComputesTheLogits(t *testing.T) {
	ref := config.Default().Model
	widen := ref
	widen.StemChannels = 8
	widen.Stages = []config.Stage{{Channels: 12, Blocks: 1, Stride: 1}, {Channels: 16, Blocks: 2, Stride: 2}, {Channels: 20, Blocks: 1, Stride: 1}}
	for i, cfg := range []config.Model{ref, widen} {
		m := randomModel(t, cfg, uint64(i+1))
		b, err := onnx.Export(cfg, m.ParamTensors(), m.StatTensors(), onnx.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var mp onnxpb.ModelProto
		if err := proto.Unmarshal(b, &mp); err != nil {
			t.Fatal(err)
		}
		const n = 2
		rng := rand.New(rand.NewPCG(9, 9))
		images := make([]float32, n*dataset.ImageSize)
		for i := range images {
			images[i] = float32(2*rng.Float64() - 1)
		}
		got := run(t, &mp, images, n)
		c := model.NewClassifier(m, config.Default().Data.Normalize)
		want, err := c.Logits(images)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := range want {
			worst = math.Max(worst, math.Abs(got[i]-float64(want[i])))
		}
		if worst > 1e-4 {
			t.Errorf("network %d: the ONNX graph's logits differ from the model's by up to %g\n got %v\nwant %v", i, worst, got, want)
		}
	}
}

// The model's fixed fields: versions, input, output and metadata.
func TestExportModelFields(t *testing.T) {
	cfg := config.Default().Model
	m := randomModel(t, cfg, 3)
	b, err := onnx.Export(cfg, m.ParamTensors(), m.StatTensors(), onnx.Options{
		ProducerName: "trainer", ProducerVersion: "1", DocString: "doc",
		Metadata: map[string]string{"z": "last", "a": "first"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		t.Fatal(err)
	}
	if mp.GetIrVersion() != 7 || len(mp.OpsetImport) != 1 || mp.OpsetImport[0].GetVersion() != 13 || mp.OpsetImport[0].GetDomain() != "" {
		t.Errorf("IR %d, opsets %v; want IR 7, opset 13 of the default domain", mp.GetIrVersion(), mp.OpsetImport)
	}
	if mp.GetProducerName() != "trainer" || mp.GetProducerVersion() != "1" || mp.GetDocString() != "doc" {
		t.Errorf("producer %q %q, doc %q", mp.GetProducerName(), mp.GetProducerVersion(), mp.GetDocString())
	}
	if len(mp.MetadataProps) != 2 || mp.MetadataProps[0].GetKey() != "a" || mp.MetadataProps[1].GetValue() != "last" {
		t.Errorf("metadata %v, want a then z", mp.MetadataProps)
	}
	dims := func(v *onnxpb.ValueInfoProto) string {
		var ds []string
		for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
			if d.GetDimParam() != "" {
				ds = append(ds, d.GetDimParam())
			} else {
				ds = append(ds, fmt.Sprint(d.GetDimValue()))
			}
		}
		return v.GetName() + " " + strings.Join(ds, "×")
	}
	g := mp.Graph
	if len(g.Input) != 1 || dims(g.Input[0]) != "images N×3×32×32" || g.Input[0].GetType().GetTensorType().GetElemType() != int32(onnxpb.TensorProto_FLOAT) {
		t.Errorf("inputs %v, want images N×3×32×32 float", g.Input)
	}
	if len(g.Output) != 1 || dims(g.Output[0]) != "logits N×10" {
		t.Errorf("outputs %v, want logits N×10", g.Output)
	}
	// One initializer per parameter and statistic; 10 convolutions (the
	// stem, 2 per block, the projection of stage2.block1), each with its
	// batch norm; a ReLU after the stem and 2 per block.
	if want := len(m.Params) + len(m.BNs)*2; len(g.Initializer) != want {
		t.Errorf("%d initializers, want %d", len(g.Initializer), want)
	}
	ops := map[string]int{}
	for _, n := range g.Node {
		ops[n.GetOpType()]++
	}
	want := map[string]int{"Conv": 10, "BatchNormalization": 10, "Relu": 9, "Add": 4, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
	if fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Errorf("operators %v, want %v", ops, want)
	}
	// Deterministic bytes.
	again, _ := onnx.Export(cfg, m.ParamTensors(), m.StatTensors(), onnx.Options{
		ProducerName: "trainer", ProducerVersion: "1", DocString: "doc",
		Metadata: map[string]string{"a": "first", "z": "last"},
	})
	if string(again) != string(b) {
		t.Error("two exports of the same model differ")
	}
}

// Tensors that do not fit the network are errors that name them.
func TestExportErrors(t *testing.T) {
	cfg := config.Default().Model
	m := randomModel(t, cfg, 4)
	drop := func(ts []checkpoint.Tensor, name string) []checkpoint.Tensor {
		return slices.DeleteFunc(slices.Clone(ts), func(x checkpoint.Tensor) bool { return x.Name == name })
	}
	reshape := func(ts []checkpoint.Tensor, name string, shape ...int) []checkpoint.Tensor {
		ts = slices.Clone(ts)
		for i := range ts {
			if ts[i].Name == name {
				ts[i].Shape = shape
			}
		}
		return ts
	}
	params, stats := m.ParamTensors(), m.StatTensors()
	other := cfg
	other.Stages = []config.Stage{{Channels: 16, Blocks: 1, Stride: 1}, {Channels: 32, Blocks: 2, Stride: 2}}
	for _, c := range []struct {
		name          string
		cfg           config.Model
		params, stats []checkpoint.Tensor
		want          string
	}{
		{"missing weight", cfg, drop(params, "stage2.block2.conv1.weight"), stats, "needs a 4-dimensional tensor stage2.block2.conv1.weight"},
		{"missing statistic", cfg, params, drop(stats, "stem.bn.running_var"), "needs a tensor stem.bn.running_var of shape [16]"},
		{"missing projection", cfg, drop(params, "stage2.block1.skip.conv.weight"), stats, "stage2.block1 changes the shape (stride 2, 16 to 32 channels) but has no stage2.block1.skip.conv.weight"},
		{"mis-shaped", cfg, reshape(params, "fc.bias", 11), stats, "fc.bias has shape [11], want [10]"},
		{"wrong input channels", cfg, reshape(params, "stage1.block2.conv1.weight", 16, 8, 3, 3), stats, "stage1.block2.conv1.weight has shape [16 8 3 3], want [16 16 3 3]"},
		{"left over", other, params, stats, "is not part of the network (stem 16; 16x1/1, 32x2/2)"},
		{"duplicate", cfg, append(slices.Clone(params), params[0]), stats, "two tensors are named stem.conv.weight"},
	} {
		_, err := onnx.Export(c.cfg, c.params, c.stats, onnx.Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "onnx: ") {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
