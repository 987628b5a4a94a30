package trainer

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// saveInit writes a checkpoint of cfg's network with weights from seed
// and running statistics that are not 0 and 1, and returns its path and
// the model.
func saveInit(t *testing.T, dir string, cfg config.Config, seed int64) (string, *model.Model) {
	t.Helper()
	m, err := model.New(cfg.Model, seed)
	if err != nil {
		t.Fatal(err)
	}
	stats := m.StatTensors()
	for _, s := range stats {
		for i := range s.Data {
			s.Data[i] += 0.25 + float32(i)/16
		}
	}
	if err := m.SetStats(stats); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "init.ckpt")
	if err := checkpoint.Save(path, &checkpoint.File{Config: cfg, Params: m.ParamTensors(), Stats: m.StatTensors()}); err != nil {
		t.Fatal(err)
	}
	return path, m
}

// sameTensors reports whether a and b hold the same bits.
func sameTensors(a, b []checkpoint.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		for j := range a[i].Data {
			if math.Float32bits(a[i].Data[j]) != math.Float32bits(b[i].Data[j]) {
				return false
			}
		}
	}
	return true
}

// A run with model.init_from trains exactly as one whose model was given
// those weights and statistics before the first batch.
func TestInitFromStartsFromTheCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(filepath.Join(dir, "a"))
	cfg.Solver.Epochs = 1
	path, init := saveInit(t, dir, cfg, 99)

	withInit := cfg
	withInit.Model.InitFrom = path
	a := newTinySolver(t, withInit)
	var logs []string
	a.Logf = func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }
	if err := a.Train(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if len(logs) == 0 || logs[0] != "initial weights from "+path+" (epoch 0, validation accuracy 0.00%)" {
		t.Errorf("logs %q", logs)
	}

	by := tinyConfig(filepath.Join(dir, "b"))
	by.Solver.Epochs = 1
	b := newTinySolver(t, by)
	if err := b.Model.SetParams(init.ParamTensors()); err != nil {
		t.Fatal(err)
	}
	if err := b.Model.SetStats(init.StatTensors()); err != nil {
		t.Fatal(err)
	}
	if err := b.Train(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if !sameTensors(a.Model.ParamTensors(), b.Model.ParamTensors()) || !sameTensors(a.Model.StatTensors(), b.Model.StatTensors()) {
		t.Error("the run with model.init_from differs from the run given the same weights by hand")
	}
	// And a run from random weights differs.
	c := newTinySolver(t, tinyConfig(filepath.Join(dir, "c")))
	if err := c.Train(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if sameTensors(a.Model.ParamTensors(), c.Model.ParamTensors()) {
		t.Error("the run with model.init_from equals the run from random weights")
	}
}

// A resumed run continues from its checkpoint and does not read
// model.init_from, which may be gone by then.
func TestInitFromNotReadOnResume(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(dir)
	cfg.Solver.Epochs = 2
	path, _ := saveInit(t, dir, cfg, 98)
	cfg.Model.InitFrom = path
	a := newTinySolver(t, cfg)
	if err := a.Train(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	b := resumedTiny(t, cfg)
	if err := b.Train(context.Background(), 1); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
}

func TestInitFromErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(dir)
	other := cfg
	other.Model.Stages = []config.Stage{{Channels: 4, Blocks: 1, Stride: 1}, {Channels: 6, Blocks: 1, Stride: 2}}
	wrongArch, _ := saveInit(t, filepath.Join(dir, "arch"), other, 1)
	norm := cfg
	norm.Data.Normalize.Mean = []float64{0.4, 0.5, 0.6}
	wrongNorm, _ := saveInit(t, filepath.Join(dir, "norm"), norm, 1)
	for _, c := range []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing.ckpt"), "trainer: model.init_from: checkpoint: open"},
		{wrongArch, "model: parameters do not fit this architecture"},
		{wrongNorm, "was trained with data.normalize mean [0.4 0.5 0.6], std [0.5 0.5 0.5], not this configuration's mean [0.5 0.5 0.5]"},
	} {
		cfg := cfg
		cfg.Model.InitFrom = c.path
		s := newTinySolver(t, cfg)
		before := s.Model.ParamTensors()
		err := s.Train(context.Background(), 1)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "model.init_from") {
			t.Errorf("%s: error %v, want %q", c.path, err, c.want)
		}
		if !sameTensors(before, s.Model.ParamTensors()) || s.Step != 0 {
			t.Errorf("%s: the failed start changed the model or trained", c.path)
		}
	}
}
