package statedict_test

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/safetensors"
	"github.com/cifar-resnet/trainer/model/statedict"
)

// referenceKeys is the state_dict of torch_ref.py's ResNet for the
// reference network (--arch 16x2,32x2), keys and shapes in order, as
// PyTorch 1.13 lists them.
var referenceKeys = []struct {
	key   string
	shape []int
}{
	{"stem.0.weight", []int{16, 3, 3, 3}}, {"stem.1.weight", []int{16}}, {"stem.1.bias", []int{16}}, {"stem.1.running_mean", []int{16}}, {"stem.1.running_var", []int{16}}, {"stem.1.num_batches_tracked", []int{}},
	{"blocks.0.c1.weight", []int{16, 16, 3, 3}}, {"blocks.0.b1.weight", []int{16}}, {"blocks.0.b1.bias", []int{16}}, {"blocks.0.b1.running_mean", []int{16}}, {"blocks.0.b1.running_var", []int{16}}, {"blocks.0.b1.num_batches_tracked", []int{}},
	{"blocks.0.c2.weight", []int{16, 16, 3, 3}}, {"blocks.0.b2.weight", []int{16}}, {"blocks.0.b2.bias", []int{16}}, {"blocks.0.b2.running_mean", []int{16}}, {"blocks.0.b2.running_var", []int{16}}, {"blocks.0.b2.num_batches_tracked", []int{}},
	{"blocks.1.c1.weight", []int{16, 16, 3, 3}}, {"blocks.1.b1.weight", []int{16}}, {"blocks.1.b1.bias", []int{16}}, {"blocks.1.b1.running_mean", []int{16}}, {"blocks.1.b1.running_var", []int{16}}, {"blocks.1.b1.num_batches_tracked", []int{}},
	{"blocks.1.c2.weight", []int{16, 16, 3, 3}}, {"blocks.1.b2.weight", []int{16}}, {"blocks.1.b2.bias", []int{16}}, {"blocks.1.b2.running_mean", []int{16}}, {"blocks.1.b2.running_var", []int{16}}, {"blocks.1.b2.num_batches_tracked", []int{}},
	{"blocks.2.c1.weight", []int{32, 16, 3, 3}}, {"blocks.2.b1.weight", []int{32}}, {"blocks.2.b1.bias", []int{32}}, {"blocks.2.b1.running_mean", []int{32}}, {"blocks.2.b1.running_var", []int{32}}, {"blocks.2.b1.num_batches_tracked", []int{}},
	{"blocks.2.c2.weight", []int{32, 32, 3, 3}}, {"blocks.2.b2.weight", []int{32}}, {"blocks.2.b2.bias", []int{32}}, {"blocks.2.b2.running_mean", []int{32}}, {"blocks.2.b2.running_var", []int{32}}, {"blocks.2.b2.num_batches_tracked", []int{}},
	{"blocks.2.sc.0.weight", []int{32, 16, 1, 1}}, {"blocks.2.sc.1.weight", []int{32}}, {"blocks.2.sc.1.bias", []int{32}}, {"blocks.2.sc.1.running_mean", []int{32}}, {"blocks.2.sc.1.running_var", []int{32}}, {"blocks.2.sc.1.num_batches_tracked", []int{}},
	{"blocks.3.c1.weight", []int{32, 32, 3, 3}}, {"blocks.3.b1.weight", []int{32}}, {"blocks.3.b1.bias", []int{32}}, {"blocks.3.b1.running_mean", []int{32}}, {"blocks.3.b1.running_var", []int{32}}, {"blocks.3.b1.num_batches_tracked", []int{}},
	{"blocks.3.c2.weight", []int{32, 32, 3, 3}}, {"blocks.3.b2.weight", []int{32}}, {"blocks.3.b2.bias", []int{32}}, {"blocks.3.b2.running_mean", []int{32}}, {"blocks.3.b2.running_var", []int{32}}, {"blocks.3.b2.num_batches_tracked", []int{}},
	{"fc.weight", []int{10, 32}}, {"fc.bias", []int{10}},
}

