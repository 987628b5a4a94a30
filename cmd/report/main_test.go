package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer/history"
)

// makeRuns writes two runs under dir: r1 with two epochs of history and a
// note, r2 (with other settings) before its first epoch.
func makeRuns(t *testing.T, dir string) {
	t.Helper()
	run1 := filepath.Join(dir, "r1")
	cfg := config.Default()
	cfg.Solver.Epochs = 3
	cfg.Output.Name = "r1"
	yml, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(run1, "config.yaml"), yml)
	writeFile(t, filepath.Join(run1, "note.txt"), []byte("  learned\nsomething \n"))
	h := checkpoint.History{
		Loss: []float64{2, 1.5}, ValLoss: []float64{2.1, 1.7}, TrainAcc: []float64{0.3, 0.5}, ValAcc: []float64{0.4, 0.35},
		LR: []float64{0.1, 0.05}, Seconds: []float64{60, 60},
	}
	if err := history.Write(filepath.Join(run1, history.File), h); err != nil {
		t.Fatal(err)
	}
	// A run that has not finished an epoch has no history yet.
	run2 := filepath.Join(dir, "r2")
	cfg.Output.Name = "r2"
	cfg.Data.ValSize = 5000
	cfg.Model.ZeroInitResidual = true
	cfg.Solver.LabelSmoothing = 0.1
	cfg.Solver.Distillation.Teachers = []string{"experiments/t01/best.ckpt"}
	if yml, err = cfg.Marshal(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(run2, "config.yaml"), yml)
}

// writeFile writes data to path, creating its directory, or fails the test.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "experiments")
	makeRuns(t, dir)
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

// TestReadme checks that -readme rewrites only the README's table, draws the
// plot of every run that has finished an epoch (a run that has not is
// skipped, not an error) and the best model's plot.
func TestReadme(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	makeRuns(t, "experiments")
	readme := "# Title\n\n<!-- accuracy:begin -->\nold table\n<!-- accuracy:end -->\n\nAfter.\n"
	writeFile(t, "README.md", []byte(readme))
	best, err := os.ReadFile(filepath.Join("experiments", "r1", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join("models", "best.yaml"), best)
	var out strings.Builder
	if err := run([]string{"-readme"}, &out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "# Title\n\n<!-- accuracy:begin -->\n") || !strings.HasSuffix(string(got), "<!-- accuracy:end -->\n\nAfter.\n") ||
		strings.Contains(string(got), "old table") || !strings.Contains(string(got), "| r1 |") || !strings.Contains(string(got), "| r2 |") {
		t.Errorf("README.md after -readme:\n%s", got)
	}
	for path, want := range map[string]bool{
		filepath.Join("experiments", "r1", "training.png"): true,
		filepath.Join("experiments", "r2", "training.png"): false,
		filepath.Join("models", "training.png"):            true,
	} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", path, err == nil, want)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := exitCode(run([]string{"-h"}, &out), &errOut); code != 0 || errOut.Len() != 0 {
		t.Errorf("-h: exit %d, printed %q", code, errOut.String())
	}
	if code := exitCode(run([]string{"-nosuchflag"}, &out), &errOut); code != 1 || !strings.HasPrefix(errOut.String(), "report: ") {
		t.Errorf("-nosuchflag: exit %d, printed %q", code, errOut.String())
	}
}

// TestLeaderboard writes the experiments' leaderboard with the sweeps'
// code: ranked by accuracy, the run without an epoch last.
func TestLeaderboard(t *testing.T) {
	dir := t.TempDir()
	makeRuns(t, filepath.Join(dir, "experiments"))
	var out strings.Builder
	if err := run([]string{"-dir", filepath.Join(dir, "experiments"), "-leaderboard", filepath.Join(dir, "board")}, &out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "board", "leaderboard.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "rank,trial,state,overrides,params,epochs,best_val_acc,best_epoch,final_loss,wall_seconds\n1,r1,,,43226,2,40,1,1.5,120.000\n2,r2,,,43226,0,,,,0.000\n"
	if string(got) != want {
		t.Errorf("leaderboard.csv:\n%s\nwant\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "board", "validation.png")); err != nil {
		t.Error(err)
	}
}
