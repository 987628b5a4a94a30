package trainer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/model"
)

// TestEarlyStopRule checks the rule on hand-made accuracies: how many
// epochs in a row did not beat the best improving epoch by min_delta.
func TestEarlyStopRule(t *testing.T) {
	for _, tc := range []struct {
		es     config.EarlyStopping
		valAcc []float64
		stop   bool
	}{
		{config.EarlyStopping{}, []float64{0.5, 0.4, 0.3, 0.2}, false}, // off
		{config.EarlyStopping{Patience: 2}, []float64{0.5, 0.6, 0.6}, false},
		// 0.6 does not beat 0.6, 0.59 neither: two epochs without improvement.
		{config.EarlyStopping{Patience: 2}, []float64{0.5, 0.6, 0.6, 0.59}, true},
		{config.EarlyStopping{Patience: 2}, []float64{0.5, 0.6, 0.6, 0.61}, false},
		// With min_delta 0.05, 0.54 does not count, 0.56 does (against
		// 0.5), then 0.6 does not (against 0.56, not 0.54).
		{config.EarlyStopping{Patience: 2, MinDelta: 0.05}, []float64{0.5, 0.54, 0.56, 0.6}, false},
		{config.EarlyStopping{Patience: 2, MinDelta: 0.05}, []float64{0.5, 0.54, 0.56, 0.6, 0.6}, true},
		{config.EarlyStopping{Patience: 1}, []float64{0.5}, false},
		{config.EarlyStopping{Patience: 1}, []float64{0.5, math.NaN()}, true},
		{config.EarlyStopping{Patience: 3}, nil, false},
	} {
		reason := earlyStop(tc.es, tc.valAcc)
		if (reason != "") != tc.stop {
			t.Errorf("%+v after %v: reason %q, want stop = %v", tc.es, tc.valAcc, reason, tc.stop)
		}
	}
	want := "the validation accuracy has not improved on epoch 3's 56.00% by more than min_delta = 0.05 for 2 epochs (solver.early_stopping.patience = 2)"
	if got := earlyStop(config.EarlyStopping{Patience: 2, MinDelta: 0.05}, []float64{0.5, 0.54, 0.56, 0.6, 0.6}); got != want {
		t.Errorf("reason %q\nwant   %q", got, want)
	}
}

// esConfig is the tiny run with early stopping that no epoch after the
// first can satisfy (min_delta 1: the accuracy would have to rise by 100
// points), so that it stops after epoch 1 + patience whatever it learns.
func esConfig(dir string) config.Config {
	cfg := tinyConfig(dir)
	cfg.Solver.Epochs = 6
	cfg.Solver.EarlyStopping = config.EarlyStopping{Patience: 2, MinDelta: 1}
	return cfg
}