// reference returns the tensors of the reference network, with distinct
// values everywhere.
func reference(t *testing.T) (params, stats []checkpoint.Tensor) {
	t.Helper()
	m, err := model.New(config.Default().Model, 1)
	if err != nil {
		t.Fatal(err)
	}
	params, stats = m.ParamTensors(), m.StatTensors()
	v := float32(0)
	for _, ts := range [][]checkpoint.Tensor{params, stats} {
		for _, t := range ts {
			for i := range t.Data {
				v += 0.001
				t.Data[i] = v
			}
		}
	}
	return params, stats
}

func TestExportReferenceNetwork(t *testing.T) {
	params, stats := reference(t)
	sd, err := statedict.Export(params, stats, 4321)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd) != len(referenceKeys) {
		t.Fatalf("%d tensors, want %d", len(sd), len(referenceKeys))
	}
	for i, w := range referenceKeys {
		if sd[i].Name != w.key || !reflect.DeepEqual(sd[i].Shape, w.shape) {
			t.Errorf("tensor %d is %s %v, want %s %v", i, sd[i].Name, sd[i].Shape, w.key, w.shape)
		}
	}
	keys, err := statedict.Keys(params, stats)
	if err != nil || len(keys) != len(referenceKeys) || keys[42] != "blocks.2.sc.0.weight" {
		t.Errorf("Keys = %v, %v", keys, err)
	}
	// Values are copied as they are: the projection's batch norm β and
	// running variance, and a counter.
	get := func(name string) checkpoint.Tensor {
		for _, ts := range [][]checkpoint.Tensor{params, stats} {
			for _, x := range ts {
				if x.Name == name {
					return x
				}
			}
		}
		t.Fatalf("no tensor %s", name)
		return checkpoint.Tensor{}
	}
	for _, c := range []struct{ torch, ours string }{
		{"blocks.2.sc.1.bias", "stage2.block1.skip.bn.beta"},
		{"blocks.2.sc.1.running_var", "stage2.block1.skip.bn.running_var"},
		{"blocks.3.c1.weight", "stage2.block2.conv1.weight"},
		{"stem.1.weight", "stem.bn.gamma"},
		{"fc.weight", "fc.weight"},
	} {
		var st safetensors.Tensor
		for _, x := range sd {
			if x.Name == c.torch {
				st = x
			}
		}
		got, err := st.Float32s()
		if err != nil || !reflect.DeepEqual(got, get(c.ours).Data) {
			t.Errorf("%s = %v, %v; want the values of %s", c.torch, got, err, c.ours)
		}
	}
	n, err := sd[5].Int64s()
	if err != nil || sd[5].Name != "stem.1.num_batches_tracked" || n[0] != 4321 {
		t.Errorf("%s = %v, %v; want 4321", sd[5].Name, n, err)
	}
}

// Import inverts Export exactly, and returns copies: the templates are
// left alone.
func TestImportRoundTrip(t *testing.T) {
	params, stats := reference(t)
	sd, err := statedict.Export(params, stats, 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(config.Default().Model, 2)
	if err != nil {
		t.Fatal(err)
	}
	tmplP, tmplS := m.ParamTensors(), m.StatTensors()
	before := tmplP[0].Data[0]
	p, s, err := statedict.Import(tmplP, tmplS, sd)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, params) || !reflect.DeepEqual(s, stats) {
		t.Error("Import(Export(x)) differs from x")
	}
	if tmplP[0].Data[0] != before {
		t.Error("Import changed its templates")
	}
}

