package trainer

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// colourSet makes n images whose class is their colour: class k has a
// fixed (r, g, b) with per-pixel noise of ±40, so a small network can learn
// it quickly but not trivially.
func colourSet(n int, seed uint64) *dataset.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	colours := [10][3]int{{200, 40, 40}, {40, 200, 40}, {40, 40, 200}, {200, 200, 40}, {200, 40, 200},
		{40, 200, 200}, {120, 120, 120}, {230, 230, 230}, {20, 20, 20}, {200, 120, 40}}
	s := &dataset.Set{Pixels: make([]byte, n*dataset.ImageSize), Labels: make([]uint8, n)}
	for i := range n {
		k := i % 10
		s.Labels[i] = uint8(k)
		img := s.Pixels[i*dataset.ImageSize : (i+1)*dataset.ImageSize]
		for c := range 3 {
			for p := range 1024 {
				v := colours[k][c] + rng.IntN(81) - 40
				img[c*1024+p] = byte(min(255, max(0, v)))
			}
		}
	}
	return s
}

// tinyConfig is a small network and a short run writing into dir.
func tinyConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.Model.StemChannels = 4
	cfg.Model.Stages = []config.Stage{{Channels: 4, Blocks: 1, Stride: 1}, {Channels: 8, Blocks: 1, Stride: 2}}
	cfg.Solver.BatchSize = 16
	cfg.Solver.Epochs = 4
	cfg.Solver.NumTrainSamples = 64
	cfg.Solver.NumValSamples = 0
	cfg.Solver.Optimizer.LR = 0.05
	cfg.Solver.Scheduler.Name = "onecycle"
	cfg.Data.Augment = config.Augment{CropPadding: 2, HorizontalFlip: true}
	cfg.Output = config.Output{Name: "tiny", CheckpointDir: filepath.Join(dir, "run"), ModelsDir: filepath.Join(dir, "models")}
	cfg.Seed = 3
	return cfg
}

