// Package plot draws the training plot of a run, training.png, from its
// per-epoch history, and provides Writer, the trainer Observer that
// redraws it after every epoch.
package plot

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
)

// File is the name of the training plot in a plots folder.
const File = "training.png"

// Writer is the trainer.Observer that redraws Dir/training.png from the
// solver's history after every epoch.
type Writer struct {
	// Dir is the plots folder (output.plots_dir, or the run folder when
	// that is empty); it is created if needed.
	Dir string
	// Title follows "Training history: " in the plot's title, as the
	// title argument of Training.
	Title string
}

// EndEpoch redraws the plot with every epoch so far.
func (w Writer) EndEpoch(e *trainer.EpochEnd) error {
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return Training(filepath.Join(w.Dir, File), e.History, w.Title)
}

// Size of the training plot: 8 by 8 inches at 100 dots per inch.
const (
	plotSize = 8 * vg.Inch
	plotDPI  = 100
)

// Training draws h as a PNG image of 800 by 800 pixels at path, written
// atomically. The image has two panels stacked vertically with aligned
// epoch axes: on top the average training loss per epoch, below the
// training and validation accuracy in percent per epoch, with a legend.
// The top panel's title is "Training history", followed by title when it
// is not empty. Values that are NaN or infinite are left out of the lines.
// It returns an error if h is empty or its slices differ in length.
func Training(path string, h checkpoint.History, title string) error {
	img, err := drawTraining(h, title)
	if err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	err = checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	return nil
}

// drawTraining renders h onto a new canvas.
func drawTraining(h checkpoint.History, title string) (img *vgimg.Canvas, err error) {
	n := h.Len()
	switch {
	case n < 0:
		return nil, fmt.Errorf("history slices differ in length (loss %d, train_acc %d, val_acc %d, lr %d, seconds %d)",
			len(h.Loss), len(h.TrainAcc), len(h.ValAcc), len(h.LR), len(h.Seconds))
	case n == 0:
		return nil, fmt.Errorf("empty history: nothing to plot")
	}
	// The plotting library panics on some degenerate input; report it.
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("drawing the plot: %v", p)
		}
	}()

	loss := plot.New()
	loss.Title.Text = "Training history"
	if title != "" {
		loss.Title.Text += ": " + title
	}
	loss.Y.Label.Text = "loss"
	loss.Add(plotter.NewGrid())
	if err := addSeries(loss, "", h.Loss, 1, 0, n); err != nil {
		return nil, err
	}

	acc := plot.New()
	acc.Y.Label.Text = "accuracy (%)"
	acc.Y.Min, acc.Y.Max = 0, 100
	var pct []plot.Tick
	for v := 0; v <= 100; v += 10 {
		t := plot.Tick{Value: float64(v)}
		if v%20 == 0 {
			t.Label = strconv.Itoa(v)
		}
		pct = append(pct, t)
	}
	acc.Y.Tick.Marker = plot.ConstantTicks(pct)
	acc.Add(plotter.NewGrid())
	if err := addSeries(acc, "train", h.TrainAcc, 100, 0, n); err != nil {
		return nil, err
	}
	if err := addSeries(acc, "validation", h.ValAcc, 100, 1, n); err != nil {
		return nil, err
	}
	acc.Legend.Top = false
	acc.Legend.Left = false
	acc.Legend.XOffs = -vg.Millimeter
	acc.Legend.YOffs = vg.Millimeter

	for _, p := range []*plot.Plot{loss, acc} {
		p.X.Label.Text = "epoch"
		p.X.Min, p.X.Max = 1, float64(n)
		if n == 1 {
			p.X.Min, p.X.Max = 0, 2
		}
		p.X.Tick.Marker = epochTicks{}
	}

	img = vgimg.NewWith(vgimg.UseWH(plotSize, plotSize), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{
		Rows: 2, Cols: 1,
		PadTop: vg.Millimeter, PadBottom: 2 * vg.Millimeter,
		PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter,
		PadY: 6 * vg.Millimeter,
	}
	plots := [][]*plot.Plot{{loss}, {acc}}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return img, nil
}

// addSeries adds ys, scaled by scale, to p as a line over epochs 1..n in
// the palette's i-th colour, with a legend entry if name is not empty.
// Non-finite values are skipped.
func addSeries(p *plot.Plot, name string, ys []float64, scale float64, i, n int) error {
	xys := make(plotter.XYs, 0, len(ys))
	for j, y := range ys {
		if y = y * scale; !math.IsNaN(y) && !math.IsInf(y, 0) {
			xys = append(xys, plotter.XY{X: float64(j + 1), Y: y})
		}
	}
	if len(xys) == 0 {
		return nil
	}
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	line.Color = plotutil.Color(i)
	line.Width = vg.Points(1.5)
	line.Dashes = plotutil.Dashes(i)
	points.Color = plotutil.Color(i)
	points.Shape = plotutil.Shape(i)
	points.Radius = vg.Points(2.5)
	if n > 40 {
		// Markers would crowd a long run; the line alone reads better.
		p.Add(line)
		if name != "" {
			p.Legend.Add(name, line)
		}
		return nil
	}
	p.Add(line, points)
	if name != "" {
		p.Legend.Add(name, line, points)
	}
	return nil
}

// epochTicks marks whole epochs, at most about ten labelled ticks.
type epochTicks struct{}

// Ticks implements plot.Ticker.
func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for i := 0; (hi-lo)/step > 10 && i < 1000; i++ {
		switch m := step / math.Pow(10, math.Floor(math.Log10(step))); {
		case m < 1.5: // 1 → 2
			step *= 2
		case m < 3: // 2 → 5
			step *= 2.5
		default: // 5 → 10
			step *= 2
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi && len(ticks) < 100; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}
