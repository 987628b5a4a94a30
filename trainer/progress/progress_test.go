package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cifar-resnet/trainer/trainer"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) add(seconds float64) {
	c.t = c.t.Add(time.Duration(seconds * float64(time.Second)))
}

func epochEnd(epoch int, best bool) *trainer.EpochEnd {
	return &trainer.EpochEnd{Epoch: epoch, Epochs: 2, Loss: 1.23456, ValLoss: 1.5, TrainAcc: 0.5125, ValAcc: 0.4875,
		LR: 0.0123456, Seconds: 100.04, Best: best}
}

// batch reports batch done of 100, one second per batch, 128 images each.
func batch(epoch, done int) trainer.BatchProgress {
	return trainer.BatchProgress{Epoch: epoch, Epochs: 2, Done: done, Steps: 100, AvgLoss: 2 - float64(done)/100,
		Seconds: float64(done), ImagesPerSec: 128}
}

func TestLine(t *testing.T) {
	want := "epoch 1/2  loss 1.2346  val loss 1.5000  train acc 51.25%  val acc 48.75%  lr 0.012346  100.0s *"
	if got := Line(epochEnd(1, true)); got != want {
		t.Errorf("Line = %q\nwant   %q", got, want)
	}
	if got := Line(epochEnd(1, false)); got != strings.TrimSuffix(want, " *") {
		t.Errorf("Line without a new best = %q", got)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 1499 * time.Millisecond: "1s", 59 * time.Second: "59s", 60 * time.Second: "1m00s",
		3599 * time.Second: "59m59s", 3600 * time.Second: "1h00m", 100 * time.Hour: "100h00m", -1: "?",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestPlain plays two epochs of 100 one-second batches, each followed by
// a 10-second evaluation, and checks every line printed.
func TestPlain(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	p := &Plain{W: &out, Now: clock.now}
	for epoch := 1; epoch <= 2; epoch++ {
		p.StartEpoch(trainer.EpochStart{Epoch: epoch, Epochs: 2, Steps: 100, BatchSize: 128})
		for done := 1; done <= 100; done++ {
			clock.add(1)
			p.Batch(batch(epoch, done))
		}
		clock.add(10)
		if err := p.EndEpoch(epochEnd(epoch, epoch == 1)); err != nil {
			t.Fatal(err)
		}
	}
	p.Logf("note %d", 7)
	// Epoch 1 knows no evaluation time yet; epoch 2 counts 10 s for it.
	want := `2026-11-30 14:00:00 * marks a new best validation accuracy: those weights are saved as best.ckpt and kept as the model
2026-11-30 14:00:30 epoch 1/2  batch 30/100  loss 1.7000  128 img/s  ETA epoch 1m10s, run 2m50s
2026-11-30 14:01:00 epoch 1/2  batch 60/100  loss 1.4000  128 img/s  ETA epoch 40s, run 2m20s
2026-11-30 14:01:30 epoch 1/2  batch 90/100  loss 1.1000  128 img/s  ETA epoch 10s, run 1m50s
2026-11-30 14:01:50 epoch 1/2  loss 1.2346  val loss 1.5000  train acc 51.25%  val acc 48.75%  lr 0.012346  100.0s *
2026-11-30 14:02:20 epoch 2/2  batch 30/100  loss 1.7000  128 img/s  ETA epoch 1m10s, run 1m20s
2026-11-30 14:02:50 epoch 2/2  batch 60/100  loss 1.4000  128 img/s  ETA epoch 40s, run 50s
2026-11-30 14:03:20 epoch 2/2  batch 90/100  loss 1.1000  128 img/s  ETA epoch 10s, run 20s
2026-11-30 14:03:40 epoch 2/2  loss 1.2346  val loss 1.5000  train acc 51.25%  val acc 48.75%  lr 0.012346  100.0s
2026-11-30 14:03:40 note 7
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// TestBars draws an epoch of 4 one-second batches in 60 columns, then a
// 2-second evaluation, and checks the bytes: the legend, bars of exactly
// 60 columns redrawn in place (the run's time left counts the next epoch
// too), then the bars erased and replaced by the epoch's line.
func TestBars(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	b := &Bars{W: &out, Width: 60, Now: clock.now}
	b.StartEpoch(trainer.EpochStart{Epoch: 1, Epochs: 2, Steps: 4, BatchSize: 128})
	for done := 1; done <= 4; done++ {
		clock.add(1)
		b.Batch(trainer.BatchProgress{Epoch: 1, Epochs: 2, Done: done, Steps: 4, AvgLoss: 2, Seconds: float64(done), ImagesPerSec: 128})
	}
	clock.add(2)
	if err := b.EndEpoch(epochEnd(1, true)); err != nil {
		t.Fatal(err)
	}
	const up, clear = "\033[2A", "\033[K\n"
	want := Legend + "\n" +
		"\repoch 1/2 [>............................]  loss -  ETA run ?" + clear +
		"\rbatch 0/4 [>.........................]  - img/s  ETA epoch ?" + clear +
		up + "\repoch 1/2 [>......................]  loss 2.0000  ETA run 7s" + clear +
		"\rbatch 1/4 [=====>.................]  128 img/s  ETA epoch 3s" + clear +
		up + "\repoch 1/2 [>......................]  loss 2.0000  ETA run 6s" + clear +
		"\rbatch 2/4 [===========>...........]  128 img/s  ETA epoch 2s" + clear +
		up + "\repoch 1/2 [>......................]  loss 2.0000  ETA run 5s" + clear +
		"\rbatch 3/4 [=================>.....]  128 img/s  ETA epoch 1s" + clear +
		up + "\repoch 1/2 [>......................]  loss 2.0000  ETA run 4s" + clear +
		"\rbatch 4/4 [=======================]  128 img/s  ETA epoch 0s" + clear +
		up + "\r\033[J" + Line(epochEnd(1, true)) + "\n"
	if got := out.String(); got != want {
		t.Errorf("output:\n%q\nwant:\n%q", got, want)
	}
}
