// Package trainer is the Solver of the assignment: it owns the loss, the
// optimizer, the learning-rate schedule, the training loop and the
// training state. What a run writes or shows is left to Observers, which
// the solver calls after every epoch: Checkpoints, here, writes the
// checkpoints; trainer/history the per-epoch history, trainer/plot the
// training plot and trainer/progress the progress display.
package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/graph/gpu"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer/rundir"
)

// ErrInterrupted is returned by Train when its context is cancelled. The
// solver stopped after a whole batch and wrote last.ckpt, from which
// training resumes exactly.
var ErrInterrupted = errors.New("trainer: training interrupted")

// Solver trains a model on a training set and measures it on a validation
// set, as the Solver of the assignment does.
type Solver struct {
	Config           config.Config
	Model            *model.Model
	TrainSet, ValSet *dataset.Set

	// Epoch is the number of epochs completed; Step the number of batches.
	Epoch int
	Step  int64
	// History has one entry per completed epoch: the average training loss,
	// the validation loss and the training and validation accuracy
	// (fractions in [0, 1], measured on random subsets of NumTrainSamples
	// and NumValSamples images, the validation loss on the same images as
	// the validation accuracy), the learning rate at the end of the epoch
	// and its duration.
	History checkpoint.History
	// BestValAcc is the best validation accuracy so far, reached after
	// epoch BestEpoch.
	BestValAcc float64
	BestEpoch  int
	// Observers are told about every finished epoch, in order, after the
	// checkpoints are written; those that are BatchObservers also follow
	// the batches. NewSolver leaves it empty.
	Observers []Observer
	// Logf, if not nil, receives notes such as the files written.
	Logf func(format string, args ...any)
	// AllowScheduleChange lets Restore accept a checkpoint whose
	// configuration differs from Config in fields of kind
	// config.Schedule (solver.epochs, the learning rate and its
	// schedule). Each such change is recorded in the checkpoint's
	// Amendments. Without it, Restore refuses any change but those of
	// kind config.Free.
	AllowScheduleChange bool
	// Amendments lists the changes of the schedule made on resume, oldest
	// first.
	Amendments []checkpoint.Amendment

	optimizer Optimizer
	// device is where the model computes; on a GPU, devOpt steps the
	// parameters there and optimizer holds its state for checkpoints
	// (copied at each end of epoch, see toHost).
	device     *Device
	devOpt     *DeviceOptimizer
	devParams  []DeviceParam
	schedule   Schedule
	loader     *dataset.Loader
	norm       dataset.Normalization
	net        *model.Net
	classifier *model.Classifier
	params     []Param
	teachers   *teachers // nil without distillation
	// checkpoints writes the run's checkpoints, before the Observers.
	checkpoints Checkpoints

	bestParams, bestStats []checkpoint.Tensor
	// started reports that the model holds the run's starting weights:
	// those of model.init_from, loaded by the first Train of a new run, or
	// a checkpoint's, set by Restore.
	started bool
	// The epoch in progress: batches done, their summed loss and the
	// seconds spent, kept so that an interrupted epoch resumes exactly.
	partial checkpoint.Partial
}

