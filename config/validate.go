package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

const (
	// trainImages is the number of images in the CIFAR-10 training set,
	// from which Data.ValSize images are held out for validation.
	trainImages = 50000
	// maxCropPadding is the largest Augment.CropPadding accepted.
	maxCropPadding = 16
	// imagePixels is the number of pixels of one CIFAR-10 image plane,
	// 32x32: the largest plane any layer of the network outputs.
	imagePixels = 32 * 32
)

// Limits on the size of the network and of its batches. They keep every
// count of parameters and values far from overflowing an int and every
// tensor that building or training the network allocates within reach
// (the largest weight, 3·3·maxChannels², holds 38 million values; an
// activation at most maxBatchValues), so that an absurd configuration is an
// error naming its key rather than the Go runtime dying out of memory.
// They are far above any network this project trains.
const (
	// maxChannels is the largest model.stem_channels and
	// model.stages[i].channels.
	maxChannels = 2048
	// maxBlocks is the most residual blocks of all stages together, and so
	// of any one stage.
	maxBlocks = 1000
	// maxParamsLimit is the largest model.max_params: 100 million
	// parameters, 400 MB of float32 for each copy of the weights.
	maxParamsLimit = 100_000_000
	// maxBatchValues is the most values the widest layer's output may hold
	// for one batch: solver.batch_size × channels × 32 × 32 (2^31 values,
	// 8 GiB of float32).
	maxBatchValues = 1 << 31
)

// Optimizer and scheduler names accepted by Validate. This package is the
// one owner of the names and of the ranges of their arguments: the trainer
// builds its optimizers and schedules from a configuration that passed these
// rules (see Optimizer.Validate and Solver.ValidateSchedule) and states none
// of them again.
var (
	optimizerNames = []string{"sgd", "adam", "adamw"}
	schedulerNames = []string{"none", "step", "multistep", "exponential", "cosine", "onecycle"}
	// deviceNames are the values of device; the first is the default.
	deviceNames = []string{"cpu", "cuda"}
)

// DeviceNames returns the kinds of device the device setting names ("cpu"
// first, the default), in the order error messages list them. A GPU may
// also be named with its index (ParseDevice).
func DeviceNames() []string { return append([]string(nil), deviceNames...) }

// DeviceUsage says, for help texts, which device names ParseDevice
// accepts.
const DeviceUsage = "cpu, cuda (the first NVIDIA GPU) or cuda:N (GPU N)"

// ParseDevice returns the kind of the device called name, one of
// DeviceNames ("" is "cpu"), and for "cuda" the index of the GPU: "cuda"
// is the first GPU, "cuda:N" GPU N, counting from 0 as the NVIDIA driver
// numbers the GPUs that CUDA_VISIBLE_DEVICES leaves visible. Any other
// name is an error that lists the accepted ones.
func ParseDevice(name string) (kind string, index int, err error) {
	if name == "" {
		return deviceNames[0], 0, nil
	}
	kind, num, indexed := strings.Cut(name, ":")
	if !slices.Contains(deviceNames, kind) || indexed && kind != "cuda" {
		return "", 0, fmt.Errorf("unknown device %q (want %s, or cuda:N for GPU N)", name, oneOf(deviceNames))
	}
	if indexed {
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 || strconv.Itoa(n) != num {
			return "", 0, fmt.Errorf("%q: the GPU index after cuda: must be a number 0 or more, got %q", name, num)
		}
		index = n
	}
	return kind, index, nil
}

// OptimizerNames returns the names solver.optimizer.name accepts, in the
// order error messages list them.
func OptimizerNames() []string { return append([]string(nil), optimizerNames...) }

// SchedulerNames returns the names solver.scheduler.name accepts, in the
// order error messages list them. An empty name means "none" (see
// Scheduler.EffectiveName).
func SchedulerNames() []string { return append([]string(nil), schedulerNames...) }

