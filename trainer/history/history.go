// Package history writes and reads the per-epoch record of a training
// run, history.csv in its run folder, and provides Writer, the trainer
// Observer that keeps that file up to date during training.
package history

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"path/filepath"

	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
)

// File is the name of the per-epoch history in a run directory.
const File = "history.csv"

// historyHeader is the first record of a history file.
var historyHeader = []string{"epoch", "loss", "train_acc", "val_acc", "lr", "seconds"}

// Writer is the trainer.Observer that rewrites Dir/history.csv from the
// solver's history after every epoch.
type Writer struct {
	// Dir is the run folder, output.checkpoint_dir.
	Dir string
}

// EndEpoch writes the history of every epoch so far.
func (w Writer) EndEpoch(e *trainer.EpochEnd) error {
	return Write(filepath.Join(w.Dir, File), e.History)
}

// Write writes h to path as CSV, atomically: one header line
// "epoch,loss,train_acc,val_acc,lr,seconds" and one line per epoch, with
// 1-based epoch numbers and the values in the shortest form that parses
// back to the same float64 (strconv 'g' format, precision -1). It returns
// an error if the slices of h differ in length.
func Write(path string, h checkpoint.History) error {
	n := h.Len()
	if n < 0 {
		return fmt.Errorf("history: %s: history slices differ in length (loss %d, train_acc %d, val_acc %d, lr %d, seconds %d)",
			path, len(h.Loss), len(h.TrainAcc), len(h.ValAcc), len(h.LR), len(h.Seconds))
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(historyHeader)
	rec := make([]string, len(historyHeader))
	for i := 0; i < n; i++ {
		rec[0] = strconv.Itoa(i + 1)
		for j, v := range []float64{h.Loss[i], h.TrainAcc[i], h.ValAcc[i], h.LR[i], h.Seconds[i]} {
			rec[j+1] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("history: %s: %w", path, err)
	}
	err := checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
	if err != nil {
		return fmt.Errorf("history: %s: %w", path, err)
	}
	return nil
}

// Read parses a file written by Write. The header must be exactly that of
// Write, every line must have six fields and the
// epochs must count up from 1. Errors name the path, the line and the
// column (the 1-based field number, with its name) of malformed content.
// A file with only the header gives a History with nil slices.
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
	fail := func(line, col int, format string, args ...any) (checkpoint.History, error) {
		msg := fmt.Sprintf(format, args...)
		if col > 0 {
			return checkpoint.History{}, fmt.Errorf("history: %s: line %d, column %d (%s): %s", path, line, col, historyHeader[col-1], msg)
		}
		return checkpoint.History{}, fmt.Errorf("history: %s: line %d: %s", path, line, msg)
	}
	header := true
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
		if len(rec) != len(historyHeader) {
			return fail(line, 0, "%d fields, want %d", len(rec), len(historyHeader))
		}
		if header {
			for i, name := range historyHeader {
				if rec[i] != name {
					return fail(line, i+1, "header %q, want %q", rec[i], name)
				}
			}
			header = false
			continue
		}
		epoch, err := strconv.Atoi(rec[0])
		if err != nil {
			return fail(line, 1, "invalid epoch %q", rec[0])
		}
		if want := len(h.Loss) + 1; epoch != want {
			return fail(line, 1, "epoch %d, want %d (epochs must count up from 1)", epoch, want)
		}
		var v [5]float64
		for j := range v {
			v[j], err = strconv.ParseFloat(rec[j+1], 64)
			if err != nil {
				return fail(line, j+2, "invalid number %q", rec[j+1])
			}
		}
		h.Loss = append(h.Loss, v[0])
		h.TrainAcc = append(h.TrainAcc, v[1])
		h.ValAcc = append(h.ValAcc, v[2])
		h.LR = append(h.LR, v[3])
		h.Seconds = append(h.Seconds, v[4])
	}
	if header {
		return checkpoint.History{}, fmt.Errorf("history: %s: missing header line", path)
	}
	return h, nil
}
