package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/onnx/onnxpb"
	"github.com/cifar-resnet/trainer/model/safetensors"
)

// saveCheckpoint writes a checkpoint of the network of the default
// configuration, with weights from seed, and returns its path.
func saveCheckpoint(t *testing.T, dir string, seed int64) (string, *checkpoint.File) {
	t.Helper()
	cfg := config.Default()
	m, err := model.New(cfg.Model, seed)
	if err != nil {
		t.Fatal(err)
	}
	stats := m.StatTensors()
	for _, s := range stats {
		for i := range s.Data {
			s.Data[i] += float32(i) / 7 // running statistics that are not 0 and 1
		}
	}
	f := &checkpoint.File{Config: cfg, Params: m.ParamTensors(), Stats: stats}
	path := filepath.Join(dir, "in.ckpt")
	if err := checkpoint.Save(path, f); err != nil {
		t.Fatal(err)
	}
	return path, f
}

// trainer export then trainer import give back the checkpoint's weights
// and statistics bit for bit, in a checkpoint that trainer's loaders
// accept.
func TestExportImportCommands(t *testing.T) {
	dir := t.TempDir()
	ckpt, f := saveCheckpoint(t, dir, 3)
	st := filepath.Join(dir, "w.safetensors")
	code, out, errOut := runCmd("export", "-checkpoint", ckpt, "-format", "safetensors", "-o", st)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "--arch 16x2/1,32x2/2 --stem 16") {
		t.Errorf("export says %q", out)
	}
	back := filepath.Join(dir, "back.ckpt")
	code, out, errOut = runCmd("import", "-from", st, "-config", "../../config.yaml", "-o", back)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	if want := "wrote " + back + ": 43226 parameters (stem 16; stages 16x2/1,32x2/2) from " + st + "\n"; out != want {
		t.Errorf("import says %q, want %q", out, want)
	}
	g, err := checkpoint.Load(back)
	if err != nil {
		t.Fatal(err)
	}
	for i, pair := range [][2][]checkpoint.Tensor{{f.Params, g.Params}, {f.Stats, g.Stats}} {
		a, b := pair[0], pair[1]
		if len(a) != len(b) {
			t.Fatalf("list %d: %d tensors, want %d", i, len(b), len(a))
		}
		for j := range a {
			for k := range a[j].Data {
				if math.Float32bits(a[j].Data[k]) != math.Float32bits(b[j].Data[k]) || a[j].Name != b[j].Name {
					t.Fatalf("%s[%d] = %v, want %v", b[j].Name, k, b[j].Data[k], a[j].Data[k])
				}
			}
		}
	}
	if _, err := model.Load(back); err != nil {
		t.Errorf("model.Load of the imported checkpoint: %v", err)
	}
}

// The format follows from the extension of -o when -format is left out.
func TestExportONNXCommand(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := saveCheckpoint(t, dir, 4)
	path := filepath.Join(dir, "net.onnx")
	code, out, errOut := runCmd("export", "-checkpoint", ckpt, "-o", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `input "images" float32 N×3×32×32`) || !strings.Contains(out, "mean [0.5 0.5 0.5], std [0.5 0.5 0.5]") {
		t.Errorf("export says %q", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.GetGraph().GetOutput()[0].GetName() != "logits" {
		t.Errorf("output %v", m.GetGraph().GetOutput())
	}
}

func TestInteropUsage(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := saveCheckpoint(t, dir, 5)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "-o", "x.onnx"}, "-checkpoint and -o are required"},
		{[]string{"export", "-checkpoint", ckpt, "-o", filepath.Join(dir, "x.bin")}, "-format onnx or safetensors is required"},
		{[]string{"export", "-checkpoint", ckpt, "-format", "tflite", "-o", filepath.Join(dir, "x.bin")}, `-format must be onnx or safetensors, got "tflite"`},
		{[]string{"import", "-from", "x.safetensors"}, "-from and -o are required"},
	} {
		code, _, errOut := runCmd(c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, errOut, exitUsage, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.bin")); err == nil {
		t.Error("a usage error wrote a file")
	}
}

// An import that fails names the tensor and writes nothing: a new output
// is not created, an existing one is left as it was.
func TestImportErrorWritesNothing(t *testing.T) {
	dir := t.TempDir()
	ckpt, f := saveCheckpoint(t, dir, 6)
	var buf bytes.Buffer
	if err := model.ExportSafetensors(&buf, f); err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var kept []safetensors.Tensor
	for _, x := range st.Tensors {
		if x.Name != "blocks.1.c2.weight" {
			kept = append(kept, x)
		}
	}
	st.Tensors = kept
	b, err := safetensors.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.ckpt")
	code, _, errOut := runCmd("import", "-from", bad, "-config", "../../config.yaml", "-o", fresh)
	if code != exitError || !strings.Contains(errOut, "missing tensor blocks.1.c2.weight (F32 [16 16 3 3])") {
		t.Errorf("exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("a failed import created its output")
	}
	before, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCmd("import", "-from", bad, "-config", "../../config.yaml", "-o", ckpt); code != exitError {
		t.Errorf("exit %d", code)
	}
	after, _ := os.ReadFile(ckpt)
	if !bytes.Equal(before, after) {
		t.Error("a failed import changed the existing output")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the folder holds %d files, want 2 (no temporary left)", len(entries))
	}
	// A checkpoint given as the weights to import.
	code, _, errOut = runCmd("import", "-from", ckpt, "-config", "../../config.yaml", "-o", fresh)
	if code != exitError || !strings.Contains(errOut, "not a safetensors file") {
		t.Errorf("importing a checkpoint: exit %d, %q", code, errOut)
	}
}
