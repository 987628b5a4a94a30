package trainer

import (
	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// Observer is told about every epoch the solver finishes. The solver only
// trains and measures; what is written or shown about a run (checkpoints,
// the history file, the plot, a progress display) is an Observer.
// Checkpoints, which Train always calls first, is one; the packages
// trainer/history, trainer/plot and trainer/progress hold the others.
type Observer interface {
	// EndEpoch is called once per finished epoch, after the epoch has
	// been measured and recorded in the solver's history. An error stops
	// training: Train returns it.
	EndEpoch(e *EpochEnd) error
}

// BatchObserver is an Observer that also follows the batches of each
// epoch, such as a progress display. Its methods are called from the
// training loop and should return quickly.
type BatchObserver interface {
	Observer
	// StartEpoch is called before the first batch of an epoch is
	// trained, also when the epoch resumes after an interruption.
	StartEpoch(e EpochStart)
	// Batch is called after every batch.
	Batch(b BatchProgress)
}

// EpochStart describes an epoch about to be trained.
type EpochStart struct {
	// Epoch is the 1-based number of the epoch; Epochs is the number of
	// epochs of the whole run (solver.epochs).
	Epoch, Epochs int
	// Steps is the number of batches in the epoch, of which Done were
	// trained before an interruption (0 unless the run resumed in the
	// middle of the epoch).
	Steps, Done int
	// BatchSize is the number of images per batch.
	BatchSize int
}

// BatchProgress describes the progress of the epoch after a batch.
type BatchProgress struct {
	// Epoch is the 1-based number of the epoch; Epochs the run's total.
	Epoch, Epochs int
	// Done is the number of batches of the epoch trained, out of Steps.
	Done, Steps int
	// AvgLoss is the average training loss of the Done batches.
	AvgLoss float64
	// Seconds is the training time of the Done batches, including the
	// part of the epoch trained before an interruption.
	Seconds float64
	// ImagesPerSec is the training throughput over the Done batches.
	ImagesPerSec float64
}

// EpochEnd describes an epoch that has just finished. Its values are
// those of the epoch's entry in History (the last one), and the
// accuracies are fractions in [0, 1], as in History.
type EpochEnd struct {
	// Epoch is the number of epochs completed, this one included, and
	// its 1-based number; Epochs is the number of epochs of the run.
	Epoch, Epochs int
	// Loss is the average training loss over the epoch's batches;
	// ValLoss the mean cross-entropy on the validation images on which
	// ValAcc is measured (see checkpoint.History).
	Loss, ValLoss float64
	// TrainAcc and ValAcc are the measured accuracies.
	TrainAcc, ValAcc float64
	// LR is the learning rate of the epoch's last batch.
	LR float64
	// Seconds is the training time of the epoch (evaluation excluded).
	Seconds float64
	// Best reports that ValAcc is the best validation accuracy so far:
	// the solver keeps these weights as the best ones.
	Best bool
	// BestEpoch is the epoch of the best validation accuracy so far,
	// BestValAcc that accuracy.
	BestEpoch  int
	BestValAcc float64
	// History holds every finished epoch, this one last. Observers read
	// it and must not modify it.
	History checkpoint.History
	// Config is the run's configuration.
	Config config.Config
	// State returns the solver's whole training state as a checkpoint
	// (see Solver.State). Each call copies the weights.
	State func() *checkpoint.File
}
