// Package leaderboard summarises training runs (the trials of a sweep, the
// kept experiments) and ranks them by their best validation accuracy. It
// writes the ranking as CSV, JSON and a Markdown table, and draws one plot
// that overlays the runs' validation curves. Each run is read from its run
// folder: config.yaml, history.csv and, optionally, note.txt.
package leaderboard

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer/history"
)

// File names of a leaderboard in its folder.
const (
	CSVFile      = "leaderboard.csv"
	JSONFile     = "leaderboard.json"
	MarkdownFile = "leaderboard.md"
	PlotFile     = "validation.png"
)

// Entry is one run.
type Entry struct {
	// Name names the run: a trial's id, an experiment's folder.
	Name string
	// Overrides are the "key=value" settings that made the run from its
	// base configuration (a sweep's trial); empty otherwise.
	Overrides []string
	// State is what the run is doing, such as "done", "running" or
	// "failed"; empty when unknown.
	State string
	// Config is the run's configuration.
	Config config.Config
	// History holds the epochs the run has finished (none yet: empty).
	History checkpoint.History
	// Note says what the run taught, in one line; may be empty.
	Note string
}

// Params returns the number of learnable parameters of the run's network.
func (e Entry) Params() int { return model.Capacity(e.Config.Model) }

// Epochs returns the number of epochs finished.
func (e Entry) Epochs() int { return max(0, e.History.Len()) }

// Best returns the best validation accuracy (a fraction) and its epoch,
// the trainer's best epoch (checkpoint.History.Best); ok is false before
// the first epoch.
func (e Entry) Best() (acc float64, epoch int, ok bool) {
	if epoch = e.History.Best(); epoch == 0 {
		return 0, 0, false
	}
	return e.History.ValAcc[epoch-1], epoch, true
}

// FinalLoss returns the average training loss of the last epoch; ok is
// false before the first epoch.
func (e Entry) FinalLoss() (loss float64, ok bool) {
	if n := e.Epochs(); n > 0 {
		return e.History.Loss[n-1], true
	}
	return 0, false
}

// WallSeconds returns the sum of the epochs' training times.
func (e Entry) WallSeconds() float64 {
	s := 0.0
	for _, x := range e.History.Seconds {
		s += x
	}
	return s
}

// ReadRun reads the run in folder dir: its config.yaml (required), its
// history.csv (history.Read; missing: no epoch finished yet) and its note.txt
// (optional, its whitespace collapsed to single spaces).
func ReadRun(dir, name string) (Entry, error) {
	cfg, err := config.Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return Entry{}, err
	}
	h, err := history.Read(filepath.Join(dir, history.File))
	if errors.Is(err, fs.ErrNotExist) {
		h, err = checkpoint.History{}, nil
	}
	if err != nil {
		return Entry{}, err
	}
	note, err := os.ReadFile(filepath.Join(dir, "note.txt"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Entry{}, fmt.Errorf("leaderboard: %w", err)
	}
	return Entry{Name: name, Config: cfg, History: h, Note: strings.Join(strings.Fields(string(note)), " ")}, nil
}

// ReadRuns reads every folder under dir as a run named after the folder
// (see ReadRun), sorted by name.
func ReadRuns(dir string) ([]Entry, error) {
	dirs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("leaderboard: %w", err)
	}
	var entries []Entry
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		e, err := ReadRun(filepath.Join(dir, d.Name()), d.Name())
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	SortByName(entries)
	return entries, nil
}

// SortByName sorts entries by name.
func SortByName(entries []Entry) {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
}

// Rank sorts entries by best validation accuracy, highest first, ties
// by name; runs that have not finished an epoch come last, by name.
func Rank(entries []Entry) {
	sort.SliceStable(entries, func(i, j int) bool {
		a, _, okA := entries[i].Best()
		b, _, okB := entries[j].Best()
		switch {
		case okA != okB:
			return okA
		case okA && a != b:
			return a > b
		}
		return entries[i].Name < entries[j].Name
	})
}

// Column is a column of a Markdown table.
type Column struct {
	// Header is the column's title.
	Header string
	// Right aligns the column to the right (numbers).
	Right bool
	// Cell formats an entry's value.
	Cell func(Entry) string
}

// Markdown returns entries, in their order, as a Markdown table with the
// given columns. A "|" in a cell is escaped.
func Markdown(entries []Entry, cols []Column) string {
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = c.Header
	}
	row(cells)
	for i, c := range cols {
		cells[i] = "---"
		if c.Right {
			cells[i] = "---:"
		}
	}
	b.WriteString("|" + strings.Join(cells, "|") + "|\n")
	for _, e := range entries {
		for i, c := range cols {
			cells[i] = strings.ReplaceAll(c.Cell(e), "|", `\|`)
		}
		row(cells)
	}
	return b.String()
}

// EpochsCell is "N", or "N of M" while the run has finished fewer than
// the M epochs of its configuration.
func EpochsCell(e Entry) string {
	if n := e.Epochs(); n < e.Config.Solver.Epochs {
		return fmt.Sprintf("%d of %d", n, e.Config.Solver.Epochs)
	}
	return strconv.Itoa(e.Epochs())
}

// BestCell is "85.60% (112)": the best validation accuracy and its epoch,
// or "–" before the first epoch.
func BestCell(e Entry) string {
	acc, epoch, ok := e.Best()
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f%% (%d)", 100*acc, epoch)
}

