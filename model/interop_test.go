package model_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/onnx/onnxpb"
	"github.com/cifar-resnet/trainer/model/safetensors"
	"github.com/cifar-resnet/trainer/model/statedict"
)

// randomTensors returns copies of ts with random values, among them
// negative zeros and subnormal numbers, and running variances > 0.
func randomTensors(ts []checkpoint.Tensor, rng *rand.Rand) []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(ts))
	for i, t := range ts {
		d := make([]float32, len(t.Data))
		for j := range d {
			switch j % 7 {
			case 3:
				d[j] = float32(math.Copysign(0, -1))
			case 5:
				d[j] = math.Float32frombits(uint32(1 + rng.IntN(1<<20))) // subnormal
			default:
				d[j] = float32(rng.NormFloat64())
			}
			if strings.HasSuffix(t.Name, ".running_var") {
				d[j] = float32(0.1 + rng.Float64())
			}
		}
		out[i] = checkpoint.Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: d}
	}
	return out
}

// trainedFile returns a checkpoint of cfg's network as a run leaves it
// after 3 epochs of 5 batches and 2 batches of the fourth, whose best copy
// (after epoch 2) differs from its current weights.
func trainedFile(t *testing.T, cfg config.Config) *checkpoint.File {
	t.Helper()
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	return &checkpoint.File{
		Config: cfg, Epoch: 3, Step: 17, Partial: checkpoint.Partial{Batches: 2},
		Params: randomTensors(m.ParamTensors(), rng), Stats: randomTensors(m.StatTensors(), rng),
		BestParams: randomTensors(m.ParamTensors(), rng), BestStats: randomTensors(m.StatTensors(), rng),
		BestEpoch: 2, BestValAcc: 0.625,
		History: checkpoint.History{Loss: []float64{3, 2, 1}, TrainAcc: []float64{0, 0, 0}, ValAcc: []float64{0.5, 0.625, 0.5}, LR: []float64{1, 1, 1}, Seconds: []float64{1, 1, 1}},
	}
}

// sameBits reports whether two lists of tensors have the same names,
// shapes and bit patterns.
func sameBits(a, b []checkpoint.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !reflect.DeepEqual(a[i].Shape, b[i].Shape) || len(a[i].Data) != len(b[i].Data) {
			return false
		}
		for j := range a[i].Data {
			if math.Float32bits(a[i].Data[j]) != math.Float32bits(b[i].Data[j]) {
				return false
			}
		}
	}
	return true
}

