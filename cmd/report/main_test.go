package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
)

func TestTable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "experiments")
	run1 := filepath.Join(dir, "r1")
	if err := os.MkdirAll(run1, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Solver.Epochs = 3
	yml, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(run1, "config.yaml"), yml, 0o644)
	os.WriteFile(filepath.Join(run1, "note.txt"), []byte("  learned\nsomething \n"), 0o644)
	h := checkpoint.History{
		Loss: []float64{2, 1.5}, TrainAcc: []float64{0.3, 0.5}, ValAcc: []float64{0.4, 0.35},
		LR: []float64{0.1, 0.05}, Seconds: []float64{60, 60},
	}
	if err := trainer.WriteHistory(filepath.Join(run1, trainer.HistoryFile), h); err != nil {
		t.Fatal(err)
	}
	// A run that has not finished an epoch has no history yet.
	run2 := filepath.Join(dir, "r2")
	if err := os.MkdirAll(run2, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Data.ValSize = 5000
	cfg.Model.ZeroInitResidual = true
	cfg.Solver.LabelSmoothing = 0.1
	cfg.Solver.Distillation.Teachers = []string{"experiments/t01/best.ckpt"}
	if yml, err = cfg.Marshal(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(run2, "config.yaml"), yml, 0o644)
	rows, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	table := markdown(rows)
	for _, want := range []string{
		"| r1 | stem 16; 16×2, 32×2/2 | 43226 | sgd+nesterov 0.9 lr 0.1, wd 0.0005, onecycle, batch 128 | crop 4 + flip | 2 of 3 | 2 min | 1000 | 40.00% (1) | learned something |",
		"| r2 | stem 16; 16×2, 32×2/2; residual γ from 0 | 43226 | sgd+nesterov 0.9 lr 0.1, wd 0.0005, onecycle, batch 128, smoothing 0.1, distilled from t01 (weight 0.9, T 4) | crop 4 + flip | 0 of 3 | 0 min | 5000 | – |  |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks\n%s\ngot\n%s", want, table)
		}
	}
}