// TestEarlyStopping runs to the stop, then again with a resume after
// epoch 2 and with an interruption in the middle of epoch 3: all stop
// after epoch 3 with the same weights and history, and a stopped run
// resumed trains no more.
func TestEarlyStopping(t *testing.T) {
	dirA := t.TempDir()
	a := newTinySolver(t, esConfig(dirA))
	var log []string
	a.Logf = func(format string, args ...any) { log = append(log, fmt.Sprintf(format, args...)) }
	if err := a.Train(context.Background(), 6); err != nil {
		t.Fatal(err)
	}
	if a.Epoch != 3 || a.History.Len() != 3 || a.Step != 3*20 {
		t.Fatalf("stopped at epoch %d (history %d, step %d), want 3", a.Epoch, a.History.Len(), a.Step)
	}
	wantLog := fmt.Sprintf("early stopping after epoch 3: the validation accuracy has not improved on epoch 1's %.2f%% by more than min_delta = 1 for 2 epochs (solver.early_stopping.patience = 2); the best epoch, %d (validation accuracy %.2f%%), is kept as the model",
		100*a.History.ValAcc[0], a.BestEpoch, 100*a.BestValAcc)
	if len(log) == 0 || log[0] != wantLog {
		t.Errorf("log %q\nwant first %q", log, wantLog)
	}
	if !strings.Contains(strings.Join(log, "\n"), "best model (epoch ") {
		t.Errorf("the best model was not saved: %q", log)
	}
	acc, err := a.Test(a.ValSet, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 100*a.BestValAcc {
		t.Errorf("after the stop the model scores %.2f%%, the best epoch %.2f%%: best weights not restored", acc, 100*a.BestValAcc)
	}
	want := paramsOf(t, filepath.Join(dirA, "run", LastCheckpoint))

	// Resumed after epoch 2, with one epoch without improvement counted.
	dirB := t.TempDir()
	b := newTinySolver(t, esConfig(dirB))
	if err := b.Train(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	c := resumedTiny(t, esConfig(dirB))
	if reason := c.EarlyStop(); reason != "" {
		t.Fatalf("resumed after epoch 2: EarlyStop = %q", reason)
	}
	if err := c.Train(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	if c.Epoch != 3 || !sameHistory(c.History, a.History) {
		t.Errorf("resumed run stopped at epoch %d with history %+v, uninterrupted at 3 with %+v", c.Epoch, c.History, a.History)
	}
	if got := paramsOf(t, filepath.Join(dirB, "run", LastCheckpoint)); !reflect.DeepEqual(got, want) {
		t.Error("the resumed run's last weights differ from the uninterrupted run's")
	}

	// Interrupted in the middle of epoch 3 (batch 50 of 60).
	dirD := t.TempDir()
	d := newTinySolver(t, esConfig(dirD))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Observers = []Observer{&cancelAfter{n: 50, cancel: cancel}}
	if err := d.Train(ctx, 6); err != ErrInterrupted {
		t.Fatalf("Train after cancel returned %v, want ErrInterrupted", err)
	}
	e := resumedTiny(t, esConfig(dirD))
	if err := e.Train(context.Background(), 6-e.Epoch); err != nil {
		t.Fatal(err)
	}
	if e.Epoch != 3 || !sameHistory(e.History, a.History) {
		t.Errorf("run interrupted in epoch 3 stopped at epoch %d, want 3", e.Epoch)
	}

	// A stopped run resumed has nothing to train.
	f := resumedTiny(t, esConfig(dirA))
	if f.EarlyStop() == "" {
		t.Fatal("a stopped run, resumed, does not report its stop")
	}
	if err := f.Train(context.Background(), 3); err != nil || f.Step != 60 {
		t.Errorf("Train of a stopped run: %v, step %d, want nothing trained", err, f.Step)
	}
}

// TestValLoss measures the validation loss after an epoch on a subset of
// the validation images and compares it with the mean cross-entropy
// computed here, image by image, on the same subset.
func TestValLoss(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	cfg.Solver.NumValSamples = 30
	s := newTinySolver(t, cfg)
	if err := s.Train(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// The subset Train measured on: the first 30 of the 80 validation
	// images shuffled by the evaluation source of epoch 0.
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0<<8|2))
	idx := make([]int, s.ValSet.Len())
	for i := range idx {
		idx[i] = i
	}
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	c := model.NewClassifier(s.Model, cfg.Data.Normalize)
	defer c.Close()
	norm := dataset.NewNormalization(cfg.Data.Normalize)
	x := make([]float32, dataset.ImageSize)
	label := make([]int, 1)
	subset, all := 0.0, 0.0
	correct := 0
	for k, i := range idx {
		s.ValSet.Fill(x, label, []int{i}, norm)
		z, err := c.Logits(x)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, v := range z {
			sum += math.Exp(float64(v))
		}
		ce := -math.Log(math.Exp(float64(z[label[0]])) / sum)
		all += ce
		if k < 30 {
			subset += ce
			if model.Argmax(z) == label[0] {
				correct++
			}
		}
	}
	got := s.History.ValLoss[0]
	if want := subset / 30; math.Abs(got-want) > 1e-5*want {
		t.Errorf("validation loss %.9g, computed on the subset %.9g (on all images %.9g)", got, want, all/float64(len(idx)))
	}
	if want := float64(correct) / 30; s.History.ValAcc[0] != want {
		t.Errorf("validation accuracy %v, on the subset %v", s.History.ValAcc[0], want)
	}
}