// Every tensor that is missing, extra, mis-shaped, of the wrong type or
// with unusable values is named, all at once.
func TestImportErrors(t *testing.T) {
	params, stats := reference(t)
	edit := func(f func(sd []safetensors.Tensor) []safetensors.Tensor) []safetensors.Tensor {
		sd, err := statedict.Export(params, stats, 7)
		if err != nil {
			t.Fatal(err)
		}
		return f(sd)
	}
	without := func(name string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(sd []safetensors.Tensor) []safetensors.Tensor {
			var out []safetensors.Tensor
			for _, x := range sd {
				if x.Name != name {
					out = append(out, x)
				}
			}
			return out
		}
	}
	replace := func(x safetensors.Tensor) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(sd []safetensors.Tensor) []safetensors.Tensor {
			for i := range sd {
				if sd[i].Name == x.Name {
					sd[i] = x
				}
			}
			return sd
		}
	}
	nan := float32(math.NaN())
	negVar := make([]float32, 16)
	negVar[9] = -0.5
	for _, c := range []struct {
		name string
		sd   []safetensors.Tensor
		want []string
	}{
		{"missing", edit(without("blocks.2.sc.0.weight")), []string{"missing tensor blocks.2.sc.0.weight (F32 [32 16 1 1])"}},
		{"missing counter", edit(without("blocks.3.b2.num_batches_tracked")), []string{"missing tensor blocks.3.b2.num_batches_tracked (I64 [])"}},
		{"extra", edit(func(sd []safetensors.Tensor) []safetensors.Tensor {
			return append(sd, safetensors.Float32("blocks.4.c1.weight", []int{1}, []float32{1}))
		}), []string{"unexpected tensor blocks.4.c1.weight (F32 [1])"}},
		{"shape", edit(replace(safetensors.Float32("fc.weight", []int{32, 10}, make([]float32, 320)))), []string{"tensor fc.weight has shape [32 10], want [10 32]"}},
		{"dtype", edit(replace(safetensors.Tensor{Name: "fc.bias", DType: safetensors.F16, Shape: []int{10}, Data: make([]byte, 20)})), []string{"tensor fc.bias is F16, want F32"}},
		{"counter dtype", edit(replace(safetensors.Float32("stem.1.num_batches_tracked", []int{}, []float32{1}))), []string{"tensor stem.1.num_batches_tracked is F32, want I64"}},
		{"negative counter", edit(replace(safetensors.Int64("stem.1.num_batches_tracked", []int{}, []int64{-1}))), []string{"tensor stem.1.num_batches_tracked is -1"}},
		{"NaN", edit(replace(safetensors.Float32("fc.bias", []int{10}, []float32{0, 0, 0, nan, 0, 0, 0, 0, 0, 0}))), []string{"tensor fc.bias holds NaN at index 3"}},
		{"negative variance", edit(replace(safetensors.Float32("stem.1.running_var", []int{16}, negVar))), []string{"tensor stem.1.running_var holds the negative variance -0.5 at index 9"}},
		{"all at once", edit(func(sd []safetensors.Tensor) []safetensors.Tensor {
			sd = without("stem.0.weight")(sd)
			return append(sd, safetensors.Float32("extra", []int{2}, []float32{1, 2}))
		}), []string{"missing tensor stem.0.weight", "unexpected tensor extra"}},
	} {
		p, s, err := statedict.Import(params, stats, c.sd)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if p != nil || s != nil {
			t.Errorf("%s: tensors returned with the error", c.name)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
}

// Names the mapping does not know are errors, not guesses.
func TestUnknownNames(t *testing.T) {
	for _, name := range []string{"stem.conv.kernel", "head.weight", "stage1.block1.conv3.weight", "weight"} {
		_, err := statedict.Export([]checkpoint.Tensor{{Name: name, Shape: []int{1}, Data: []float32{1}}}, nil, 0)
		if err == nil || !strings.Contains(err.Error(), "no PyTorch name for the tensor") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A batch norm without its statistics, and statistics without a
	// batch norm.
	bn := []checkpoint.Tensor{{Name: "stem.bn.gamma", Shape: []int{1}, Data: []float32{1}}, {Name: "stem.bn.beta", Shape: []int{1}, Data: []float32{1}}}
	if _, err := statedict.Export(bn, nil, 0); err == nil || !strings.Contains(err.Error(), "stem.bn has 0 running statistics") {
		t.Errorf("batch norm without statistics: %v", err)
	}
	st := []checkpoint.Tensor{{Name: "fc.running_mean", Shape: []int{1}, Data: []float32{0}}}
	if _, err := statedict.Export(nil, st, 0); err == nil || !strings.Contains(err.Error(), "fc.running_mean belongs to no batch norm") {
		t.Errorf("statistics without a batch norm: %v", err)
	}
}
