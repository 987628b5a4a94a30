package trainer

import (
	"path/filepath"

	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// File names in a run directory.
const (
	LastCheckpoint = "last.ckpt"
	BestCheckpoint = "best.ckpt"
)

// Checkpoints is the Observer that writes a run's checkpoints into its
// run folder, each atomically: last.ckpt after every epoch, and best.ckpt
// after an epoch with a new best validation accuracy. The solver also
// uses it to write last.ckpt when training is interrupted. Train calls it
// before the solver's other observers, so that the files they write never
// run ahead of the state a resumed run starts from.
type Checkpoints struct {
	// Dir is the run folder, output.checkpoint_dir.
	Dir string
}

// EndEpoch writes last.ckpt and, if the epoch is a new best, best.ckpt.
func (c Checkpoints) EndEpoch(e *EpochEnd) error {
	st := e.State()
	if err := checkpoint.Save(filepath.Join(c.Dir, LastCheckpoint), st); err != nil {
		return err
	}
	if e.Best {
		return checkpoint.Save(filepath.Join(c.Dir, BestCheckpoint), st)
	}
	return nil
}

// SaveLast writes st as last.ckpt, as after an interruption.
func (c Checkpoints) SaveLast(st *checkpoint.File) error {
	return checkpoint.Save(filepath.Join(c.Dir, LastCheckpoint), st)
}
