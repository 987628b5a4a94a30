// Package plot draws the training plot of a run, training.png, from its
// per-epoch history, and provides Writer, the trainer Observer that
// redraws it after every epoch.
package plot

import (
	"fmt"
	"image/color"
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

// Size of the training plot: 8 by 10 inches at 100 dots per inch.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 10 * vg.Inch
	plotDPI    = 100
)

// Training draws h as a PNG image of 800 by 1000 pixels at path, written
// atomically. The image has three panels stacked vertically with aligned
// epoch axes: on top the average training loss and the validation loss
// per epoch; in the middle the training and validation accuracy in
// percent; at the bottom the learning rate at the end of each epoch. A
// dashed vertical line in every panel marks the best epoch (see
// checkpoint.History.Best), whose validation accuracy is ringed and given
// in the legend. The top panel's title is "Training history", followed by
// title when it is not empty. Values that are NaN or infinite are left out
// of the lines; a series with no value (the validation loss of a history
// recorded before it was measured) is left out with its legend entry.
// It returns an error if h is empty or its slices differ in length.
func Training(path string, h checkpoint.History, title string) error {
	img, err := drawTraining(h, title, h.Best())
	if err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	if err := WritePNG(path, img); err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	return nil
}

// WritePNG writes img to path as a PNG image, atomically.
func WritePNG(path string, img *vgimg.Canvas) error {
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}

// drawTraining renders h onto a new canvas, marking epoch best (none if
// best is 0).
func drawTraining(h checkpoint.History, title string, best int) (img *vgimg.Canvas, err error) {
	n := h.Len()
	switch {
	case n < 0:
		return nil, fmt.Errorf("history slices differ in length (loss %d, val_loss %d, train_acc %d, val_acc %d, lr %d, seconds %d)",
			len(h.Loss), len(h.ValLoss), len(h.TrainAcc), len(h.ValAcc), len(h.LR), len(h.Seconds))
	case n == 0:
		return nil, fmt.Errorf("empty history: nothing to plot")
	}
	// The plotting library panics on some degenerate input; report it.
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("drawing the plot: %v", p)
		}
	}()
	marker := bestLine()

	loss := plot.New()
	loss.Title.Text = "Training history"
	if title != "" {
		loss.Title.Text += ": " + title
	}
	loss.Y.Label.Text = "loss"
	loss.Add(plotter.NewGrid())
	if err := addSeries(loss, "train", h.Loss, 1, 0, n); err != nil {
		return nil, err
	}
	if err := addSeries(loss, "validation", h.ValLoss, 1, 1, n); err != nil {
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
	if v := 100 * h.ValAcc[max(best, 1)-1]; best > 0 && isFinite(v) {
		ring, err := plotter.NewScatter(plotter.XYs{{X: float64(best), Y: v}})
		if err != nil {
			return nil, err
		}
		ring.Color = marker.Color
		ring.Radius = vg.Points(6)
		ring.Shape = ringGlyph{}
		acc.Add(ring)
		acc.Legend.Add(fmt.Sprintf("best: epoch %d, %.2f%%", best, v), vline{style: marker}, ring)
	}

	lr := plot.New()
	lr.Y.Label.Text = "learning rate"
	lr.Y.Min = 0
	lr.Add(plotter.NewGrid())
	// One series: a solid line, in the palette's third colour.
	if err := addSeries(lr, "", h.LR, 1, 2, n); err != nil {
		return nil, err
	}

	for _, p := range []*plot.Plot{loss, acc} {
		p.Legend.Top = p == loss
		p.Legend.Left = false
		p.Legend.XOffs = -vg.Millimeter
		p.Legend.YOffs = vg.Millimeter
		if p == loss {
			p.Legend.YOffs = -vg.Millimeter
		}
	}
	for _, p := range []*plot.Plot{loss, acc, lr} {
		if best > 0 {
			p.Add(vline{x: float64(best), style: marker})
		}
		p.X.Label.Text = "epoch"
		p.X.Min, p.X.Max = 1, float64(n)
		if n == 1 {
			p.X.Min, p.X.Max = 0, 2
		}
		p.X.Tick.Marker = EpochTicks{}
	}

	img = vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{
		Rows: 3, Cols: 1,
		PadTop: vg.Millimeter, PadBottom: 2 * vg.Millimeter,
		PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter,
		PadY: 6 * vg.Millimeter,
	}
	plots := [][]*plot.Plot{{loss}, {acc}, {lr}}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return img, nil
}

// bestLine is the style of the line that marks the best epoch.
func bestLine() draw.LineStyle {
	return draw.LineStyle{
		Color:  color.Gray{Y: 0x60},
		Width:  vg.Points(1),
		Dashes: []vg.Length{vg.Points(4), vg.Points(3)},
	}
}

// vline is a vertical line across a panel at epoch x.
type vline struct {
	x     float64
	style draw.LineStyle
}

// Plot implements plot.Plotter.
func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
}

// Thumbnail implements plot.Thumbnailer: a vertical line in the middle of
// the legend entry.
func (v vline) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
}

// ringGlyph draws an unfilled circle, thicker than draw.RingGlyph.
type ringGlyph struct{}

// DrawGlyph implements draw.GlyphDrawer.
func (ringGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(1.5)})
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.Stroke(p)
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// EpochPoints returns the points of a series of one value per epoch, such
// as a history's validation accuracy: (j+1, scale·ys[j]) for epoch j+1,
// leaving out the values that are NaN or infinite (NaN marks an epoch
// without that measurement). The training plot and a leaderboard's
// validation plot draw their lines through them.
func EpochPoints(ys []float64, scale float64) plotter.XYs {
	xys := make(plotter.XYs, 0, len(ys))
	for j, y := range ys {
		if y = y * scale; isFinite(y) {
			xys = append(xys, plotter.XY{X: float64(j + 1), Y: y})
		}
	}
	return xys
}

// addSeries adds ys, scaled by scale, to p as a line over epochs 1..n in
// the palette's i-th colour and dashes, with a legend entry if name is not
// empty; a series without a name is alone in its panel and drawn solid.
// Non-finite values are skipped (EpochPoints).
func addSeries(p *plot.Plot, name string, ys []float64, scale float64, i, n int) error {
	xys := EpochPoints(ys, scale)
	if len(xys) == 0 {
		return nil
	}
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	line.Color = plotutil.Color(i)
	line.Width = vg.Points(1.5)
	if name != "" {
		line.Dashes = plotutil.Dashes(i)
	}
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

// EpochTicks is the plot.Ticker of an epoch axis: whole epochs, every 1,
// 2, 5, 10, 20, ... epochs, at most about ten labelled ticks.
type EpochTicks struct{}

// Ticks implements plot.Ticker.
func (EpochTicks) Ticks(lo, hi float64) []plot.Tick {
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
