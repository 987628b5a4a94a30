package trainer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
		history.Writer{Dir: cfg.Output.CheckpointDir},
		plot.Writer{Dir: cfg.Output.PlotsDir, Title: cfg.Output.Name},
	}
	if err := s.Train(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"run/last.ckpt", "run/best.ckpt", "run/history.csv", "plots/training.png", "models/tiny.ckpt"} {
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