// NewSolver prepares training of m on train, validated on val, as cfg
// describes. The model is usually model.New(cfg.Model, cfg.Seed). With
// distillation configured, it reads the teacher checkpoints. Every net of
// the solver, the teachers' included, runs on m.Backend (the CPU backend
// when it is nil).
func NewSolver(cfg config.Config, m *model.Model, train, val *dataset.Set) (*Solver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	if val.Len() == 0 {
		return nil, fmt.Errorf("trainer: the validation set is empty (data.val_size must be > 0)")
	}
	if train.Len() < cfg.Solver.BatchSize {
		return nil, fmt.Errorf("trainer: the training set has %d images, fewer than %s = %d", train.Len(), batchSizeKey, cfg.Solver.BatchSize)
	}
	s := &Solver{Config: cfg, Model: m, TrainSet: train, ValSet: val}
	s.checkpoints = Checkpoints{Dir: cfg.Output.CheckpointDir}
	var err error
	if s.optimizer, err = NewOptimizer(cfg.Solver.Optimizer); err != nil {
		return nil, err
	}
	s.device = &Device{Name: "cpu"}
	if g, ok := m.Backend.(*gpu.Backend); ok {
		s.device = &Device{Name: fmt.Sprintf("cuda:%d", g.Device().Index), GPU: g}
		if s.devOpt, err = NewDeviceOptimizer(cfg.Solver.Optimizer, g); err != nil {
			return nil, err
		}
		s.devParams = make([]DeviceParam, len(m.Params))
	}
	s.norm = dataset.NewNormalization(cfg.Data.Normalize)
	s.loader, err = dataset.NewLoader(train, dataset.LoaderOptions{
		BatchSize: cfg.Solver.BatchSize,
		Shuffle:   true,
		DropLast:  true,
		Norm:      s.norm,
		Augment: dataset.Augmentation{
			CropPadding:    cfg.Data.Augment.CropPadding,
			HorizontalFlip: cfg.Data.Augment.HorizontalFlip,
			Cutout:         cfg.Data.Augment.Cutout,
		},
		Seed: cfg.Seed,
	})
	if err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	if s.schedule, err = NewSchedule(cfg.Solver.Scheduler, cfg.Solver.Optimizer.LR, cfg.Solver.Epochs, s.loader.NumBatches()); err != nil {
		return nil, err
	}
	s.params = ModelParams(m, cfg.Solver.Optimizer)
	s.classifier = model.NewClassifier(m, cfg.Data.Normalize)
	if d := cfg.Solver.Distillation; d.Enabled() {
		if s.teachers, err = loadTeachers(d, cfg.Data.Normalize, m.Backend); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// StepsPerEpoch returns the number of batches in an epoch.
func (s *Solver) StepsPerEpoch() int { return s.loader.NumBatches() }

// LR returns the learning rate of the next batch.
func (s *Solver) LR() float64 { return s.schedule.LR(s.Epoch, int(s.Step)) }

// Close releases the solver's networks.
func (s *Solver) Close() {
	if s.net != nil {
		s.net.Close()
		s.net = nil
	}
	s.classifier.Close()
	if s.teachers != nil {
		s.teachers.close()
	}
	if s.devOpt != nil {
		s.devOpt.Close()
	}
}

// toHost brings the state that lives on the device (parameters, batch
// norm statistics, optimizer slots) to the host, where State reads it.
func (s *Solver) toHost() error {
	if s.devOpt == nil {
		return nil
	}
	if err := s.Model.ToHost(); err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	st, err := s.devOpt.State()
	if err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	if err := s.optimizer.SetState(st); err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	return nil
}

// Test returns the accuracy in percent of the model in evaluation mode
// (running batch norm statistics) on ds, or on numSamples images of ds
// drawn at random with rng when 0 < numSamples < ds.Len().
func (s *Solver) Test(ds *dataset.Set, numSamples int, rng *rand.Rand) (float64, error) {
	acc, err := s.accuracy(ds, numSamples, rng)
	return 100 * acc, err
}

// accuracy is Test as a fraction in [0, 1].
func (s *Solver) accuracy(ds *dataset.Set, numSamples int, rng *rand.Rand) (float64, error) {
	m, err := measure(s.classifier, ds, s.norm, numSamples, rng, nil)
	return m.accuracy(), err
}

// Evaluate classifies ds (or a random subset of numSamples images of it)
// in evaluation mode and returns the number of correct predictions and of
// images. When confusion is not nil, confusion[true][predicted] counts each
// image.
func Evaluate(c *model.Classifier, ds *dataset.Set, norm dataset.Normalization, numSamples int, rng *rand.Rand, confusion *[dataset.NumClasses][dataset.NumClasses]int) (correct, n int, err error) {
	m, err := measure(c, ds, norm, numSamples, rng, confusion)
	return m.correct, m.n, err
}

// measurement is what measure finds on a set of images.
type measurement struct {
	correct, n int
	// lossSum is the sum over the images of the cross-entropy.
	lossSum float64
}

// accuracy returns the fraction of correct predictions.
func (m measurement) accuracy() float64 { return float64(m.correct) / float64(m.n) }

// loss returns the mean cross-entropy.
func (m measurement) loss() float64 { return m.lossSum / float64(m.n) }

// measure is Evaluate, which also sums the cross-entropy of the images.
func measure(c *model.Classifier, ds *dataset.Set, norm dataset.Normalization, numSamples int, rng *rand.Rand, confusion *[dataset.NumClasses][dataset.NumClasses]int) (measurement, error) {
	idx := make([]int, ds.Len())
	for i := range idx {
		idx[i] = i
	}
	if numSamples > 0 && numSamples < len(idx) {
		if rng == nil {
			return measurement{}, errors.New("trainer: a subsample needs a random source")
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:numSamples]
	}
	m := measurement{n: len(idx)}
	x := make([]float32, model.EvalBatch*dataset.ImageSize)
	labels := make([]int, model.EvalBatch)
	for lo := 0; lo < len(idx); lo += model.EvalBatch {
		chunk := idx[lo:min(lo+model.EvalBatch, len(idx))]
		ds.Fill(x, labels, chunk, norm)
		logits, err := c.Logits(x[:len(chunk)*dataset.ImageSize])
		if err != nil {
			return measurement{}, err
		}
		for i := range chunk {
			z := logits[i*dataset.NumClasses : (i+1)*dataset.NumClasses]
			p := model.Argmax(z)
			if p == labels[i] {
				m.correct++
			}
			m.lossSum += model.CrossEntropy(z, labels[i])
			if confusion != nil {
				confusion[labels[i]][p]++
			}
		}
	}
	return m, nil
}

// evalRNG returns the random source of the evaluation subsets after an
// epoch, derived from the seed and the epoch alone so that a resumed run
// draws the same subsets.
func (s *Solver) evalRNG(epoch int, which uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(s.Config.Seed), uint64(epoch)<<8|which))
}

