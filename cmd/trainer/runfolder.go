package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/trainer"
	"github.com/cifar-resnet/trainer/trainer/history"
	"github.com/cifar-resnet/trainer/trainer/plot"
)

// startAfresh checks, for a run started without -resume, that its run
// folder holds no run: one that holds a last.ckpt is refused with the
// command that resumes it, unless -force was given, in which case the
// previous run's checkpoints, history, plot and best model are deleted so
// that nothing of it is mistaken for the new run's. The caller holds the
// run folder's lock.
func startAfresh(cfg config.Config, opts trainOptions) error {
	dir := cfg.Output.CheckpointDir
	last := filepath.Join(dir, trainer.LastCheckpoint)
	switch _, err := os.Stat(last); {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("trainer: output.checkpoint_dir: %w", err)
	}
	if !opts.force {
		done := ""
		if h, err := history.Read(filepath.Join(dir, history.File)); err == nil {
			done = fmt.Sprintf(" (%d of %d epochs done)", h.Len(), cfg.Solver.Epochs)
		}
		return fmt.Errorf("trainer: %s already holds a run%s; nothing was changed.\n"+
			"resume it with: %s\n"+
			"or start afresh: add -force (which deletes that run's checkpoints, history, plot and best model), or give this run another name (output.name, e.g. -set output.name=%s-2)",
			dir, done, resumeCommand(invocation, opts.args, last), cfg.Output.Name)
	}
	for _, f := range []string{
		last,
		filepath.Join(dir, trainer.BestCheckpoint),
		filepath.Join(dir, history.File),
		filepath.Join(dir, history.MetricsFile),
		filepath.Join(cfg.Output.PlotsDirOrDefault(), plot.File),
		filepath.Join(cfg.Output.ModelsDir, cfg.Output.Name+".ckpt"),
	} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("trainer: -force: %w", err)
		}
	}
	return nil
}

// overridesHeader returns the YAML comment that heads a run's saved
// config.yaml when -set flags changed its file, listing them; the values
// below it are those in effect.
func overridesHeader(sets []config.Override) []byte {
	if len(sets) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("# The configuration file with these overrides applied:\n")
	for _, o := range sets {
		b.WriteString("#   " + config.OverrideFlag + " " + shellQuote(o.String()) + "\n")
	}
	return []byte(b.String())
}