// checkpoint → safetensors → checkpoint gives bit-identical weights and
// statistics: the best copy, which Load uses, and the imported checkpoint
// survives a save and a load.
func TestSafetensorsRoundTrip(t *testing.T) {
	for _, cfg := range []config.Config{config.Default(), bestLikeConfig()} {
		f := trainedFile(t, cfg)
		var buf bytes.Buffer
		if err := model.ExportSafetensors(&buf, f); err != nil {
			t.Fatal(err)
		}
		g, err := model.ImportSafetensors(bytes.NewReader(buf.Bytes()), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(g.Params, f.BestParams) || !sameBits(g.Stats, f.BestStats) {
			t.Errorf("%s: the imported weights differ from the exported ones", model.TorchArch(cfg.Model))
		}
		if g.Epoch != 0 || g.Step != 0 || len(g.BestParams) != 0 || !reflect.DeepEqual(g.Config, cfg) {
			t.Errorf("imported checkpoint: epoch %d, step %d, %d best params, config %+v", g.Epoch, g.Step, len(g.BestParams), g.Config)
		}
		var enc bytes.Buffer
		if err := checkpoint.Encode(&enc, g); err != nil {
			t.Fatal(err)
		}
		h, err := checkpoint.Decode(&enc)
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(h.Params, f.BestParams) || !sameBits(h.Stats, f.BestStats) {
			t.Error("the imported checkpoint changed through a save and a load")
		}
	}
}

// bestLikeConfig is the architecture of models/best.ckpt: a last stage at
// stride 1 that widens, with a projection.
func bestLikeConfig() config.Config {
	cfg := config.Default()
	cfg.Model.Stages = []config.Stage{{Channels: 16, Blocks: 2, Stride: 1}, {Channels: 24, Blocks: 2, Stride: 2}, {Channels: 32, Blocks: 1, Stride: 1}}
	return cfg
}

func TestExportSafetensorsContents(t *testing.T) {
	f := trainedFile(t, config.Default())
	var buf bytes.Buffer
	if err := model.ExportSafetensors(&buf, f); err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"format": "pt", "arch": "16x2/1,32x2/2", "stem": "16", "bn_epsilon": "1e-05", "bn_momentum": "0.1",
		"normalize_mean": "0.5,0.5,0.5", "normalize_std": "0.5,0.5,0.5",
		"classes": "airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck",
	}
	if !reflect.DeepEqual(st.Metadata, want) {
		t.Errorf("metadata %v\nwant %v", st.Metadata, want)
	}
	if len(st.Tensors) != 62 || st.Tensors[0].Name != "stem.0.weight" || st.Tensors[61].Name != "fc.bias" {
		t.Fatalf("%d tensors from %s to %s", len(st.Tensors), st.Tensors[0].Name, st.Tensors[len(st.Tensors)-1].Name)
	}
	// The best copy was taken after epoch 2 of 5 batches each.
	n, err := st.Tensors[5].Int64s()
	if err != nil || st.Tensors[5].Name != "stem.1.num_batches_tracked" || n[0] != 10 {
		t.Errorf("%s = %v, %v; want 10", st.Tensors[5].Name, n, err)
	}
	// Without a best copy, the current weights and all the steps.
	f.BestParams, f.BestStats, f.BestEpoch = nil, nil, 0
	buf.Reset()
	if err := model.ExportSafetensors(&buf, f); err != nil {
		t.Fatal(err)
	}
	if st, err = safetensors.Decode(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	n, _ = st.Tensors[5].Int64s()
	w, _ := st.Tensors[0].Float32s()
	if n[0] != 17 || !reflect.DeepEqual(w, f.Params[0].Data) {
		t.Errorf("without a best copy: num_batches_tracked %d (want 17), stem weights from the current parameters: %v", n[0], reflect.DeepEqual(w, f.Params[0].Data))
	}
}

// A file saved by PyTorch has no metadata: the names and shapes decide.
// A file that says it is of another network is refused even where the
// shapes agree.
func TestImportSafetensorsChecks(t *testing.T) {
	cfg := config.Default()
	f := trainedFile(t, cfg)
	sd, err := statedict.Export(f.Params, f.Stats, 3)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := safetensors.Encode(&safetensors.File{Tensors: sd})
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.ImportSafetensors(bytes.NewReader(plain), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(g.Params, f.Params) {
		t.Error("weights of a file without metadata differ")
	}

	var exported bytes.Buffer
	if err := model.ExportSafetensors(&exported, f); err != nil {
		t.Fatal(err)
	}
	strideOne := cfg // same tensors, another network
	strideOne.Model.Stages = []config.Stage{{Channels: 16, Blocks: 2, Stride: 1}, {Channels: 32, Blocks: 2, Stride: 1}}
	otherNorm := cfg
	otherNorm.Data.Normalize.Std = []float64{0.25, 0.25, 0.25}
	wider := cfg
	wider.Model.StemChannels = 8
	for _, c := range []struct {
		name string
		cfg  config.Config
		data []byte
		want string
	}{
		{"stride", strideOne, exported.Bytes(), "the file's metadata says arch 16x2/1,32x2/2, the configuration 16x2/1,32x2/1"},
		{"normalisation", otherNorm, exported.Bytes(), "normalize_std 0.5,0.5,0.5, the configuration 0.25,0.25,0.25"},
		{"shapes", wider, plain, "tensor stem.0.weight has shape [16 3 3 3], want [8 3 3 3]"},
		{"not safetensors", cfg, []byte("\x89RNCKPT\n...."), "model: safetensors:"},
		{"invalid configuration", config.Config{}, plain, "model: config:"},
	} {
		_, err := model.ImportSafetensors(bytes.NewReader(c.data), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// The ONNX export takes the weights Load uses and describes its input.
func TestExportONNXContents(t *testing.T) {
	f := trainedFile(t, config.Default())
	var buf bytes.Buffer
	if err := model.ExportONNX(&buf, f); err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	for _, p := range m.MetadataProps {
		meta[p.GetKey()] = p.GetValue()
	}
	if meta["epoch"] != "3" || meta["val_acc"] != "0.625" || meta["arch"] != "16x2/1,32x2/2" || meta["normalize_mean"] != "0.5,0.5,0.5" {
		t.Errorf("metadata %v", meta)
	}
	for _, want := range []string{"(p/255 - mean[c]) / std[c] with mean [0.5,0.5,0.5] and std [0.5,0.5,0.5]", "43226 learnable parameters", `Input "images": float32 N x 3 x 32 x 32`, "airplane, automobile"} {
		if !strings.Contains(m.GetDocString(), want) {
			t.Errorf("doc string %q lacks %q", m.GetDocString(), want)
		}
	}
	init := m.Graph.Initializer[0]
	if init.GetName() != "stem.conv.weight" || !bytes.Equal(init.GetRawData(), safetensors.Float32("", nil, f.BestParams[0].Data).Data) {
		t.Errorf("first initializer %s does not hold the best copy of stem.conv.weight", init.GetName())
	}
	// A checkpoint whose weights do not fit its configuration.
	f.BestParams = f.BestParams[1:]
	if err := model.ExportONNX(&buf, f); err == nil {
		t.Error("no error for a checkpoint without stem.conv.weight")
	}
}

func TestTorchArch(t *testing.T) {
	if got := model.TorchArch(bestLikeConfig().Model); got != "16x2/1,24x2/2,32x1/1" {
		t.Errorf("TorchArch = %q", got)
	}
}