// Train runs numEpochs more epochs, fewer when early stopping
// (solver.early_stopping, see EarlyStop) ends the run first, which it
// logs with the reason. Per epoch it records the average loss, measures
// training and validation accuracy and the validation loss, moves the learning rate along
// its schedule, and keeps a copy of the parameters and batch norm
// statistics when the validation accuracy is the best so far; then it
// writes last.ckpt and (on improvement) best.ckpt in the run directory
// (see Checkpoints) and calls the Observers. When all epochs are done the
// best parameters are loaded back into the model and saved in the models
// directory.
//
// The first Train of a new run (not restored from a checkpoint) starts
// from the weights of model.init_from when it is set.
//
// When ctx is cancelled, Train finishes the current batch, writes last.ckpt
// and returns ErrInterrupted. A non-finite loss stops training with an
// error and writes nothing, so the last checkpoint stays the last good one.
func (s *Solver) Train(ctx context.Context, numEpochs int) error {
	if numEpochs <= 0 {
		return nil
	}
	if s.net == nil {
		var net *model.Net
		var err error
		if s.teachers != nil {
			d := s.Config.Solver.Distillation
			net, err = s.Model.BuildDistillation(s.Config.Solver.BatchSize, d.Weight, d.Temperature)
		} else {
			net, err = s.Model.Build(s.Config.Solver.BatchSize, true)
		}
		if err != nil {
			return s.device.OutOfMemory(err, s.Config.Solver.BatchSize, batchSizeKey)
		}
		s.net = net
	}
	if !s.started && s.Config.Model.InitFrom != "" {
		if err := s.loadInitFrom(); err != nil {
			return err
		}
	}
	s.started = true
	if err := s.CheckOutputs(); err != nil {
		return err
	}
	last := s.Epoch + numEpochs
	for s.Epoch < last {
		if reason := s.EarlyStop(); reason != "" {
			s.logf("early stopping after epoch %d: %s; the best epoch, %d (validation accuracy %.2f%%), is kept as the model",
				s.Epoch, reason, s.BestEpoch, 100*s.BestValAcc)
			break
		}
		err := ErrInterrupted
		if ctx.Err() == nil {
			err = s.trainEpoch(ctx)
		}
		if errors.Is(err, ErrInterrupted) {
			werr := s.toHost()
			if werr == nil {
				werr = s.checkpoints.SaveLast(s.State())
			}
			if werr != nil {
				// Not ErrInterrupted: the state of this session is lost.
				return fmt.Errorf("trainer: training was interrupted at epoch %d, batch %d, but its state could not be saved, so the batches since the last checkpoint are lost: %w", s.Epoch+1, s.partial.Batches, werr)
			}
		}
		if err != nil {
			return err
		}
		if err := s.endEpoch(); err != nil {
			return err
		}
	}
	_, err := s.SaveBestModel()
	return err
}

