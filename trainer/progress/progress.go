// Package progress shows a training run as it goes, as the trainer
// command prints it: progress bars on a terminal (Bars), timestamped lines
// for logs and pipes (Plain). Both are trainer.BatchObservers, and both
// leave one line per finished epoch (Line), explained by Legend.
package progress

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/cheggaaa/pb/v3/termutil"

	"github.com/cifar-resnet/trainer/trainer"
)

// Legend explains the marker of Line; both displays print it once, before
// the first epoch.
const Legend = "* marks a new best validation accuracy: those weights are saved as best.ckpt and kept as the model"

// Line formats a finished epoch as the one line left per epoch:
//
//	epoch 3/20  loss 1.2345  val loss 1.3012  train acc 55.10%  val acc 53.20%  lr 0.08123  31.2s *
//
// with the training time of the epoch, and the marker of Legend when the
// epoch set a new best validation accuracy.
func Line(e *trainer.EpochEnd) string {
	mark := ""
	if e.Best {
		mark = " *"
	}
	return fmt.Sprintf("epoch %d/%d  loss %.4f  val loss %.4f  train acc %.2f%%  val acc %.2f%%  lr %.5g  %.1fs%s",
		e.Epoch, e.Epochs, e.Loss, e.ValLoss, 100*e.TrainAcc, 100*e.ValAcc, e.LR, e.Seconds, mark)
}

