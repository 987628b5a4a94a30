package leaderboard

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	runplot "github.com/cifar-resnet/trainer/trainer/plot"
)

// Size of the validation plot: 8 by 6 inches at 100 dots per inch.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 6 * vg.Inch
	plotDPI    = 100
)

// PlotValidation draws the validation accuracy (percent) of every entry
// against the epoch, one line each in entries' order, labelled with its
// name, as a PNG image of 800 by 600 pixels at path, written atomically.
// Entries that have not finished an epoch are left out, and so are
// non-finite values. It returns an error when no entry has an epoch.
func PlotValidation(path string, entries []Entry, title string) (err error) {
	// The plotting library panics on some degenerate input; report it.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("leaderboard: %s: drawing the plot: %v", path, p)
		}
	}()
	p := plot.New()
	p.Title.Text = "Validation accuracy"
	if title != "" {
		p.Title.Text += ": " + title
	}
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "validation accuracy (%)"
	p.Add(plotter.NewGrid())
	longest, drawn := 0, 0
	for _, e := range entries {
		xys := runplot.EpochPoints(e.History.ValAcc, 100)
		if len(xys) == 0 {
			continue
		}
		longest = max(longest, e.Epochs())
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("leaderboard: %s: %w", path, err)
		}
		line.Color, points.Color = plotutil.Color(drawn), plotutil.Color(drawn)
		line.Dashes = plotutil.Dashes(drawn / len(plotutil.DefaultColors))
		points.Shape = plotutil.Shape(drawn)
		line.Width, points.Radius = vg.Points(1.5), vg.Points(2.5)
		p.Add(line, points)
		p.Legend.Add(e.Name, line, points)
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("leaderboard: %s: no run has finished an epoch: nothing to plot", path)
	}
	p.X.Min, p.X.Max = 1, float64(longest)
	if longest == 1 {
		p.X.Min, p.X.Max = 0, 2
	}
	p.X.Tick.Marker = runplot.EpochTicks{}
	p.Legend.Top, p.Legend.Left = false, false
	img := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	p.Draw(draw.New(img))
	return runplot.WritePNG(path, img)
}
