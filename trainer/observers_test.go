package trainer_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
	"github.com/cifar-resnet/trainer/trainer/history"
	"github.com/cifar-resnet/trainer/trainer/plot"
)

// TestRunFiles trains with the observers the trainer command uses for
// files: every file a run writes is there, and history.csv holds the
// solver's history.
func TestRunFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := trainer.TinyConfig(dir)
	cfg.Solver.Epochs = 2
	cfg.Output.PlotsDir = filepath.Join(dir, "plots")
	s := trainer.NewTinySolver(t, cfg)
	s.Observers = []trainer.Observer{
		&history.Writer{Dir: cfg.Output.CheckpointDir},
		plot.Writer{Dir: cfg.Output.PlotsDir, Title: cfg.Output.Name},
	}
	if err := s.Train(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"run/last.ckpt", "run/best.ckpt", "run/history.csv", "run/metrics.jsonl", "plots/training.png", "models/tiny.ckpt"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	got, err := history.Read(filepath.Join(dir, "run", history.File))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s.History) {
		t.Errorf("history.csv %+v differs from the solver's history %+v", got, s.History)
	}
	checkMetrics(t, filepath.Join(dir, "run"), got)
}

// checkMetrics checks that metrics.jsonl in dir has one line per epoch of
// h, each a JSON object with h's values.
func checkMetrics(t *testing.T, dir string, h checkpoint.History) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, history.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != h.Len() {
		t.Fatalf("metrics.jsonl has %d lines for %d epochs:\n%s", len(lines), h.Len(), b)
	}
	improved := h.Improved()
	for i, line := range lines {
		var rec struct {
			Epoch    int     `json:"epoch"`
			Loss     float64 `json:"loss"`
			ValLoss  float64 `json:"val_loss"`
			TrainAcc float64 `json:"train_acc"`
			ValAcc   float64 `json:"val_acc"`
			LR       float64 `json:"lr"`
			Seconds  float64 `json:"seconds"`
			Best     bool    `json:"best"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		want := []float64{h.Loss[i], h.ValLoss[i], h.TrainAcc[i], h.ValAcc[i], h.LR[i], h.Seconds[i]}
		got := []float64{rec.Loss, rec.ValLoss, rec.TrainAcc, rec.ValAcc, rec.LR, rec.Seconds}
		if rec.Epoch != i+1 || !reflect.DeepEqual(got, want) || rec.Best != improved[i] {
			t.Errorf("line %d: %+v, want epoch %d, values %v, best %v", i+1, rec, i+1, want, improved[i])
		}
	}
}

// TestMetricsAcrossResume interrupts a run in the middle of an epoch and
// resumes it: metrics.jsonl still has one line per epoch, with the values
// of history.csv, even when the interrupted session left a line too many.
func TestMetricsAcrossResume(t *testing.T) {
	dir := t.TempDir()
	cfg := trainer.TinyConfig(dir)
	cfg.Solver.Epochs = 3
	run := cfg.Output.CheckpointDir
	s := trainer.NewTinySolver(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Observers = []trainer.Observer{&history.Writer{Dir: run}, trainer.CancelAfter(30, cancel)}
	if err := s.Train(ctx, 3); err != trainer.ErrInterrupted {
		t.Fatalf("Train returned %v, want ErrInterrupted", err)
	}
	// A trainer killed after appending a line and before saving last.ckpt
	// leaves a line the checkpoint does not have.
	f, err := os.OpenFile(filepath.Join(run, history.MetricsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"epoch":2,"loss":1}` + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := trainer.NewTinySolver(t, cfg)
	if err := r.Resume(filepath.Join(run, trainer.LastCheckpoint)); err != nil {
		t.Fatal(err)
	}
	r.Observers = []trainer.Observer{&history.Writer{Dir: run}}
	if err := r.Train(context.Background(), 3-r.Epoch); err != nil {
		t.Fatal(err)
	}
	h, err := history.Read(filepath.Join(run, history.File))
	if err != nil {
		t.Fatal(err)
	}
	if h.Len() != 3 {
		t.Fatalf("history.csv has %d epochs", h.Len())
	}
	checkMetrics(t, run, h)
}

// TestCoreDependencies checks that the training loop does not depend on
// presentation: no progress bars, no plotting library.
func TestCoreDependencies(t *testing.T) {
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command to list the dependencies")
		}
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/cheggaaa/pb", "gonum.org/v1/plot", "github.com/cifar-resnet/trainer/trainer/"} {
			if strings.HasPrefix(dep, banned) && dep != "github.com/cifar-resnet/trainer/trainer/rundir" {
				t.Errorf("package trainer depends on %s", dep)
			}
		}
	}
}