// CheckOutputs creates the run's output folders (checkpoint_dir, the plots
// folder and models_dir) and checks that each is writable, so that a bad
// path fails before the first epoch. Train calls it.
func (s *Solver) CheckOutputs() error {
	o := s.Config.Output
	for _, d := range []struct{ key, dir string }{
		{"output.checkpoint_dir", o.CheckpointDir},
		{"output.plots_dir", o.PlotsDirOrDefault()},
		{"output.models_dir", o.ModelsDir},
	} {
		if err := rundir.CheckWritable(d.key, d.dir); err != nil {
			return fmt.Errorf("trainer: %w", err)
		}
	}
	return nil
}

// trainEpoch runs the remaining batches of the current epoch.
func (s *Solver) trainEpoch(ctx context.Context) error {
	it := s.loader.Epoch(s.Epoch)
	defer it.Close()
	steps := s.loader.NumBatches()
	var batchObservers []BatchObserver
	for _, o := range s.Observers {
		if b, ok := o.(BatchObserver); ok {
			batchObservers = append(batchObservers, b)
		}
	}
	for _, o := range batchObservers {
		o.StartEpoch(EpochStart{Epoch: s.Epoch + 1, Epochs: s.Config.Solver.Epochs, Steps: steps, Done: s.partial.Batches, BatchSize: s.net.Batch})
	}
	for range s.partial.Batches {
		it.Next() // batches done before an interruption
	}
	start := time.Now()
	done := s.partial.Batches
	for it.Next() {
		b := it.Batch()
		copy(s.net.Input(), b.X)
		if err := s.net.SetLabels(b.Labels, s.Config.Solver.LabelSmoothing); err != nil {
			return err
		}
		if s.teachers != nil {
			probs, err := s.teachers.predict(b.X)
			if err != nil {
				return err
			}
			if err := s.net.SetTeacherProbs(probs); err != nil {
				return err
			}
		}
		if err := s.net.Run(); err != nil {
			return s.device.OutOfMemory(err, s.net.Batch, batchSizeKey)
		}
		loss := s.net.LossValue()
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("trainer: the loss became %v at epoch %d, batch %d: training stopped; the last checkpoint in %s is the last good state (try a lower solver.optimizer.lr)",
				loss, s.Epoch+1, done+1, s.Config.Output.CheckpointDir)
		}
		if s.devOpt != nil {
			DeviceParams(s.devParams, s.params, s.Model, s.net)
			if err := s.devOpt.Step(s.devParams, s.LR()); err != nil {
				return s.device.OutOfMemory(err, s.net.Batch, batchSizeKey)
			}
		} else {
			for i := range s.params {
				s.params[i].Grad = s.net.Gradient(i)
			}
			s.optimizer.Step(s.params, s.LR())
		}
		s.Step++
		done++
		s.partial.Batches = done
		s.partial.LossSum += loss
		if len(batchObservers) > 0 {
			el := s.partial.Seconds + time.Since(start).Seconds()
			p := BatchProgress{
				Epoch: s.Epoch + 1, Epochs: s.Config.Solver.Epochs, Done: done, Steps: steps,
				AvgLoss: s.partial.LossSum / float64(done), Seconds: el, ImagesPerSec: float64(done*s.net.Batch) / el,
			}
			for _, o := range batchObservers {
				o.Batch(p)
			}
		}
		if ctx.Err() != nil && done < steps {
			s.partial.Seconds += time.Since(start).Seconds()
			return ErrInterrupted
		}
	}
	s.partial.Seconds += time.Since(start).Seconds()
	return nil
}

