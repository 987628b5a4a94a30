package trainer

import (
	"fmt"
	"io"
	"time"

	"github.com/cheggaaa/pb/v3"
)

// Progress receives the solver's progress reports.
type Progress interface {
	// StartEpoch announces epoch (1-based) of epochs, with steps batches,
	// of which done were completed before an interruption.
	StartEpoch(epoch, epochs, steps, done int)
	// Batch reports done batches of the epoch, the average loss so far and
	// the training throughput in images per second.
	Batch(done int, avgLoss, imgPerSec float64)
	// EndEpoch reports a finished epoch.
	EndEpoch(r EpochReport)
	// Finish ends the reports.
	Finish()
}

// EpochReport summarises one finished epoch.
type EpochReport struct {
	Epoch, Epochs    int
	Loss             float64
	TrainAcc, ValAcc float64 // percent
	LR               float64
	Seconds          float64
	// Best reports a new best validation accuracy.
	Best bool
}

// String formats the report as the one line printed per epoch.
func (r EpochReport) String() string {
	mark := ""
	if r.Best {
		mark = " *"
	}
	return fmt.Sprintf("epoch %d/%d  loss %.4f  train acc %.2f%%  val acc %.2f%%  lr %.5g  %.1fs%s",
		r.Epoch, r.Epochs, r.Loss, r.TrainAcc, r.ValAcc, r.LR, r.Seconds, mark)
}

// Lines reports one plain line per epoch: for logs and pipes.
type Lines struct{ W io.Writer }

func (l Lines) StartEpoch(epoch, epochs, steps, done int) {}
func (l Lines) Batch(int, float64, float64)               {}
func (l Lines) EndEpoch(r EpochReport)                    { fmt.Fprintln(l.W, r.String()) }
func (l Lines) Finish()                                   {}

// Bars shows two progress bars on a terminal: one over the epochs with the
// current average loss and the last validation accuracy, and one over the
// batches of the current epoch with the throughput.
type Bars struct {
	W      io.Writer
	pool   *pb.Pool
	epochs *pb.ProgressBar
	batch  *pb.ProgressBar
	last   time.Time
	val    string
}

const (
	epochTmpl = `{{string . "prefix"}} {{counters . }} {{bar . }} {{string . "info"}}`
	batchTmpl = `{{string . "prefix"}} {{counters . }} {{bar . }} {{string . "info"}} {{etime . }}`
)

func (b *Bars) StartEpoch(epoch, epochs, steps, done int) {
	if b.pool == nil {
		b.epochs = pb.New(epochs).SetTemplateString(epochTmpl).Set("prefix", "epochs ").SetWriter(b.W)
		b.epochs.SetCurrent(int64(epoch - 1))
		b.batch = pb.New(steps).SetTemplateString(batchTmpl).Set("prefix", "batches").SetWriter(b.W)
		b.pool = pb.NewPool(b.epochs, b.batch)
		b.pool.Output = b.W
		b.pool.RefreshRate = 200 * time.Millisecond
		if err := b.pool.Start(); err != nil {
			b.pool = nil
			return
		}
	}
	b.epochs.SetTotal(int64(epochs))
	b.batch.SetTotal(int64(steps))
	b.batch.SetCurrent(int64(done))
	b.batch.Set("info", "")
}

func (b *Bars) Batch(done int, avgLoss, imgPerSec float64) {
	if b.pool == nil {
		return
	}
	b.batch.SetCurrent(int64(done))
	b.batch.Set("info", fmt.Sprintf("%.0f img/s", imgPerSec))
	b.epochs.Set("info", fmt.Sprintf("loss %.4f%s", avgLoss, b.val))
}

func (b *Bars) EndEpoch(r EpochReport) {
	if b.pool == nil {
		fmt.Fprintln(b.W, r.String())
		return
	}
	b.val = fmt.Sprintf("  val acc %.2f%%", r.ValAcc)
	b.epochs.SetCurrent(int64(r.Epoch))
	b.epochs.Set("info", fmt.Sprintf("loss %.4f%s", r.Loss, b.val))
	// The pool redraws the lines it printed last, so stop it to keep this
	// epoch's bars and summary on screen; the next epoch starts new bars.
	b.pool.Stop()
	b.pool = nil
	fmt.Fprintln(b.W, r.String())
}

func (b *Bars) Finish() {
	if b.pool != nil {
		b.pool.Stop()
		b.pool = nil
	}
}