func newTinySolver(t *testing.T, cfg config.Config) *Solver {
	t.Helper()
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSolver(cfg, m, colourSet(320, 1), colourSet(80, 2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSolverLearns(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(dir)
	s := newTinySolver(t, cfg)
	if err := s.Train(context.Background(), cfg.Solver.Epochs); err != nil {
		t.Fatal(err)
	}
	h := s.History
	if h.Len() != 4 || s.Epoch != 4 || s.Step != 4*20 {
		t.Fatalf("after 4 epochs: history length %d, epoch %d, step %d; want 4, 4, 80", h.Len(), s.Epoch, s.Step)
	}
	if h.Loss[3] >= h.Loss[0] {
		t.Errorf("loss did not fall: %v", h.Loss)
	}
	if s.BestValAcc < 0.6 {
		t.Errorf("best validation accuracy %.3f, want ≥ 0.6 (chance is 0.1); history %v", s.BestValAcc, h.ValAcc)
	}
	// The best parameters are back in the model: measuring the whole
	// validation set again gives exactly the best recorded accuracy.
	acc, err := s.Test(s.ValSet, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 100*s.BestValAcc {
		t.Errorf("validation accuracy after training %.4f%%, best recorded %.4f%% (epoch %d)", acc, 100*s.BestValAcc, s.BestEpoch)
	}
	for _, name := range []string{"run/last.ckpt", "run/best.ckpt", "models/tiny.ckpt"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	// The saved model predicts as the solver's model does.
	c, err := model.Load(filepath.Join(dir, "models", "tiny.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	correct, n, err := Evaluate(c, s.ValSet, dataset.NewNormalization(cfg.Data.Normalize), 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if 100*float64(correct)/float64(n) != acc {
		t.Errorf("the saved model scores %d/%d, the solver %.2f%%", correct, n, acc)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(dir)
	s := newTinySolver(t, cfg)
	if err := s.Train(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	want := s.State()
	path := filepath.Join(dir, "x.ckpt")
	if err := checkpoint.Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("checkpoint does not round-trip exactly")
	}
}

// trainedOneEpoch trains the network of tinyConfig for one epoch in a new
// folder dir, returning dir, the configuration and the path of the run's
// last checkpoint, for a test to resume.
func trainedOneEpoch(t *testing.T) (dir string, cfg config.Config, last string) {
	t.Helper()
	dir = t.TempDir()
	cfg = tinyConfig(dir)
	if err := newTinySolver(t, cfg).Train(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	return dir, cfg, filepath.Join(dir, "run", LastCheckpoint)
}

// resumedTiny returns a new solver of cfg resumed from the last
// checkpoint in cfg's checkpoint folder.
func resumedTiny(t *testing.T, cfg config.Config) *Solver {
	t.Helper()
	s := newTinySolver(t, cfg)
	if err := s.Resume(filepath.Join(cfg.Output.CheckpointDir, LastCheckpoint)); err != nil {
		t.Fatal(err)
	}
	return s
}

// paramsOf reads the parameters stored in a checkpoint.
func paramsOf(t *testing.T, path string) []checkpoint.Tensor {
	t.Helper()
	f, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f.Params
}

// cancelAfter cancels a context after a number of batches.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) StartEpoch(EpochStart) {}
func (c *cancelAfter) Batch(BatchProgress) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
}
func (c *cancelAfter) EndEpoch(*EpochEnd) error { return nil }

func TestResumeEqualsUninterrupted(t *testing.T) {
	dirA := t.TempDir()
	a := newTinySolver(t, tinyConfig(dirA))
	if err := a.Train(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	want := paramsOf(t, filepath.Join(dirA, "run", LastCheckpoint))

	// Stop after 2 epochs, then resume in a new solver.
	dirB := t.TempDir()
	b := newTinySolver(t, tinyConfig(dirB))
	if err := b.Train(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	c := resumedTiny(t, tinyConfig(dirB))
	if err := c.Train(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if got := paramsOf(t, filepath.Join(dirB, "run", LastCheckpoint)); !reflect.DeepEqual(got, want) {
		t.Error("resuming after epoch 2 gives other parameters than training 4 epochs at once")
	}
	if !sameHistory(c.History, a.History) {
		t.Errorf("histories differ:\nresumed       %+v\nuninterrupted %+v", c.History, a.History)
	}

	// Interrupt in the middle of epoch 3 (batch 50 of 80), then resume.
	dirD := t.TempDir()
	d := newTinySolver(t, tinyConfig(dirD))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Observers = []Observer{&cancelAfter{n: 50, cancel: cancel}}
	if err := d.Train(ctx, 4); err != ErrInterrupted {
		t.Fatalf("Train after cancel returned %v, want ErrInterrupted", err)
	}
	e := resumedTiny(t, tinyConfig(dirD))
	if e.Epoch != 2 || e.Step != 50 {
		t.Fatalf("resumed at epoch %d step %d, want 2, 50", e.Epoch, e.Step)
	}
	if err := e.Train(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if got := paramsOf(t, filepath.Join(dirD, "run", LastCheckpoint)); !reflect.DeepEqual(got, want) {
		t.Error("resuming in the middle of an epoch gives other parameters than training at once")
	}
	if e.History.Len() != 4 || e.History.Loss[2] != a.History.Loss[2] {
		t.Errorf("interrupted epoch's average loss %v, uninterrupted %v", e.History.Loss, a.History.Loss)
	}
}

// TestResumeAdamExact interrupts Adam and AdamW runs in the middle of an
// epoch and resumes them: the parameters and the optimizer state must be
// those of an uninterrupted run. Adam's bias correction depends on the
// optimizer's step count, so a checkpoint that lost it would diverge.
func TestResumeAdamExact(t *testing.T) {
	for _, name := range []string{"adam", "adamw"} {
		t.Run(name, func(t *testing.T) {
			cfg := func(dir string) config.Config {
				c := tinyConfig(dir)
				c.Solver.Epochs = 2
				c.Solver.Optimizer.Name = name
				c.Solver.Optimizer.LR = 0.01
				c.Solver.Optimizer.Nesterov = false
				return c
			}
			dirA := t.TempDir()
			a := newTinySolver(t, cfg(dirA))
			if err := a.Train(context.Background(), 2); err != nil {
				t.Fatal(err)
			}
			want, err := checkpoint.Load(filepath.Join(dirA, "run", LastCheckpoint))
			if err != nil {
				t.Fatal(err)
			}

			dirB := t.TempDir()
			b := newTinySolver(t, cfg(dirB))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.Observers = []Observer{&cancelAfter{n: 27, cancel: cancel}}
			if err := b.Train(ctx, 2); err != ErrInterrupted {
				t.Fatalf("Train after cancel returned %v, want ErrInterrupted", err)
			}
			last := filepath.Join(dirB, "run", LastCheckpoint)
			saved, err := checkpoint.Load(last)
			if err != nil {
				t.Fatal(err)
			}
			if saved.Optimizer.Step != 27 || saved.Step != 27 {
				t.Fatalf("checkpoint after 27 batches: optimizer step %d, run step %d", saved.Optimizer.Step, saved.Step)
			}
			c := newTinySolver(t, cfg(dirB))
			if err := c.Resume(last); err != nil {
				t.Fatal(err)
			}
			if err := c.Train(context.Background(), 2-c.Epoch); err != nil {
				t.Fatal(err)
			}
			got, err := checkpoint.Load(last)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Params, want.Params) {
				t.Error("the resumed run's parameters differ from the uninterrupted run's")
			}
			if !reflect.DeepEqual(got.Optimizer, want.Optimizer) {
				t.Errorf("optimizer state: resumed step %d, uninterrupted %d (or the moments differ)", got.Optimizer.Step, want.Optimizer.Step)
			}
		})
	}
}

// TestInterruptSaveFailure makes the save on interruption fail (last.ckpt
// is a folder that cannot be replaced): Train must not report a saved
// state.
func TestInterruptSaveFailure(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(dir)
	blocker := filepath.Join(cfg.Output.CheckpointDir, LastCheckpoint)
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := newTinySolver(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Observers = []Observer{&cancelAfter{n: 3, cancel: cancel}}
	err := s.Train(ctx, 1)
	if err == nil || errors.Is(err, ErrInterrupted) {
		t.Fatalf("Train with an unwritable last.ckpt returned %v, want a save error that is not ErrInterrupted", err)
	}
	for _, want := range []string{"interrupted at epoch 1, batch 3", "could not be saved", blocker} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestOutputsCheckedFirst gives unusable output folders: Train must fail
// before training, naming the key.
func TestOutputsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"output.checkpoint_dir", "output.plots_dir", "output.models_dir"} {
		t.Run(key, func(t *testing.T) {
			cfg := tinyConfig(t.TempDir())
			bad := filepath.Join(file, "sub")
			switch key {
			case "output.checkpoint_dir":
				cfg.Output.CheckpointDir = bad
			case "output.plots_dir":
				cfg.Output.PlotsDir = bad
			case "output.models_dir":
				cfg.Output.ModelsDir = bad
			}
			s := newTinySolver(t, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s.Observers = []Observer{&cancelAfter{n: 1, cancel: cancel}}
			err := s.Train(ctx, 1)
			if err == nil || !strings.Contains(err.Error(), key+": ") {
				t.Fatalf("Train returned %v, want an error naming %s", err, key)
			}
			if s.Step != 0 {
				t.Errorf("%d batches trained before the error", s.Step)
			}
		})
	}
}

// sameHistory compares two histories except for the wall-clock times.
func sameHistory(a, b checkpoint.History) bool {
	a.Seconds, b.Seconds = nil, nil
	return reflect.DeepEqual(a, b)
}

// TestNonFiniteLossKeepsCheckpoint resumes a run with an absurd learning
// rate: the loss overflows, training stops with a message that says so,
// and the last good checkpoint is left as it was.
func TestNonFiniteLossKeepsCheckpoint(t *testing.T) {
	_, cfg, last := trainedOneEpoch(t)
	before, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Solver.Optimizer.LR = 1e30
	cfg.Solver.Scheduler.Name = "none"
	b := newTinySolver(t, cfg)
	b.AllowScheduleChange = true
	if err := b.Resume(last); err != nil {
		t.Fatal(err)
	}
	err = b.Train(context.Background(), 3)
	if err == nil || !strings.Contains(err.Error(), "the loss became") || !strings.Contains(err.Error(), "lr") {
		t.Fatalf("Train with lr 1e30 returned %v, want a non-finite loss error", err)
	}
	after, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("last.ckpt changed after a non-finite loss")
	}
}

// TestResumeWrongArchitecture refuses a checkpoint of another network and
// leaves the solver untouched: first through the configuration, then, for
// a checkpoint whose stored configuration was made to match, through the
// tensors' shapes.
func TestResumeWrongArchitecture(t *testing.T) {
	_, cfg, last := trainedOneEpoch(t)
	other := cfg
	other.Model.Stages = []config.Stage{{Channels: 4, Blocks: 1, Stride: 1}, {Channels: 6, Blocks: 1, Stride: 2}}
	b := newTinySolver(t, other)
	before := b.Model.ParamTensors()
	err := b.Resume(last)
	if err == nil || !strings.Contains(err.Error(), "model.stages[1].channels: 8 -> 6") {
		t.Fatalf("Resume of another architecture returned %v", err)
	}
	f, err := checkpoint.Load(last)
	if err != nil {
		t.Fatal(err)
	}
	f.Config = other
	err = b.Restore(f)
	if err == nil || !strings.Contains(err.Error(), "architecture") || !strings.Contains(err.Error(), "stage2.block1.conv1.weight") {
		t.Fatalf("Restore of another architecture's tensors returned %v", err)
	}
	if !reflect.DeepEqual(b.Model.ParamTensors(), before) || b.Epoch != 0 {
		t.Error("a refused checkpoint changed the solver")
	}
}

// TestResumeRefusesChanges resumes a run with each kind of change of its
// configuration: those that change the run's meaning are refused, with
// every difference listed; a change of the schedule passes only when
// allowed, and is then recorded in the checkpoints; where the run writes
// and how much it measures may change freely.
func TestResumeRefusesChanges(t *testing.T) {
	dir, _, last := trainedOneEpoch(t)
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		want   []string // substrings of the error; none: accepted
	}{
		{"data split seed", func(c *config.Config) { c.Data.Seed = 7 }, []string{"data.seed: 0 -> 7"}},
		{"validation size", func(c *config.Config) { c.Data.ValSize = 500 }, []string{"data.val_size: 1000 -> 500"}},
		{"normalization", func(c *config.Config) { c.Data.Normalize.Std = []float64{0.25, 0.5, 0.5} }, []string{"data.normalize.std"}},
		{"augmentation", func(c *config.Config) { c.Data.Augment.HorizontalFlip = false }, []string{"data.augment.horizontal_flip: true -> false"}},
		{"optimizer", func(c *config.Config) {
			c.Solver.Optimizer.Name, c.Solver.Optimizer.Nesterov = "adam", false
		}, []string{`solver.optimizer.name: "sgd" -> "adam"`, "solver.optimizer.nesterov: true -> false"}},
		{"weight decay", func(c *config.Config) { c.Solver.Optimizer.WeightDecay = 0 }, []string{"solver.optimizer.weight_decay"}},
		{"batch size", func(c *config.Config) { c.Solver.BatchSize = 32 }, []string{"solver.batch_size: 16 -> 32"}},
		{"distillation", func(c *config.Config) {
			c.Solver.Distillation = config.Distillation{Teachers: []string{"t.ckpt"}, Weight: 0.5, Temperature: 2}
		}, []string{"solver.distillation.teachers"}},
		{"seed", func(c *config.Config) { c.Seed = 4 }, []string{"seed: 3 -> 4"}},
		{"epochs", func(c *config.Config) { c.Solver.Epochs = 8 }, []string{"solver.epochs: 4 -> 8", "-allow-schedule-change"}},
		{"schedule", func(c *config.Config) { c.Solver.Scheduler.PctStart = 0.5 }, []string{"solver.scheduler.pct_start: 0.25 -> 0.5", "-allow-schedule-change"}},
		{"output and evaluation subsets", func(c *config.Config) {
			c.Output.ModelsDir = filepath.Join(dir, "elsewhere")
			c.Solver.NumTrainSamples, c.Solver.NumValSamples = 32, 40
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig(dir)
			tc.change(&c)
			if tc.name == "distillation" {
				// NewSolver would load the teacher; compare only.
				s := &Solver{Config: c}
				f, err := checkpoint.Load(last)
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.compareConfig(f)
				if err == nil || !strings.Contains(err.Error(), tc.want[0]) {
					t.Fatalf("compareConfig returned %v, want %q", err, tc.want[0])
				}
				return
			}
			s := newTinySolver(t, c)
			err := s.Resume(last)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Resume refused a free change: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Resume accepted the change")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if s.Epoch != 0 {
				t.Error("a refused resume changed the solver")
			}
		})
	}

	// Allowed, a change of the epochs is recorded and kept across saves.
	c := tinyConfig(dir)
	c.Solver.Epochs = 5
	s := newTinySolver(t, c)
	s.AllowScheduleChange = true
	if err := s.Resume(last); err != nil {
		t.Fatal(err)
	}
	if err := s.Train(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Load(last)
	if err != nil {
		t.Fatal(err)
	}
	want := []checkpoint.Amendment{{Epoch: 1, Step: 20, Path: "solver.epochs", Old: "4", New: "5"}}
	if !reflect.DeepEqual(f.Amendments, want) || f.Config.Solver.Epochs != 5 {
		t.Errorf("amendments after an allowed change: %+v (epochs %d), want %+v", f.Amendments, f.Config.Solver.Epochs, want)
	}
}