// endEpoch measures and records the finished epoch, then calls the
// checkpoint writer and the observers.
func (s *Solver) endEpoch() error {
	if s.partial.Batches == 0 {
		return fmt.Errorf("trainer: epoch %d had no batch of %d images", s.Epoch+1, s.Config.Solver.BatchSize)
	}
	if err := s.toHost(); err != nil {
		return err
	}
	lr := s.schedule.LR(s.Epoch, int(s.Step)-1)
	trainAcc, err := s.accuracy(s.TrainSet, s.Config.Solver.NumTrainSamples, s.evalRNG(s.Epoch, 1))
	if err != nil {
		return err
	}
	val, err := measure(s.classifier, s.ValSet, s.norm, s.Config.Solver.NumValSamples, s.evalRNG(s.Epoch, 2), nil)
	if err != nil {
		return err
	}
	valAcc := val.accuracy()
	s.Epoch++
	h := &s.History
	h.Loss = append(h.Loss, s.partial.LossSum/float64(s.partial.Batches))
	h.ValLoss = append(h.ValLoss, val.loss())
	h.TrainAcc = append(h.TrainAcc, trainAcc)
	h.ValAcc = append(h.ValAcc, valAcc)
	h.LR = append(h.LR, lr)
	h.Seconds = append(h.Seconds, s.partial.Seconds)
	s.partial = checkpoint.Partial{}
	improved := h.Best() == s.Epoch
	if improved {
		s.BestValAcc, s.BestEpoch = valAcc, s.Epoch
		s.bestParams, s.bestStats = s.Model.ParamTensors(), s.Model.StatTensors()
	}
	e := &EpochEnd{
		Epoch: s.Epoch, Epochs: s.Config.Solver.Epochs,
		Loss: h.Loss[s.Epoch-1], ValLoss: h.ValLoss[s.Epoch-1], TrainAcc: trainAcc, ValAcc: valAcc, LR: lr, Seconds: h.Seconds[s.Epoch-1],
		Best: improved, BestEpoch: s.BestEpoch, BestValAcc: s.BestValAcc,
		History: s.History, Config: s.Config, State: s.State,
	}
	if err := s.checkpoints.EndEpoch(e); err != nil {
		return err
	}
	for _, o := range s.Observers {
		if err := o.EndEpoch(e); err != nil {
			return err
		}
	}
	return nil
}

// BestModelPath returns the path of the run's best model:
// models_dir/NAME.ckpt.
func (s *Solver) BestModelPath() string {
	return filepath.Join(s.Config.Output.ModelsDir, s.Config.Output.Name+".ckpt")
}

// SaveBestModel loads the best parameters and statistics into the model
// and saves the state at BestModelPath, returning that path. Train calls
// it when its epochs are done; a caller that finds the run already
// finished calls it to write a best model that is missing. It does
// nothing, and returns "", before the first evaluation.
func (s *Solver) SaveBestModel() (string, error) {
	if s.bestParams == nil {
		return "", nil
	}
	if err := s.Model.SetParams(s.bestParams); err != nil {
		return "", err
	}
	if err := s.Model.SetStats(s.bestStats); err != nil {
		return "", err
	}
	if err := os.MkdirAll(s.Config.Output.ModelsDir, 0o755); err != nil {
		return "", fmt.Errorf("trainer: output.models_dir: %w", err)
	}
	path := s.BestModelPath()
	if err := s.save(path); err != nil {
		return "", err
	}
	s.logf("best model (epoch %d, validation accuracy %.2f%%) saved to %s", s.BestEpoch, 100*s.BestValAcc, path)
	return path, nil
}

func (s *Solver) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// State returns the whole training state as a checkpoint.
func (s *Solver) State() *checkpoint.File {
	st := s.optimizer.State()
	return &checkpoint.File{
		Version:    checkpoint.Version,
		Config:     s.Config,
		Epoch:      s.Epoch,
		Step:       s.Step,
		Params:     s.Model.ParamTensors(),
		Stats:      s.Model.StatTensors(),
		BestParams: s.bestParams,
		BestStats:  s.bestStats,
		BestValAcc: s.BestValAcc,
		BestEpoch:  s.BestEpoch,
		Optimizer:  st,
		Schedule:   checkpoint.ScheduleState{Name: s.Config.Solver.Scheduler.Name, Step: s.Step},
		History:    s.History,
		Partial:    s.partial,
		Amendments: s.Amendments,
		Seed:       s.Config.Seed,
	}
}

// save writes the training state to path atomically.
func (s *Solver) save(path string) error {
	return checkpoint.Save(path, s.State())
}