// Validate checks every rule on c and returns nil, or a *ValidationError
// that lists every broken rule at once, each with its YAML path, such as
//
//	model.stages[1].channels: must be > 0, got 0
//	solver.optimizer.name: unknown optimizer "sgdd" (want sgd, adam or adamw)
//
// Rules that concern one optimizer or scheduler (step_size for "step",
// pct_start for "onecycle", ...) are checked only when it is selected;
// all other rules are always checked.
func (c *Config) Validate() error {
	var v validator
	c.Data.validate(&v, "data")
	c.Model.validate(&v, "model")
	c.Solver.validate(&v, "solver")
	c.validateBatchValues(&v)
	c.Output.validate(&v, "output")
	if _, _, err := ParseDevice(c.Device); err != nil {
		v.addf("device", "%v", err)
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// validator collects problems.
type validator struct {
	problems []Problem
}

func (v *validator) addf(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// finite reports whether x is finite, adding a problem if it is not.
func (v *validator) finite(path string, x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		v.addf(path, "must be a finite number, got %g", x)
		return false
	}
	return true
}

func (v *validator) positiveInt(path string, x int) {
	if x <= 0 {
		v.addf(path, "must be > 0, got %d", x)
	}
}

func (v *validator) nonNegativeInt(path string, x int) {
	if x < 0 {
		v.addf(path, "must be >= 0, got %d", x)
	}
}

// positiveIntAtMost checks that x is in [1, hi].
func (v *validator) positiveIntAtMost(path string, x, hi int) {
	if x > hi {
		v.addf(path, "must be at most %d, got %d", hi, x)
	} else {
		v.positiveInt(path, x)
	}
}

func (v *validator) positive(path string, x float64) {
	if v.finite(path, x) && x <= 0 {
		v.addf(path, "must be > 0, got %g", x)
	}
}

func (v *validator) nonNegative(path string, x float64) {
	if v.finite(path, x) && x < 0 {
		v.addf(path, "must be >= 0, got %g", x)
	}
}

// unitInterval checks that x is in [0, 1).
func (v *validator) unitInterval(path string, x float64) {
	if v.finite(path, x) && (x < 0 || x >= 1) {
		v.addf(path, "must be in [0, 1), got %g", x)
	}
}

func (v *validator) nonEmpty(path, s string) {
	if s == "" {
		v.addf(path, "must not be empty")
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// oneOf formats names as "a, b or c".
func oneOf(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (d *Data) validate(v *validator, path string) {
	v.nonEmpty(join(path, "dir"), d.Dir)
	if d.ValSize < 0 || d.ValSize >= trainImages {
		v.addf(join(path, "val_size"), "must be >= 0 and < %d, got %d", trainImages, d.ValSize)
	}
	n := join(path, "normalize")
	for _, l := range []struct {
		key    string
		values []float64
	}{{"mean", d.Normalize.Mean}, {"std", d.Normalize.Std}} {
		p := join(n, l.key)
		if len(l.values) != 3 {
			v.addf(p, "must have exactly 3 values (R, G, B), got %d", len(l.values))
			continue
		}
		for i, x := range l.values {
			if l.key == "std" {
				v.positive(index(p, i), x)
			} else {
				v.finite(index(p, i), x)
			}
		}
	}
	if cp := d.Augment.CropPadding; cp < 0 || cp > maxCropPadding {
		v.addf(join(path, "augment.crop_padding"), "must be in [0, %d], got %d", maxCropPadding, cp)
	}
	if c := d.Augment.Cutout; c < 0 || c > 32 {
		v.addf(join(path, "augment.cutout"), "must be in [0, 32], got %d", c)
	}
}

// Validate checks the rules of the model section alone, those that
// Config.Validate applies to it, and returns nil or a *ValidationError whose
// paths start with "model.". Building a network from a Model that passes
// allocates a bounded amount of memory: model.New calls it before
// allocating anything.
func (m *Model) Validate() error {
	var v validator
	m.validate(&v, "model")
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

func (m *Model) validate(v *validator, path string) {
	v.positiveIntAtMost(join(path, "stem_channels"), m.StemChannels, maxChannels)
	stages := join(path, "stages")
	if len(m.Stages) == 0 {
		v.addf(stages, "must have at least one stage")
	}
	blocks := 0
	for i, s := range m.Stages {
		p := index(stages, i)
		v.positiveIntAtMost(join(p, "channels"), s.Channels, maxChannels)
		v.positiveIntAtMost(join(p, "blocks"), s.Blocks, maxBlocks)
		if s.Stride != 1 && s.Stride != 2 {
			v.addf(join(p, "stride"), "must be 1 or 2, got %d", s.Stride)
		}
		if s.Blocks > 0 && s.Blocks <= maxBlocks {
			blocks += s.Blocks
		}
	}
	if blocks > maxBlocks {
		v.addf(stages, "must have at most %d blocks in all, got %d", maxBlocks, blocks)
	}
	v.positiveIntAtMost(join(path, "max_params"), m.MaxParams, maxParamsLimit)
	if p := join(path, "bn_momentum"); v.finite(p, m.BNMomentum) && (m.BNMomentum <= 0 || m.BNMomentum > 1) {
		v.addf(p, "must be in (0, 1], got %g", m.BNMomentum)
	}
	v.positive(join(path, "bn_epsilon"), m.BNEpsilon)
}

func (s *Solver) validate(v *validator, path string) {
	s.Optimizer.validate(v, join(path, "optimizer"))
	s.Scheduler.validate(v, join(path, "scheduler"), s.Optimizer.LR, s.Epochs)
	v.unitInterval(join(path, "label_smoothing"), s.LabelSmoothing)
	v.positiveInt(join(path, "batch_size"), s.BatchSize)
	s.validateEpochs(v, path)
	v.nonNegativeInt(join(path, "num_train_samples"), s.NumTrainSamples)
	v.nonNegativeInt(join(path, "num_val_samples"), s.NumValSamples)
	s.Distillation.validate(v, join(path, "distillation"))
	v.nonNegativeInt(join(path, "early_stopping.patience"), s.EarlyStopping.Patience)
	v.nonNegative(join(path, "early_stopping.min_delta"), s.EarlyStopping.MinDelta)
}

// validateBatchValues checks that the widest layer's output for one
// training batch holds at most maxBatchValues values. It checks nothing when
// the batch size or a width is already out of its own range.
func (c *Config) validateBatchValues(v *validator) {
	batch, widest := c.Solver.BatchSize, c.Model.StemChannels
	for _, s := range c.Model.Stages {
		widest = max(widest, s.Channels)
	}
	if batch <= 0 || widest <= 0 || widest > maxChannels {
		return
	}
	if limit := int64(maxBatchValues) / int64(widest*imagePixels); int64(batch) > limit {
		v.addf("solver.batch_size", "must be at most %d for a network %d channels wide (one layer's output for a batch holds batch_size × %d × 32 × 32 values, at most %d), got %d",
			limit, widest, widest, int64(maxBatchValues), batch)
	}
}

// validateEpochs checks solver.epochs.
func (s *Solver) validateEpochs(v *validator, path string) {
	v.positiveInt(join(path, "epochs"), s.Epochs)
}

// ValidateSchedule checks the rules of Config.Validate that make the
// learning-rate schedule of a run: solver.optimizer.lr, solver.epochs and
// the solver.scheduler section. It returns nil or a *ValidationError whose
// paths start with "solver.". The trainer's schedules are built only from
// a Solver that passes it.
func (s *Solver) ValidateSchedule() error {
	var v validator
	s.Optimizer.validateLR(&v, "solver.optimizer")
	s.validateEpochs(&v, "solver")
	s.Scheduler.validate(&v, "solver.scheduler", s.Optimizer.LR, s.Epochs)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

func (d *Distillation) validate(v *validator, path string) {
	teachers := join(path, "teachers")
	for i, t := range d.Teachers {
		v.nonEmpty(index(teachers, i), t)
	}
	// Without teachers the weight and temperature are unused, as in the
	// checkpoints written before distillation existed, which hold zeros.
	if len(d.Teachers) == 0 {
		return
	}
	if p := join(path, "weight"); v.finite(p, d.Weight) && (d.Weight < 0 || d.Weight > 1) {
		v.addf(p, "must be in [0, 1], got %g", d.Weight)
	}
	v.positive(join(path, "temperature"), d.Temperature)
}

// Validate checks the rules of Config.Validate for the solver.optimizer
// section alone and returns nil or a *ValidationError whose paths start
// with "solver.optimizer.". The trainer builds an optimizer only from an
// Optimizer that passes it. Every argument is checked whichever optimizer
// is chosen, so a configuration stays valid when only the name changes,
// except nesterov, which needs sgd.
func (o *Optimizer) Validate() error {
	var v validator
	o.validate(&v, "solver.optimizer")
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// validateLR checks the base learning rate, lr.
func (o *Optimizer) validateLR(v *validator, path string) {
	v.positive(join(path, "lr"), o.LR)
}

func (o *Optimizer) validate(v *validator, path string) {
	name := join(path, "name")
	switch {
	case o.Name == "":
		v.addf(name, "missing optimizer (want %s)", oneOf(optimizerNames))
	case !slices.Contains(optimizerNames, o.Name):
		v.addf(name, "unknown optimizer %q (want %s)", o.Name, oneOf(optimizerNames))
	}
	o.validateLR(v, path)
	v.unitInterval(join(path, "momentum"), o.Momentum)
	if o.Nesterov {
		nesterov := join(path, "nesterov")
		switch {
		case !slices.Contains(optimizerNames, o.Name):
			// Already reported under name.
		case o.Name != "sgd":
			v.addf(nesterov, "requires optimizer sgd, got %q", o.Name)
		case !(o.Momentum > 0):
			v.addf(nesterov, "requires %s > 0, got %g", join(path, "momentum"), o.Momentum)
		}
	}
	v.unitInterval(join(path, "beta1"), o.Beta1)
	v.unitInterval(join(path, "beta2"), o.Beta2)
	v.positive(join(path, "epsilon"), o.Epsilon)
	v.nonNegative(join(path, "weight_decay"), o.WeightDecay)
}

// EffectiveName returns Name, or "none" when Name is empty.
func (s Scheduler) EffectiveName() string {
	if s.Name == "" {
		return "none"
	}
	return s.Name
}

// validate checks the scheduler of a run of epochs epochs whose base (for
// onecycle: peak) learning rate is lr.
func (s *Scheduler) validate(v *validator, path string, lr float64, epochs int) {
	name := s.EffectiveName()
	if !slices.Contains(schedulerNames, name) {
		v.addf(join(path, "name"), "unknown scheduler %q (want %s)", s.Name, oneOf(schedulerNames))
	}
	switch name {
	case "step":
		if s.StepSize <= 0 {
			v.addf(join(path, "step_size"), "must be > 0 for the step scheduler, got %d", s.StepSize)
		}
	case "multistep":
		ms := join(path, "milestones")
		if len(s.Milestones) == 0 {
			v.addf(ms, "must not be empty for the multistep scheduler")
		}
		for i, m := range s.Milestones {
			switch {
			case i == 0 && m <= 0:
				v.addf(index(ms, i), "must be > 0, got %d", m)
			case i > 0 && m <= s.Milestones[i-1]:
				v.addf(index(ms, i), "must be > milestones[%d] (%d): milestones must be strictly increasing, got %d", i-1, s.Milestones[i-1], m)
			}
		}
	}
	switch name {
	case "step", "multistep", "exponential":
		if p := join(path, "gamma"); v.finite(p, s.Gamma) && s.Gamma <= 0 {
			v.addf(p, "must be > 0 for the %s scheduler, got %g", name, s.Gamma)
		}
	}
	warmup := join(path, "warmup_epochs")
	switch {
	case s.WarmupEpochs < 0:
		v.addf(warmup, "must be >= 0, got %d", s.WarmupEpochs)
	case name == "cosine" && epochs > 0 && s.WarmupEpochs >= epochs:
		v.addf(warmup, "must be < solver.epochs (%d) for the cosine scheduler, got %d", epochs, s.WarmupEpochs)
	}
	if p := join(path, "min_lr"); v.finite(p, s.MinLR) {
		switch {
		case s.MinLR < 0:
			v.addf(p, "must be >= 0, got %g", s.MinLR)
		case name == "cosine" && s.MinLR > lr:
			v.addf(p, "must be <= solver.optimizer.lr (%g) for the cosine scheduler, got %g", lr, s.MinLR)
		}
	}
	if name == "onecycle" {
		// PyTorch's OneCycleLR accepts both ends: 0 starts at the peak,
		// 1 never anneals.
		if p := join(path, "pct_start"); v.finite(p, s.PctStart) && (s.PctStart < 0 || s.PctStart > 1) {
			v.addf(p, "must be in [0, 1] for the onecycle scheduler, got %g", s.PctStart)
		}
		for _, f := range []struct {
			key string
			x   float64
		}{{"div_factor", s.DivFactor}, {"final_div_factor", s.FinalDivFactor}} {
			if p := join(path, f.key); v.finite(p, f.x) && f.x <= 0 {
				v.addf(p, "must be > 0 for the onecycle scheduler, got %g", f.x)
			}
		}
	}
}

func (o *Output) validate(v *validator, path string) {
	name := join(path, "name")
	switch {
	case o.Name == "":
		v.addf(name, "must not be empty")
	case strings.ContainsAny(o.Name, `/\`):
		v.addf(name, "must not contain a path separator, got %q", o.Name)
	case o.Name == "." || o.Name == "..":
		v.addf(name, "must be a file name, got %q", o.Name)
	}
	v.nonEmpty(join(path, "checkpoint_dir"), o.CheckpointDir)
	v.nonEmpty(join(path, "models_dir"), o.ModelsDir)
}