// Duration formats d rounded to the second as "45s", "12m05s" or
// "3h07m"; a negative or undefined duration as "?".
func Duration(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s >= 3600:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

// estimator predicts the remaining time of the epoch and of the run from
// the training time per batch of the current epoch and the time the last
// evaluation took (from an epoch's last batch to its end).
type estimator struct {
	now       func() time.Time
	lastBatch time.Time // when the last batch was reported
	eval      float64   // seconds of the last evaluation; 0 before the first
}

// clock returns the time now.
func (e *estimator) clock() time.Time {
	if e.now == nil {
		return time.Now()
	}
	return e.now()
}

// batch notes a batch and returns the time left in its epoch and in the
// run, which counts every epoch left, evaluations included (early
// stopping may end it sooner). Both are -1 while unknown.
func (e *estimator) batch(p trainer.BatchProgress) (epoch, run time.Duration) {
	e.lastBatch = e.clock()
	if p.Done <= 0 || !(p.Seconds > 0) {
		return -1, -1
	}
	perBatch := p.Seconds / float64(p.Done)
	left := float64(p.Steps-p.Done) * perBatch
	all := left + e.eval + float64(p.Epochs-p.Epoch)*(float64(p.Steps)*perBatch+e.eval)
	return seconds(left), seconds(all)
}

// endEpoch measures the evaluation that has just ended.
func (e *estimator) endEpoch() {
	if !e.lastBatch.IsZero() {
		e.eval = e.clock().Sub(e.lastBatch).Seconds()
	}
}

// seconds converts a number of seconds to a Duration, -1 if it is not
// finite or too long.
func seconds(s float64) time.Duration {
	if math.IsNaN(s) || s < 0 || s > 1e9 {
		return -1
	}
	return time.Duration(s * float64(time.Second))
}

// Plain reports a run as timestamped lines, for logs and pipes: the
// legend before the first epoch, a progress line at most every Interval
// during an epoch (batch k/n, running loss, images/s, time left) and the
// epoch's Line when it ends:
//
//	2026-11-30 14:02:41 epoch 1/20  batch 120/382  loss 1.8234  2012 img/s  ETA epoch 2m11s, run 52m40s
//	2026-11-30 14:04:54 epoch 1/20  loss 1.6920  val loss 1.4433  train acc 47.90%  val acc 49.30%  lr 0.01959  186.5s *
type Plain struct {
	// W receives the lines.
	W io.Writer
	// Interval is the least time between two progress lines of an epoch;
	// 0 means 30 seconds.
	Interval time.Duration
	// Now returns the time of the lines; nil means time.Now.
	Now func() time.Time

	est       estimator
	lastPrint time.Time
	started   bool
}

// TimeFormat is the layout of Plain's timestamps.
const TimeFormat = "2006-01-02 15:04:05"

// printf writes one timestamped line.
func (p *Plain) printf(format string, args ...any) {
	p.est.now = p.Now
	fmt.Fprintf(p.W, "%s %s\n", p.est.clock().Format(TimeFormat), fmt.Sprintf(format, args...))
}

// Logf prints a note as a timestamped line.
func (p *Plain) Logf(format string, args ...any) { p.printf(format, args...) }

// StartEpoch prints the legend before the first epoch and starts the
// interval of the progress lines.
func (p *Plain) StartEpoch(e trainer.EpochStart) {
	p.est.now = p.Now
	if !p.started {
		p.started = true
		p.printf("%s", Legend)
	}
	p.lastPrint = p.est.clock()
}

// Batch prints a progress line when Interval has passed since the last.
func (p *Plain) Batch(b trainer.BatchProgress) {
	p.est.now = p.Now
	epochLeft, runLeft := p.est.batch(b)
	interval := p.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	if now := p.est.clock(); now.Sub(p.lastPrint) >= interval && b.Done < b.Steps {
		p.lastPrint = now
		p.printf("epoch %d/%d  batch %d/%d  loss %.4f  %.0f img/s  ETA epoch %s, run %s",
			b.Epoch, b.Epochs, b.Done, b.Steps, b.AvgLoss, b.ImagesPerSec, Duration(epochLeft), Duration(runLeft))
	}
}

// EndEpoch prints the epoch's line.
func (p *Plain) EndEpoch(e *trainer.EpochEnd) error {
	p.est.now = p.Now
	p.est.endEpoch()
	p.printf("%s", Line(e))
	return nil
}

// Finish does nothing: every line is complete.
func (p *Plain) Finish() {}

// Bars shows two progress bars at the bottom of a terminal while an epoch
// trains, redrawn in place: the run, with the running loss, the last
// validation accuracy and the time left in the run; and the epoch's
// batches, with the throughput and the time left in the epoch:
//
//	epoch  3/20 [=====>....................]  loss 1.2345  val acc 53.20%  ETA run 52m40s
//	batch 120/382 [======>..................]  2012 img/s  ETA epoch 1m05s
//
// When the epoch ends the bars are erased and its Line is printed in
// their place, so that one line per epoch stays on screen.
type Bars struct {
	// W is the terminal.
	W io.Writer
	// Width is the width of the lines; 0 means the terminal's width.
	Width int
	// Now returns the time; nil means time.Now.
	Now func() time.Time

	est      estimator
	drawn    int       // lines of bars on screen, below which the cursor is
	lastDraw time.Time // when the bars were last drawn
	val      string    // the last validation accuracy, for the run's bar
	started  bool
}

// refresh is the least time between two redraws of the bars.
const refresh = 100 * time.Millisecond

// width returns the width of the lines.
func (b *Bars) width() int {
	if b.Width > 0 {
		return b.Width
	}
	if w, err := termutil.TerminalWidth(); err == nil && w > 20 {
		return w
	}
	return 100
}

// erase removes the bars from the screen, leaving the cursor where they
// started.
func (b *Bars) erase() {
	if b.drawn > 0 {
		fmt.Fprintf(b.W, "\033[%dA\r\033[J", b.drawn)
		b.drawn = 0
	}
}

// Logf prints a note above the bars.
func (b *Bars) Logf(format string, args ...any) {
	b.erase()
	fmt.Fprintf(b.W, format+"\n", args...)
}

// StartEpoch prints the legend before the first epoch.
func (b *Bars) StartEpoch(e trainer.EpochStart) {
	b.est.now = b.Now
	if !b.started {
		b.started = true
		fmt.Fprintln(b.W, Legend)
	}
	b.draw(trainer.BatchProgress{Epoch: e.Epoch, Epochs: e.Epochs, Done: e.Done, Steps: e.Steps, AvgLoss: math.NaN()}, -1, -1)
}

// Batch redraws the bars, at most every 100 ms and after the last batch.
func (b *Bars) Batch(p trainer.BatchProgress) {
	b.est.now = b.Now
	epochLeft, runLeft := b.est.batch(p)
	if now := b.est.clock(); now.Sub(b.lastDraw) >= refresh || p.Done == p.Steps {
		b.draw(p, epochLeft, runLeft)
	}
}

// draw writes the two bars in place of those on screen.
func (b *Bars) draw(p trainer.BatchProgress, epochLeft, runLeft time.Duration) {
	b.lastDraw = b.est.clock()
	w := b.width()
	loss := "loss -"
	if !math.IsNaN(p.AvgLoss) {
		loss = fmt.Sprintf("loss %.4f", p.AvgLoss)
	}
	digits := len(fmt.Sprint(p.Epochs))
	run := bar(fmt.Sprintf("epoch %*d/%d", digits, p.Epoch, p.Epochs), p.Epoch-1, p.Epochs,
		fmt.Sprintf("%s%s  ETA run %s", loss, b.val, Duration(runLeft)), w)
	speed := "- img/s"
	if p.ImagesPerSec > 0 {
		speed = fmt.Sprintf("%.0f img/s", p.ImagesPerSec)
	}
	digits = len(fmt.Sprint(p.Steps))
	epoch := bar(fmt.Sprintf("batch %*d/%d", digits, p.Done, p.Steps), p.Done, p.Steps,
		fmt.Sprintf("%s  ETA epoch %s", speed, Duration(epochLeft)), w)
	var s strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&s, "\033[%dA", b.drawn)
	}
	for _, line := range []string{run, epoch} {
		s.WriteString("\r" + line + "\033[K\n")
	}
	io.WriteString(b.W, s.String())
	b.drawn = 2
}

// bar lays out "prefix [====>....]  info" in width columns, the bar
// taking what the text leaves (at least 10 columns), the line cut to width.
func bar(prefix string, done, total int, info string, width int) string {
	n := max(width-len(prefix)-len(info)-5, 10)
	fill := 0
	if total > 0 {
		fill = min(n, max(0, done*n/total))
	}
	var s strings.Builder
	s.WriteString(prefix + " [")
	s.WriteString(strings.Repeat("=", fill))
	if fill < n {
		s.WriteString(">")
		s.WriteString(strings.Repeat(".", n-fill-1))
	}
	s.WriteString("]  " + info)
	line := s.String()
	if len(line) > width {
		line = line[:width]
	}
	return line
}

// EndEpoch replaces the bars by the epoch's line.
func (b *Bars) EndEpoch(e *trainer.EpochEnd) error {
	b.est.now = b.Now
	b.est.endEpoch()
	b.val = fmt.Sprintf("  val acc %.2f%%", 100*e.ValAcc)
	b.erase()
	fmt.Fprintln(b.W, Line(e))
	return nil
}

// Finish leaves the bars of an unfinished epoch on screen.
func (b *Bars) Finish() { b.drawn = 0 }