// Restore sets the solver, its model and its optimizer to the state of a
// checkpoint, so that Train continues where that run stopped. The
// checkpoint must come from the same architecture.
func (s *Solver) Restore(f *checkpoint.File) error {
	// Check everything first, so that a bad checkpoint changes nothing.
	amendments, err := s.compareConfig(f)
	if err != nil {
		return err
	}
	if err := checkpoint.MatchShapes(s.Model.ParamTensors(), f.Params); err != nil {
		return fmt.Errorf("trainer: the checkpoint's parameters do not fit this architecture: %w", err)
	}
	if err := checkpoint.MatchShapes(s.Model.StatTensors(), f.Stats); err != nil {
		return fmt.Errorf("trainer: the checkpoint's batch norm statistics do not fit this architecture: %w", err)
	}
	st := f.Optimizer
	probe := make([]Param, len(s.params))
	for i, p := range s.params {
		p.Grad = p.Data // Check wants gradients as long as the values
		probe[i] = p
	}
	if err := CheckState(st, probe); err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	steps := s.loader.NumBatches()
	if f.Partial.Batches >= steps || f.Step != int64(f.Epoch*steps+f.Partial.Batches) {
		return fmt.Errorf("trainer: the checkpoint is at epoch %d, step %d (%d batches into the epoch), which does not fit %d batches per epoch: was the batch size or the data split changed?", f.Epoch, f.Step, f.Partial.Batches, steps)
	}
	if err := s.optimizer.SetState(st); err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	if s.devOpt != nil {
		if err := s.devOpt.SetState(st); err != nil {
			return fmt.Errorf("trainer: %w", err)
		}
	}
	if err := s.Model.SetParams(f.Params); err != nil {
		return err
	}
	if err := s.Model.SetStats(f.Stats); err != nil {
		return err
	}
	s.Epoch, s.Step = f.Epoch, f.Step
	s.started = true
	s.History = f.History
	s.BestValAcc, s.BestEpoch = f.BestValAcc, f.BestEpoch
	s.bestParams, s.bestStats = f.BestParams, f.BestStats
	s.partial = f.Partial
	s.Amendments = append(append([]checkpoint.Amendment(nil), f.Amendments...), amendments...)
	for _, a := range amendments {
		s.logf("changed on resume after epoch %d: %s: %s -> %s", a.Epoch, a.Path, a.Old, a.New)
	}
	return nil
}

// compareConfig compares the solver's configuration with the one the
// checkpoint's run was trained with. It refuses every change that alters
// the run's meaning, listing them all, and returns the changes of the
// schedule that AllowScheduleChange lets through.
func (s *Solver) compareConfig(f *checkpoint.File) ([]checkpoint.Amendment, error) {
	var refused, schedule []config.Change
	for _, c := range config.Diff(f.Config, s.Config) {
		switch {
		case c.Kind == config.Free:
		case c.Kind == config.Schedule && s.AllowScheduleChange:
			schedule = append(schedule, c)
		default:
			refused = append(refused, c)
		}
	}
	if len(refused) > 0 {
		hint := "resume with the configuration the run was trained with (config.yaml in its run folder), or start a new run"
		for _, c := range refused {
			if c.Kind == config.Schedule {
				hint += "; to change the number of epochs or the learning-rate schedule on purpose, resume with -allow-schedule-change (trainer.Solver.AllowScheduleChange)"
				break
			}
		}
		return nil, fmt.Errorf("trainer: the configuration differs from the one the checkpoint was trained with:\n%s\n%s", config.FormatChanges(refused), hint)
	}
	amendments := make([]checkpoint.Amendment, len(schedule))
	for i, c := range schedule {
		amendments[i] = checkpoint.Amendment{Epoch: f.Epoch, Step: f.Step, Path: c.Path, Old: c.Old, New: c.New}
	}
	return amendments, nil
}

// Resume loads the checkpoint at path into the solver.
func (s *Solver) Resume(path string) error {
	f, err := checkpoint.Load(path)
	if err != nil {
		return err
	}
	if err := s.Restore(f); err != nil {
		return fmt.Errorf("%w (checkpoint %s)", err, path)
	}
	if f.Unchecked() {
		s.logf("note: %s is a checkpoint of format version 1, which has no checksum; the checkpoints of this run are written in version %d", path, checkpoint.Version)
	}
	return nil
}
