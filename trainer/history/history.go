// Package history writes and reads the per-epoch record of a training
// run, history.csv in its run folder, and keeps metrics.jsonl, the same
// record as one JSON object per line, appended while the run trains so
// that other programs can follow it. Writer is the trainer Observer that
// keeps both up to date.
package history

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
)

// File names in a run directory.
const (
	// File is the per-epoch history, as CSV.
	File = "history.csv"
	// MetricsFile is the same record as JSON Lines.
	MetricsFile = "metrics.jsonl"
)

// column is one value of an epoch's record, after the epoch number: its
// name in the CSV header and the JSON key, and its slice in a History.
type column struct {
	name   string
	values func(h *checkpoint.History) *[]float64
}

// columns are the values of an epoch's record, in the order of
// history.csv and metrics.jsonl.
var columns = []column{
	{"loss", func(h *checkpoint.History) *[]float64 { return &h.Loss }},
	{"val_loss", func(h *checkpoint.History) *[]float64 { return &h.ValLoss }},
	{"train_acc", func(h *checkpoint.History) *[]float64 { return &h.TrainAcc }},
	{"val_acc", func(h *checkpoint.History) *[]float64 { return &h.ValAcc }},
	{"lr", func(h *checkpoint.History) *[]float64 { return &h.LR }},
	{"seconds", func(h *checkpoint.History) *[]float64 { return &h.Seconds }},
}

// legacyColumn is the column that files written before it existed lack.
const legacyColumn = "val_loss"

// header returns the header of history.csv, with the val_loss column or,
// for the files written before it existed, without.
func header(legacy bool) []string {
	h := []string{"epoch"}
	for _, c := range columns {
		if !legacy || c.name != legacyColumn {
			h = append(h, c.name)
		}
	}
	return h
}

// lengths describes the lengths of h's slices, for an error message.
func lengths(h *checkpoint.History) string {
	parts := make([]string, len(columns))
	for i, c := range columns {
		parts[i] = fmt.Sprintf("%s %d", c.name, len(*c.values(h)))
	}
	return strings.Join(parts, ", ")
}

// Writer is the trainer.Observer that, after every epoch, rewrites
// Dir/history.csv from the solver's history and appends the epoch's
// record to Dir/metrics.jsonl.
type Writer struct {
	// Dir is the run folder, output.checkpoint_dir.
	Dir string
	// lines is the number of epochs in metrics.jsonl, once it has been
	// written in full.
	lines  int
	synced bool
}

// EndEpoch writes history.csv and appends to metrics.jsonl. The first
// call of a session writes metrics.jsonl in full from the history
// (atomically), so that a resumed run's file holds exactly one line per
// epoch of its checkpoint, whatever an earlier session left; later calls
// append the new epoch's line with one write and sync it.
func (w *Writer) EndEpoch(e *trainer.EpochEnd) error {
	if err := Write(filepath.Join(w.Dir, File), e.History); err != nil {
		return err
	}
	path := filepath.Join(w.Dir, MetricsFile)
	n := e.History.Len()
	if !w.synced || n < w.lines {
		if err := WriteMetrics(path, e.History); err != nil {
			return err
		}
		w.synced, w.lines = true, n
		return nil
	}
	var buf bytes.Buffer
	improved := e.History.Improved()
	for i := w.lines; i < n; i++ {
		appendRecord(&buf, &e.History, i, improved[i])
	}
	if err := appendFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("history: %s: %w", path, err)
	}
	w.lines = n
	return nil
}

// appendFile appends b to the file at path with one write, and syncs it.
func appendFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteMetrics writes h to path as JSON Lines, atomically: one object per
// epoch, in order, with the keys "epoch" (1-based), the columns of
// history.csv ("loss", "val_loss", "train_acc", "val_acc", "lr",
// "seconds"), and "best" (true when the epoch set a new best validation
// accuracy, see checkpoint.History.Improved):
//
//	{"epoch":1,"loss":2.05,"val_loss":1.72,"train_acc":0.37,"val_acc":0.38,"lr":0.0376,"seconds":29.8,"best":true}
//
// Numbers are written in the shortest form that parses back to the same
// float64; a value that is not finite (the val_loss of epochs recorded
// before it was measured) is null.
func WriteMetrics(path string, h checkpoint.History) error {
	n := h.Len()
	if n < 0 {
		return fmt.Errorf("history: %s: history slices differ in length (%s)", path, lengths(&h))
	}
	var buf bytes.Buffer
	for i, best := range h.Improved() {
		appendRecord(&buf, &h, i, best)
	}
	err := checkpoint.WriteBytesAtomic(path, buf.Bytes())
	if err != nil {
		return fmt.Errorf("history: %s: %w", path, err)
	}
	return nil
}

