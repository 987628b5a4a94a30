// Package progress shows a training run as it goes: progress bars on a
// terminal (Bars), or one line per epoch for logs and pipes (Lines). Both
// are trainer.BatchObservers.
package progress

import (
	"fmt"
	"io"
	"time"

	"github.com/cheggaaa/pb/v3"

	"github.com/cifar-resnet/trainer/trainer"
)

// Line formats a finished epoch as the one line printed per epoch.
func Line(e *trainer.EpochEnd) string {
	mark := ""
	if e.Best {
		mark = " *"
	}
	return fmt.Sprintf("epoch %d/%d  loss %.4f  train acc %.2f%%  val acc %.2f%%  lr %.5g  %.1fs%s",
		e.Epoch, e.Epochs, e.Loss, 100*e.TrainAcc, 100*e.ValAcc, e.LR, e.Seconds, mark)
}

// Lines reports one plain line per epoch: for logs and pipes.
type Lines struct{ W io.Writer }

// StartEpoch does nothing.
func (l Lines) StartEpoch(trainer.EpochStart) {}

// Batch does nothing.
func (l Lines) Batch(trainer.BatchProgress) {}

// EndEpoch prints the epoch's line.
func (l Lines) EndEpoch(e *trainer.EpochEnd) error {
	fmt.Fprintln(l.W, Line(e))
	return nil
}

// Finish does nothing.
func (l Lines) Finish() {}

// Bars shows two progress bars on a terminal: one over the epochs with the
// current average loss and the last validation accuracy, and one over the
// batches of the current epoch with the throughput.
type Bars struct {
	W      io.Writer
	pool   *pb.Pool
	epochs *pb.ProgressBar
	batch  *pb.ProgressBar
	val    string
}

const (
	epochTmpl = `{{string . "prefix"}} {{counters . }} {{bar . }} {{string . "info"}}`
	batchTmpl = `{{string . "prefix"}} {{counters . }} {{bar . }} {{string . "info"}} {{etime . }}`
)

// StartEpoch starts the bars, or moves them to a new epoch.
func (b *Bars) StartEpoch(e trainer.EpochStart) {
	if b.pool == nil {
		b.epochs = pb.New(e.Epochs).SetTemplateString(epochTmpl).Set("prefix", "epochs ").SetWriter(b.W)
		b.epochs.SetCurrent(int64(e.Epoch - 1))
		b.batch = pb.New(e.Steps).SetTemplateString(batchTmpl).Set("prefix", "batches").SetWriter(b.W)
		b.pool = pb.NewPool(b.epochs, b.batch)
		b.pool.Output = b.W
		b.pool.RefreshRate = 200 * time.Millisecond
		if err := b.pool.Start(); err != nil {
			b.pool = nil
			return
		}
	}
	b.epochs.SetTotal(int64(e.Epochs))
	b.batch.SetTotal(int64(e.Steps))
	b.batch.SetCurrent(int64(e.Done))
	b.batch.Set("info", "")
}

// Batch updates the bars.
func (b *Bars) Batch(p trainer.BatchProgress) {
	if b.pool == nil {
		return
	}
	b.batch.SetCurrent(int64(p.Done))
	b.batch.Set("info", fmt.Sprintf("%.0f img/s", p.ImagesPerSec))
	b.epochs.Set("info", fmt.Sprintf("loss %.4f%s", p.AvgLoss, b.val))
}

// EndEpoch leaves the epoch's bars and its line on screen.
func (b *Bars) EndEpoch(e *trainer.EpochEnd) error {
	if b.pool == nil {
		fmt.Fprintln(b.W, Line(e))
		return nil
	}
	b.val = fmt.Sprintf("  val acc %.2f%%", 100*e.ValAcc)
	b.epochs.SetCurrent(int64(e.Epoch))
	b.epochs.Set("info", fmt.Sprintf("loss %.4f%s", e.Loss, b.val))
	// The pool redraws the lines it printed last, so stop it to keep this
	// epoch's bars and summary on screen; the next epoch starts new bars.
	b.pool.Stop()
	b.pool = nil
	fmt.Fprintln(b.W, Line(e))
	return nil
}

// Finish stops the bars.
func (b *Bars) Finish() {
	if b.pool != nil {
		b.pool.Stop()
		b.pool = nil
	}
}