// Columns are the columns of a sweep's leaderboard: trial, state,
// overrides, parameters, epochs, best validation accuracy and its epoch,
// final training loss and wall time.
var Columns = []Column{
	{Header: "trial", Cell: func(e Entry) string { return e.Name }},
	{Header: "state", Cell: func(e Entry) string { return e.State }},
	{Header: "overrides", Cell: func(e Entry) string { return strings.Join(e.Overrides, ", ") }},
	{Header: "params", Right: true, Cell: func(e Entry) string { return strconv.Itoa(e.Params()) }},
	{Header: "epochs", Right: true, Cell: EpochsCell},
	{Header: "best val acc (epoch)", Right: true, Cell: BestCell},
	{Header: "final loss", Right: true, Cell: func(e Entry) string {
		if l, ok := e.FinalLoss(); ok {
			return strconv.FormatFloat(l, 'f', 4, 64)
		}
		return "–"
	}},
	{Header: "wall time", Right: true, Cell: func(e Entry) string { return WallTime(e.WallSeconds()) }},
}

// WallTime formats seconds as "42 s", "12.5 min" or "3.2 h".
func WallTime(s float64) string {
	switch d := time.Duration(s * float64(time.Second)); {
	case d < time.Minute:
		return fmt.Sprintf("%.0f s", s)
	case d < time.Hour:
		return fmt.Sprintf("%.1f min", s/60)
	default:
		return fmt.Sprintf("%.1f h", s/3600)
	}
}

// Record is an entry as written to CSV and JSON. Accuracies are in
// percent; BestValAcc, BestEpoch and FinalLoss are null (empty in CSV)
// before the first epoch.
type Record struct {
	Rank       int      `json:"rank"`
	Trial      string   `json:"trial"`
	State      string   `json:"state"`
	Overrides  []string `json:"overrides"`
	Params     int      `json:"params"`
	Epochs     int      `json:"epochs"`
	BestValAcc *float64 `json:"best_val_acc"`
	BestEpoch  *int     `json:"best_epoch"`
	FinalLoss  *float64 `json:"final_loss"`
	WallSecs   float64  `json:"wall_seconds"`
	// ValAcc is the validation accuracy of every epoch, in percent.
	ValAcc []float64 `json:"val_acc"`
}

// Records returns entries as records, ranked in their order from 1.
func Records(entries []Entry) []Record {
	recs := make([]Record, len(entries))
	for i, e := range entries {
		r := Record{Rank: i + 1, Trial: e.Name, State: e.State, Overrides: e.Overrides, Params: e.Params(),
			Epochs: e.Epochs(), WallSecs: e.WallSeconds(), ValAcc: make([]float64, 0, e.Epochs())}
		if r.Overrides == nil {
			r.Overrides = []string{}
		}
		if acc, epoch, ok := e.Best(); ok {
			acc = percent(acc)
			r.BestValAcc, r.BestEpoch = &acc, &epoch
		}
		if l, ok := e.FinalLoss(); ok {
			r.FinalLoss = &l
		}
		for _, v := range e.History.ValAcc {
			r.ValAcc = append(r.ValAcc, percent(v))
		}
		recs[i] = r
	}
	return recs
}

// CSV returns entries as CSV: a header line
// "rank,trial,state,overrides,params,epochs,best_val_acc,best_epoch,final_loss,wall_seconds"
// and one line per entry in their order, the overrides joined by "; ",
// accuracies in percent.
func CSV(entries []Entry) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"rank", "trial", "state", "overrides", "params", "epochs", "best_val_acc", "best_epoch", "final_loss", "wall_seconds"})
	num := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	for _, r := range Records(entries) {
		epoch := ""
		if r.BestEpoch != nil {
			epoch = strconv.Itoa(*r.BestEpoch)
		}
		w.Write([]string{strconv.Itoa(r.Rank), r.Trial, r.State, strings.Join(r.Overrides, "; "), strconv.Itoa(r.Params),
			strconv.Itoa(r.Epochs), num(r.BestValAcc), epoch, num(r.FinalLoss), strconv.FormatFloat(r.WallSecs, 'f', 3, 64)})
	}
	w.Flush()
	return b.Bytes()
}

// JSON returns the records of entries as an indented JSON array.
func JSON(entries []Entry) ([]byte, error) {
	data, err := json.MarshalIndent(Records(entries), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("leaderboard: %w", err)
	}
	return append(data, '\n'), nil
}

// Write ranks entries (Rank) and writes, in dir, leaderboard.csv,
// leaderboard.json, leaderboard.md (title, then the table of Columns)
// and validation.png (the validation curves), each atomically. The plot
// is left out while no run has finished an epoch.
func Write(dir, title string, entries []Entry) error {
	ranked := append([]Entry(nil), entries...)
	Rank(ranked)
	js, err := JSON(ranked)
	if err != nil {
		return err
	}
	md := "# " + title + "\n\nRanked by best validation accuracy.\n\n" + Markdown(ranked, Columns)
	for _, f := range []struct {
		name string
		data []byte
	}{{CSVFile, CSV(ranked)}, {JSONFile, js}, {MarkdownFile, []byte(md)}} {
		if err := writeFile(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	for _, e := range ranked {
		if e.Epochs() > 0 {
			return PlotValidation(filepath.Join(dir, PlotFile), ranked, title)
		}
	}
	return nil
}

func writeFile(path string, data []byte) error {
	err := checkpoint.WriteBytesAtomic(path, data)
	if err != nil {
		return fmt.Errorf("leaderboard: %s: %w", path, err)
	}
	return nil
}

// percent returns a fraction in percent, rounded to 1e-9 so that an
// accuracy of 464 images in 1,000 is 46.4, not 46.400000000000006.
func percent(x float64) float64 {
	if !finite(x) {
		return x
	}
	return math.Round(x*1e11) / 1e9
}

// finite reports whether x is a finite number.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