// appendRecord writes the JSON line of epoch i+1 of h to buf.
func appendRecord(buf *bytes.Buffer, h *checkpoint.History, i int, best bool) {
	fmt.Fprintf(buf, `{"epoch":%d`, i+1)
	for _, c := range columns {
		v := (*c.values(h))[i]
		buf.WriteString(`,"` + c.name + `":`)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			buf.WriteString("null")
		} else {
			buf.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	fmt.Fprintf(buf, `,"best":%t}`+"\n", best)
}

// Write writes h to path as CSV, atomically: one header line
// "epoch,loss,val_loss,train_acc,val_acc,lr,seconds" and one line per
// epoch, with 1-based epoch numbers and the values in the shortest form
// that parses back to the same float64 (strconv 'g' format, precision -1;
// "NaN" for a validation loss that was not measured). It returns an error
// if the slices of h differ in length.
func Write(path string, h checkpoint.History) error {
	n := h.Len()
	if n < 0 {
		return fmt.Errorf("history: %s: history slices differ in length (%s)", path, lengths(&h))
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header(false))
	rec := make([]string, 1+len(columns))
	for i := 0; i < n; i++ {
		rec[0] = strconv.Itoa(i + 1)
		for j, c := range columns {
			rec[j+1] = strconv.FormatFloat((*c.values(&h))[i], 'g', -1, 64)
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("history: %s: %w", path, err)
	}
	err := checkpoint.WriteBytesAtomic(path, buf.Bytes())
	if err != nil {
		return fmt.Errorf("history: %s: %w", path, err)
	}
	return nil
}

// Read parses a file written by Write, or by earlier versions, whose
// header lacks the val_loss column: their validation losses are read as
// NaN. The header must be exactly one of the two, every line must have as
// many fields as the header and the epochs must count up from 1. Errors
// name the path, the line and the column (the 1-based field number, with
// its name) of malformed content. A file with only the header gives a
// History with nil slices.
func Read(path string) (checkpoint.History, error) {
	var h checkpoint.History
	fd, err := os.Open(path)
	if err != nil {
		return h, fmt.Errorf("history: %w", err)
	}
	defer fd.Close()
	r := csv.NewReader(fd)
	r.FieldsPerRecord = -1 // checked below, with a clearer message
	r.ReuseRecord = true
	current, legacy := header(false), header(true)
	names := current // the file's columns, once its header is read
	fail := func(line, col int, format string, args ...any) (checkpoint.History, error) {
		msg := fmt.Sprintf(format, args...)
		if col > 0 {
			return checkpoint.History{}, fmt.Errorf("history: %s: line %d, column %d (%s): %s", path, line, col, names[col-1], msg)
		}
		return checkpoint.History{}, fmt.Errorf("history: %s: line %d: %s", path, line, msg)
	}
	// values[j] receives field j+1 of every line.
	var values []*[]float64
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return checkpoint.History{}, fmt.Errorf("history: %s: line %d, byte %d: %w", path, pe.Line, pe.Column, pe.Err)
			}
			return checkpoint.History{}, fmt.Errorf("history: %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if values == nil {
			switch len(rec) {
			case len(current):
			case len(legacy):
				names = legacy
			default:
				return fail(line, 0, "%d fields, want %d (or %d, without %s, in files of earlier versions)", len(rec), len(current), len(legacy), legacyColumn)
			}
			for i, name := range names {
				if rec[i] != name {
					return fail(line, i+1, "header %q, want %q", rec[i], name)
				}
			}
			for _, c := range columns {
				if len(names) == len(current) || c.name != legacyColumn {
					values = append(values, c.values(&h))
				}
			}
			continue
		}
		if len(rec) != len(names) {
			return fail(line, 0, "%d fields, want %d", len(rec), len(names))
		}
		epoch, err := strconv.Atoi(rec[0])
		if err != nil {
			return fail(line, 1, "invalid epoch %q", rec[0])
		}
		if want := len(h.Loss) + 1; epoch != want {
			return fail(line, 1, "epoch %d, want %d (epochs must count up from 1)", epoch, want)
		}
		for j, dst := range values {
			v, err := strconv.ParseFloat(rec[j+1], 64)
			if err != nil {
				return fail(line, j+2, "invalid number %q", rec[j+1])
			}
			*dst = append(*dst, v)
		}
		if len(names) == len(legacy) {
			h.ValLoss = append(h.ValLoss, math.NaN())
		}
	}
	if values == nil {
		return checkpoint.History{}, fmt.Errorf("history: %s: missing header line", path)
	}
	return h, nil
}
