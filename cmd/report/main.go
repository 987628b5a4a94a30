// Command report builds the accuracy analysis of the README from the kept
// experiments: every directory experiments/NAME holding the run's
// config.yaml and history.csv (and optionally note.txt, one line of what
// was learned) becomes a row of a Markdown table, and its training.png is
// redrawn from its history. The plot of the best model, models/training.png,
// is redrawn from the experiment named by models/best.yaml.
//
//	go run ./cmd/report            print the table
//	go run ./cmd/report -readme    also rewrite the table in README.md and the plots
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
)

func main() {
	os.Exit(exitCode(run(os.Args[1:], os.Stdout), os.Stderr))
}

// exitCode returns the exit status of a run that returned err, printing
// err to stderr: 0 for success and for -h (the flags were printed), 1
// otherwise.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintln(stderr, "report:", err)
	return 1
}

// row is one experiment.
type row struct {
	name      string
	cfg       config.Config
	h         checkpoint.History
	note      string
	bestEpoch int
	bestVal   float64
	seconds   float64
}

func run(args []string, w io.Writer) error {
	flags := flag.NewFlagSet("report", flag.ContinueOnError)
	dir := flags.String("dir", "experiments", "the directory of kept experiments")
	readme := flags.Bool("readme", false, "rewrite the accuracy table of README.md and redraw the plots")
	if err := flags.Parse(args); err != nil {
		return err
	}
	rows, err := load(*dir)
	if err != nil {
		return err
	}
	table := markdown(rows)
	fmt.Fprint(w, table)
	if !*readme {
		return nil
	}
	for _, r := range rows {
		if r.h.Len() == 0 {
			continue // no epoch finished yet: nothing to plot
		}
		if err := trainer.PlotTraining(filepath.Join(*dir, r.name, trainer.PlotFile), r.h, r.name); err != nil {
			return err
		}
	}
	if err := plotBest(*dir, rows); err != nil {
		return err
	}
	return replace("README.md", "accuracy", table)
}

// load reads every experiment under dir, sorted by name.
func load(dir string) ([]row, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(dir, e.Name())
		cfg, err := config.Load(filepath.Join(d, "config.yaml"))
		if err != nil {
			return nil, err
		}
		h, err := trainer.ReadHistory(filepath.Join(d, trainer.HistoryFile))
		if errors.Is(err, fs.ErrNotExist) {
			// A run that has not finished its first epoch yet.
			h, err = checkpoint.History{}, nil
		}
		if err != nil {
			return nil, err
		}
		r := row{name: e.Name(), cfg: cfg, h: h}
		note, err := os.ReadFile(filepath.Join(d, "note.txt"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		r.note = strings.Join(strings.Fields(string(note)), " ")
		for i, v := range h.ValAcc {
			if i == 0 || v > r.bestVal {
				r.bestVal, r.bestEpoch = v, i+1
			}
			r.seconds += h.Seconds[i]
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	return rows, nil
}

// arch describes the network compactly: stem 16; 16×2, 32×2/2.
func arch(m config.Model) string {
	parts := make([]string, len(m.Stages))
	for i, s := range m.Stages {
		parts[i] = fmt.Sprintf("%d×%d", s.Channels, s.Blocks)
		if s.Stride != 1 {
			parts[i] += fmt.Sprintf("/%d", s.Stride)
		}
	}
	out := fmt.Sprintf("stem %d; %s", m.StemChannels, strings.Join(parts, ", "))
	if m.ZeroInitResidual {
		out += "; residual γ from 0"
	}
	return out
}

// recipe describes the optimisation compactly.
func recipe(s config.Solver) string {
	o := s.Optimizer
	opt := fmt.Sprintf("%s lr %g", o.Name, o.LR)
	if o.Name == "sgd" && o.Nesterov {
		opt = fmt.Sprintf("sgd+nesterov %g lr %g", o.Momentum, o.LR)
	}
	out := fmt.Sprintf("%s, wd %g, %s, batch %d", opt, o.WeightDecay, s.Scheduler.Name, s.BatchSize)
	if s.LabelSmoothing > 0 {
		out += fmt.Sprintf(", smoothing %g", s.LabelSmoothing)
	}
	if d := s.Distillation; d.Enabled() {
		names := make([]string, len(d.Teachers))
		for i, t := range d.Teachers {
			names[i] = filepath.Base(filepath.Dir(t))
		}
		out += fmt.Sprintf(", distilled from %s (weight %g, T %g)", strings.Join(names, "+"), d.Weight, d.Temperature)
	}
	return out
}

func augment(a config.Augment) string {
	var parts []string
	if a.CropPadding > 0 {
		parts = append(parts, fmt.Sprintf("crop %d", a.CropPadding))
	}
	if a.HorizontalFlip {
		parts = append(parts, "flip")
	}
	if a.Cutout > 0 {
		parts = append(parts, fmt.Sprintf("cutout %d", a.Cutout))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

func markdown(rows []row) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Generated by `go run ./cmd/report -readme` from `experiments/*/` (config.yaml, history.csv, note.txt). Best validation accuracy (single view) on the held-out training images, as many as the \"val\" column says; wall time is the sum of the epochs' training time on the machine that ran them.\n\n")
	fmt.Fprintf(&b, "| experiment | architecture | params | optimizer / schedule | augmentation | epochs | wall time | val | best val acc (epoch) | what we learned |\n")
	fmt.Fprintf(&b, "|---|---|---:|---|---|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		epochs := fmt.Sprintf("%d", r.h.Len())
		if r.h.Len() < r.cfg.Solver.Epochs {
			epochs = fmt.Sprintf("%d of %d", r.h.Len(), r.cfg.Solver.Epochs)
		}
		best := "–"
		if r.h.Len() > 0 {
			best = fmt.Sprintf("%.2f%% (%d)", 100*r.bestVal, r.bestEpoch)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %.0f min | %d | %s | %s |\n",
			r.name, arch(r.cfg.Model), model.Capacity(r.cfg.Model), recipe(r.cfg.Solver), augment(r.cfg.Data.Augment),
			epochs, r.seconds/60, r.cfg.Data.ValSize, best, r.note)
	}
	return b.String()
}

// plotBest redraws models/training.png from the experiment whose run name
// models/best.yaml gives, when both exist.
func plotBest(dir string, rows []row) error {
	cfg, err := config.Load(filepath.Join("models", "best.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.cfg.Output.Name == cfg.Output.Name {
			return trainer.PlotTraining(filepath.Join("models", trainer.PlotFile), r.h, "best model: "+r.name)
		}
	}
	return fmt.Errorf("models/best.yaml names run %q, which no experiment under %s has", cfg.Output.Name, dir)
}

// replace rewrites the part of path between the markers
// <!-- NAME:begin --> and <!-- NAME:end -->.
func replace(path, name, body string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`(?s)<!-- ` + name + `:begin -->.*?<!-- ` + name + `:end -->`)
	if !re.Match(src) {
		return fmt.Errorf("%s: no %s markers", path, name)
	}
	out := re.ReplaceAllLiteral(src, []byte("<!-- "+name+":begin -->\n"+body+"<!-- "+name+":end -->"))
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(out)
		return err
	})
}
