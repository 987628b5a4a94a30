package config

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// problemStrings returns the problems of a *ValidationError or *DecodeError
// as "path: msg" (with "line N: " before them when the line is known).
func problemStrings(t *testing.T, err error) []string {
	t.Helper()
	var problems []Problem
	var ve *ValidationError
	var de *DecodeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		problems = ve.Problems
	case errors.As(err, &de):
		problems = de.Problems
	default:
		t.Fatalf("error %v (%T) is neither a *ValidationError nor a *DecodeError", err, err)
	}
	s := make([]string, len(problems))
	for i, p := range problems {
		s[i] = p.Error()
	}
	return s
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string // nil: valid
	}{
		// data
		{"dir empty", func(c *Config) { c.Data.Dir = "" }, []string{"data.dir: must not be empty"}},
		{"dir tar.gz", func(c *Config) { c.Data.Dir = "../shared/cifar10/cifar-10-binary-train.tar.gz" }, nil},
		{"val_size negative", func(c *Config) { c.Data.ValSize = -1 }, []string{"data.val_size: must be >= 0 and < 50000, got -1"}},
		{"val_size 50000", func(c *Config) { c.Data.ValSize = 50000 }, []string{"data.val_size: must be >= 0 and < 50000, got 50000"}},
		{"val_size 0", func(c *Config) { c.Data.ValSize = 0 }, nil},
		{"val_size 49999", func(c *Config) { c.Data.ValSize = 49999 }, nil},
		{"mean two values", func(c *Config) { c.Data.Normalize.Mean = []float64{0.5, 0.5} }, []string{"data.normalize.mean: must have exactly 3 values (R, G, B), got 2"}},
		{"mean missing", func(c *Config) { c.Data.Normalize.Mean = nil }, []string{"data.normalize.mean: must have exactly 3 values (R, G, B), got 0"}},
		{"mean NaN", func(c *Config) { c.Data.Normalize.Mean = []float64{0.5, math.NaN(), 0.5} }, []string{"data.normalize.mean[1]: must be a finite number, got NaN"}},
		{"mean negative", func(c *Config) { c.Data.Normalize.Mean = []float64{-1, 0, 2} }, nil},
		{"std four values", func(c *Config) { c.Data.Normalize.Std = []float64{1, 1, 1, 1} }, []string{"data.normalize.std: must have exactly 3 values (R, G, B), got 4"}},
		{"std zero", func(c *Config) { c.Data.Normalize.Std = []float64{0.5, 0.5, 0} }, []string{"data.normalize.std[2]: must be > 0, got 0"}},
		{"std negative", func(c *Config) { c.Data.Normalize.Std = []float64{-0.5, 0.5, 0.5} }, []string{"data.normalize.std[0]: must be > 0, got -0.5"}},
		{"std infinite", func(c *Config) { c.Data.Normalize.Std = []float64{0.5, math.Inf(1), 0.5} }, []string{"data.normalize.std[1]: must be a finite number, got +Inf"}},
		{"crop_padding negative", func(c *Config) { c.Data.Augment.CropPadding = -1 }, []string{"data.augment.crop_padding: must be in [0, 16], got -1"}},
		{"crop_padding 17", func(c *Config) { c.Data.Augment.CropPadding = 17 }, []string{"data.augment.crop_padding: must be in [0, 16], got 17"}},
		{"crop_padding 0", func(c *Config) { c.Data.Augment.CropPadding = 0 }, nil},
		{"crop_padding 16", func(c *Config) { c.Data.Augment.CropPadding = 16 }, nil},
		{"cutout negative", func(c *Config) { c.Data.Augment.Cutout = -1 }, []string{"data.augment.cutout: must be in [0, 32], got -1"}},
		{"cutout 33", func(c *Config) { c.Data.Augment.Cutout = 33 }, []string{"data.augment.cutout: must be in [0, 32], got 33"}},
		{"cutout 32", func(c *Config) { c.Data.Augment.Cutout = 32 }, nil},

		// model
		{"stem_channels zero", func(c *Config) { c.Model.StemChannels = 0 }, []string{"model.stem_channels: must be > 0, got 0"}},
		{"no stages", func(c *Config) { c.Model.Stages = nil }, []string{"model.stages: must have at least one stage"}},
		{"stage channels", func(c *Config) { c.Model.Stages[1].Channels = 0 }, []string{"model.stages[1].channels: must be > 0, got 0"}},
		{"stage blocks", func(c *Config) { c.Model.Stages[0].Blocks = -2 }, []string{"model.stages[0].blocks: must be > 0, got -2"}},
		{"stage stride 0", func(c *Config) { c.Model.Stages[0].Stride = 0 }, []string{"model.stages[0].stride: must be 1 or 2, got 0"}},
		{"stage stride 3", func(c *Config) { c.Model.Stages[1].Stride = 3 }, []string{"model.stages[1].stride: must be 1 or 2, got 3"}},
		{"one stage", func(c *Config) { c.Model.Stages = c.Model.Stages[:1] }, nil},
		{"max_params zero", func(c *Config) { c.Model.MaxParams = 0 }, []string{"model.max_params: must be > 0, got 0"}},
		{"stem_channels 2049", func(c *Config) { c.Model.StemChannels = 2049 }, []string{"model.stem_channels: must be at most 2048, got 2049"}},
		{"stem_channels 2048", func(c *Config) { c.Model.StemChannels = 2048 }, nil},
		{"stage channels 2^32, max_params 2^63-1", func(c *Config) {
			c.Model.Stages[0].Channels = 4294967296
			c.Model.MaxParams = math.MaxInt64
		}, []string{"model.stages[0].channels: must be at most 2048, got 4294967296", "model.max_params: must be at most 100000000, got 9223372036854775807"}},
		{"max_params 10^8", func(c *Config) { c.Model.MaxParams = 100000000 }, nil},
		{"stage blocks 1001", func(c *Config) { c.Model.Stages[1].Blocks = 1001 }, []string{"model.stages[1].blocks: must be at most 1000, got 1001"}},
		{"blocks 1001 in all", func(c *Config) { c.Model.Stages[0].Blocks, c.Model.Stages[1].Blocks = 600, 401 }, []string{"model.stages: must have at most 1000 blocks in all, got 1001"}},
		{"blocks 1000 in all", func(c *Config) { c.Model.Stages[0].Blocks, c.Model.Stages[1].Blocks = 600, 400 }, nil},
		// 2^31 values / (2048 channels · 1024 pixels) = 1024 images.
		{"batch of 1025 through 2048 channels", func(c *Config) { c.Model.Stages[1].Channels, c.Solver.BatchSize = 2048, 1025 },
			[]string{"solver.batch_size: must be at most 1024 for a network 2048 channels wide (one layer's output for a batch holds batch_size × 2048 × 32 × 32 values, at most 2147483648), got 1025"}},
		{"batch of 1024 through 2048 channels", func(c *Config) { c.Model.Stages[1].Channels, c.Solver.BatchSize = 2048, 1024 }, nil},
		// 2^31 / (32 · 1024) = 65536 images for the default network.
		{"batch of 65537", func(c *Config) { c.Solver.BatchSize = 65537 },
			[]string{"solver.batch_size: must be at most 65536 for a network 32 channels wide (one layer's output for a batch holds batch_size × 32 × 32 × 32 values, at most 2147483648), got 65537"}},
		{"batch of 65536", func(c *Config) { c.Solver.BatchSize = 65536 }, nil},
		{"huge batch and width", func(c *Config) { c.Model.StemChannels, c.Solver.BatchSize = 1<<40, math.MaxInt64 },
			[]string{"model.stem_channels: must be at most 2048, got 1099511627776"}},
		{"bn_momentum zero", func(c *Config) { c.Model.BNMomentum = 0 }, []string{"model.bn_momentum: must be in (0, 1], got 0"}},
		{"bn_momentum above 1", func(c *Config) { c.Model.BNMomentum = 1.5 }, []string{"model.bn_momentum: must be in (0, 1], got 1.5"}},
		{"bn_momentum 1", func(c *Config) { c.Model.BNMomentum = 1 }, nil},
		{"bn_momentum NaN", func(c *Config) { c.Model.BNMomentum = math.NaN() }, []string{"model.bn_momentum: must be a finite number, got NaN"}},
		{"bn_epsilon zero", func(c *Config) { c.Model.BNEpsilon = 0 }, []string{"model.bn_epsilon: must be > 0, got 0"}},

		// device
		{"device cuda", func(c *Config) { c.Device = "cuda" }, nil},
		{"device empty (cpu)", func(c *Config) { c.Device = "" }, nil},
		{"device unknown", func(c *Config) { c.Device = "gpu" }, []string{`device: unknown device "gpu" (want cpu or cuda, or cuda:N for GPU N)`}},
		{"device cuda:1", func(c *Config) { c.Device = "cuda:1" }, nil},
		{"device cuda:x", func(c *Config) { c.Device = "cuda:x" },
			[]string{`device: "cuda:x": the GPU index after cuda: must be a number 0 or more, got "x"`}},

		// optimizer
		{"optimizer unknown", func(c *Config) { c.Solver.Optimizer.Name = "sgdd" }, []string{`solver.optimizer.name: unknown optimizer "sgdd" (want sgd, adam or adamw)`}},
		{"optimizer empty", func(c *Config) { c.Solver.Optimizer.Name = "" }, []string{"solver.optimizer.name: missing optimizer (want sgd, adam or adamw)"}},
		{"optimizer adam", func(c *Config) { c.Solver.Optimizer.Name, c.Solver.Optimizer.Nesterov = "adam", false }, nil},
		{"optimizer adamw", func(c *Config) { c.Solver.Optimizer.Name, c.Solver.Optimizer.Nesterov = "adamw", false }, nil},
		{"lr zero", func(c *Config) { c.Solver.Optimizer.LR = 0 }, []string{"solver.optimizer.lr: must be > 0, got 0"}},
		{"lr infinite", func(c *Config) { c.Solver.Optimizer.LR = math.Inf(1) }, []string{"solver.optimizer.lr: must be a finite number, got +Inf"}},
		{"momentum 1", func(c *Config) { c.Solver.Optimizer.Momentum = 1 }, []string{"solver.optimizer.momentum: must be in [0, 1), got 1"}},
		{"momentum negative", func(c *Config) { c.Solver.Optimizer.Momentum = -0.1 }, []string{
			"solver.optimizer.momentum: must be in [0, 1), got -0.1",
			"solver.optimizer.nesterov: requires solver.optimizer.momentum > 0, got -0.1",
		}},
		{"nesterov with adam", func(c *Config) { c.Solver.Optimizer.Name = "adam" }, []string{`solver.optimizer.nesterov: requires optimizer sgd, got "adam"`}},
		{"nesterov without momentum", func(c *Config) { c.Solver.Optimizer.Momentum = 0 }, []string{"solver.optimizer.nesterov: requires solver.optimizer.momentum > 0, got 0"}},
		{"sgd without momentum", func(c *Config) { c.Solver.Optimizer.Momentum, c.Solver.Optimizer.Nesterov = 0, false }, nil},
		{"beta1 1", func(c *Config) { c.Solver.Optimizer.Beta1 = 1 }, []string{"solver.optimizer.beta1: must be in [0, 1), got 1"}},
		{"beta2 negative", func(c *Config) { c.Solver.Optimizer.Beta2 = -0.5 }, []string{"solver.optimizer.beta2: must be in [0, 1), got -0.5"}},
		{"epsilon zero", func(c *Config) { c.Solver.Optimizer.Epsilon = 0 }, []string{"solver.optimizer.epsilon: must be > 0, got 0"}},
		{"weight_decay negative", func(c *Config) { c.Solver.Optimizer.WeightDecay = -1e-4 }, []string{"solver.optimizer.weight_decay: must be >= 0, got -0.0001"}},
		{"weight_decay zero", func(c *Config) { c.Solver.Optimizer.WeightDecay = 0 }, nil},

		// scheduler
		{"scheduler unknown", func(c *Config) { c.Solver.Scheduler.Name = "cosin" }, []string{`solver.scheduler.name: unknown scheduler "cosin" (want none, step, multistep, exponential, cosine or onecycle)`}},
		{"scheduler empty", func(c *Config) { c.Solver.Scheduler.Name = "" }, nil},
		{"scheduler none", func(c *Config) { c.Solver.Scheduler.Name = "none" }, nil},
		{"step", func(c *Config) { c.Solver.Scheduler.Name = "step" }, nil},
		{"step step_size zero", func(c *Config) { c.Solver.Scheduler.Name, c.Solver.Scheduler.StepSize = "step", 0 }, []string{"solver.scheduler.step_size: must be > 0 for the step scheduler, got 0"}},
		{"step_size unused", func(c *Config) { c.Solver.Scheduler.StepSize = 0 }, nil},
		{"step gamma zero", func(c *Config) { c.Solver.Scheduler.Name, c.Solver.Scheduler.Gamma = "step", 0 }, []string{"solver.scheduler.gamma: must be > 0 for the step scheduler, got 0"}},
		{"multistep", func(c *Config) {
			c.Solver.Scheduler.Name, c.Solver.Scheduler.Milestones = "multistep", []int{10, 15}
		}, nil},
		{"multistep no milestones", func(c *Config) { c.Solver.Scheduler.Name = "multistep" }, []string{"solver.scheduler.milestones: must not be empty for the multistep scheduler"}},
		{"multistep zero milestone", func(c *Config) {
			c.Solver.Scheduler.Name, c.Solver.Scheduler.Milestones = "multistep", []int{0, 5}
		}, []string{"solver.scheduler.milestones[0]: must be > 0, got 0"}},
		{"multistep not increasing", func(c *Config) {
			c.Solver.Scheduler.Name, c.Solver.Scheduler.Milestones = "multistep", []int{5, 10, 10, 3}
		}, []string{
			"solver.scheduler.milestones[2]: must be > milestones[1] (10): milestones must be strictly increasing, got 10",
			"solver.scheduler.milestones[3]: must be > milestones[2] (10): milestones must be strictly increasing, got 3",
		}},
		{"multistep gamma negative", func(c *Config) {
			c.Solver.Scheduler.Name, c.Solver.Scheduler.Milestones, c.Solver.Scheduler.Gamma = "multistep", []int{5}, -1
		}, []string{"solver.scheduler.gamma: must be > 0 for the multistep scheduler, got -1"}},
		{"exponential gamma zero", func(c *Config) {
			c.Solver.Scheduler.Name, c.Solver.Scheduler.Gamma = "exponential", 0
		}, []string{"solver.scheduler.gamma: must be > 0 for the exponential scheduler, got 0"}},
		{"gamma unused", func(c *Config) { c.Solver.Scheduler.Gamma = 0 }, nil},
		{"cosine", func(c *Config) { c.Solver.Scheduler.Name, c.Solver.Scheduler.WarmupEpochs = "cosine", 19 }, nil},
		{"cosine warmup = epochs", func(c *Config) {
			c.Solver.Scheduler.Name, c.Solver.Scheduler.WarmupEpochs = "cosine", 20
		}, []string{"solver.scheduler.warmup_epochs: must be < solver.epochs (20) for the cosine scheduler, got 20"}},
		{"warmup negative", func(c *Config) { c.Solver.Scheduler.WarmupEpochs = -1 }, []string{"solver.scheduler.warmup_epochs: must be >= 0, got -1"}},
		{"min_lr negative", func(c *Config) { c.Solver.Scheduler.MinLR = -1e-3 }, []string{"solver.scheduler.min_lr: must be >= 0, got -0.001"}},
		{"pct_start negative", func(c *Config) { c.Solver.Scheduler.PctStart = -0.1 }, []string{"solver.scheduler.pct_start: must be in [0, 1] for the onecycle scheduler, got -0.1"}},
		{"pct_start over 1", func(c *Config) { c.Solver.Scheduler.PctStart = 1.5 }, []string{"solver.scheduler.pct_start: must be in [0, 1] for the onecycle scheduler, got 1.5"}},
		{"pct_start 0", func(c *Config) { c.Solver.Scheduler.PctStart = 0 }, nil},
		{"pct_start 1", func(c *Config) { c.Solver.Scheduler.PctStart = 1 }, nil},
		{"cosine min_lr equal to lr", func(c *Config) { c.Solver.Scheduler.Name = "cosine"; c.Solver.Scheduler.MinLR = 0.1 }, nil},
		{"min_lr over lr unused", func(c *Config) { c.Solver.Scheduler.MinLR = 0.2 }, nil},
		{"cosine min_lr over lr", func(c *Config) { c.Solver.Scheduler.Name = "cosine"; c.Solver.Scheduler.MinLR = 0.2 }, []string{"solver.scheduler.min_lr: must be <= solver.optimizer.lr (0.1) for the cosine scheduler, got 0.2"}},
		{"div_factor zero", func(c *Config) { c.Solver.Scheduler.DivFactor = 0 }, []string{"solver.scheduler.div_factor: must be > 0 for the onecycle scheduler, got 0"}},
		{"final_div_factor negative", func(c *Config) { c.Solver.Scheduler.FinalDivFactor = -1 }, []string{"solver.scheduler.final_div_factor: must be > 0 for the onecycle scheduler, got -1"}},
		{"onecycle keys unused", func(c *Config) {
			c.Solver.Scheduler.Name, c.Solver.Scheduler.PctStart, c.Solver.Scheduler.DivFactor = "none", 0, 0
		}, nil},

		// solver
		{"label_smoothing 1", func(c *Config) { c.Solver.LabelSmoothing = 1 }, []string{"solver.label_smoothing: must be in [0, 1), got 1"}},
		{"label_smoothing negative", func(c *Config) { c.Solver.LabelSmoothing = -0.1 }, []string{"solver.label_smoothing: must be in [0, 1), got -0.1"}},
		{"label_smoothing 0.1", func(c *Config) { c.Solver.LabelSmoothing = 0.1 }, nil},
		{"distillation weight 1.5", func(c *Config) {
			c.Solver.Distillation.Teachers, c.Solver.Distillation.Weight = []string{"t.ckpt"}, 1.5
		}, []string{"solver.distillation.weight: must be in [0, 1], got 1.5"}},
		{"distillation weight negative", func(c *Config) {
			c.Solver.Distillation.Teachers, c.Solver.Distillation.Weight = []string{"t.ckpt"}, -0.5
		}, []string{"solver.distillation.weight: must be in [0, 1], got -0.5"}},
		{"distillation temperature 0", func(c *Config) {
			c.Solver.Distillation.Teachers, c.Solver.Distillation.Temperature = []string{"t.ckpt"}, 0
		}, []string{"solver.distillation.temperature: must be > 0, got 0"}},
		// Checkpoints written before distillation existed hold zeros.
		{"distillation off, zero weight and temperature", func(c *Config) {
			c.Solver.Distillation.Weight, c.Solver.Distillation.Temperature = 0, 0
		}, nil},
		{"distillation empty teacher", func(c *Config) { c.Solver.Distillation.Teachers = []string{"a.ckpt", ""} }, []string{"solver.distillation.teachers[1]: must not be empty"}},
		{"distillation on", func(c *Config) {
			c.Solver.Distillation = Distillation{Teachers: []string{"t.ckpt"}, Weight: 1, Temperature: 1}
		}, nil},
		{"early_stopping on", func(c *Config) { c.Solver.EarlyStopping = EarlyStopping{Patience: 5, MinDelta: 0.001} }, nil},
		{"early_stopping patience negative", func(c *Config) { c.Solver.EarlyStopping.Patience = -1 }, []string{"solver.early_stopping.patience: must be >= 0, got -1"}},
		{"early_stopping min_delta negative", func(c *Config) { c.Solver.EarlyStopping.MinDelta = -0.01 }, []string{"solver.early_stopping.min_delta: must be >= 0, got -0.01"}},
		{"early_stopping min_delta infinite", func(c *Config) { c.Solver.EarlyStopping.MinDelta = math.Inf(1) }, []string{"solver.early_stopping.min_delta: must be a finite number, got +Inf"}},
		{"batch_size zero", func(c *Config) { c.Solver.BatchSize = 0 }, []string{"solver.batch_size: must be > 0, got 0"}},
		{"epochs zero", func(c *Config) { c.Solver.Epochs = 0 }, []string{"solver.epochs: must be > 0, got 0"}},
		{"num_train_samples negative", func(c *Config) { c.Solver.NumTrainSamples = -1 }, []string{"solver.num_train_samples: must be >= 0, got -1"}},
		{"num_val_samples negative", func(c *Config) { c.Solver.NumValSamples = -5 }, []string{"solver.num_val_samples: must be >= 0, got -5"}},

		// output
		{"name empty", func(c *Config) { c.Output.Name = "" }, []string{"output.name: must not be empty"}},
		{"name slash", func(c *Config) { c.Output.Name = "runs/a" }, []string{`output.name: must not contain a path separator, got "runs/a"`}},
		{"name backslash", func(c *Config) { c.Output.Name = `a\b` }, []string{`output.name: must not contain a path separator, got "a\\b"`}},
		{"name dot dot", func(c *Config) { c.Output.Name = ".." }, []string{`output.name: must be a file name, got ".."`}},
		{"checkpoint_dir empty", func(c *Config) { c.Output.CheckpointDir = "" }, []string{"output.checkpoint_dir: must not be empty"}},
		{"models_dir empty", func(c *Config) { c.Output.ModelsDir = "" }, []string{"output.models_dir: must not be empty"}},
		{"plots_dir empty", func(c *Config) { c.Output.PlotsDir = "" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if got := problemStrings(t, err); !slices.Equal(got, tt.want) {
				t.Fatalf("Validate() problems:\n got %q\nwant %q", got, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("error %q does not start with %q", err, "config: ")
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Data.Dir = ""
	c.Model.Stages[1].Channels = 0
	c.Solver.Optimizer.Name = "sgdd"
	c.Solver.Epochs = 0
	c.Output.Name = "a/b"
	err := c.Validate()
	want := "config: 5 problems:\n" +
		"\tdata.dir: must not be empty\n" +
		"\tmodel.stages[1].channels: must be > 0, got 0\n" +
		"\tsolver.optimizer.name: unknown optimizer \"sgdd\" (want sgd, adam or adamw)\n" +
		"\tsolver.epochs: must be > 0, got 0\n" +
		"\toutput.name: must not contain a path separator, got \"a/b\""
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant %s", err, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 5 || ve.File != "" {
		t.Fatalf("Validate() = %#v, want a *ValidationError with 5 problems and no file", err)
	}
	var p Problem
	if !errors.As(err, &p) || p.Path != "data.dir" {
		t.Errorf("errors.As(err, *Problem) = %v, want the data.dir problem", p)
	}
}

// TestSectionValidators checks that the validators of one section, which
// the trainer calls before building an optimizer or a schedule, apply the
// same rules as Validate and report only their section.
func TestSectionValidators(t *testing.T) {
	c := Default()
	c.Data.Dir = ""
	c.Solver.Optimizer.Momentum = 1
	c.Solver.Optimizer.LR = 0
	c.Solver.Scheduler.PctStart = 1.5
	c.Solver.Epochs = 0
	if got, want := problemStrings(t, c.Solver.Optimizer.Validate()), []string{
		"solver.optimizer.lr: must be > 0, got 0",
		"solver.optimizer.momentum: must be in [0, 1), got 1",
	}; !slices.Equal(got, want) {
		t.Errorf("Optimizer.Validate() problems %q, want %q", got, want)
	}
	if got, want := problemStrings(t, c.Solver.ValidateSchedule()), []string{
		"solver.optimizer.lr: must be > 0, got 0",
		"solver.epochs: must be > 0, got 0",
		"solver.scheduler.pct_start: must be in [0, 1] for the onecycle scheduler, got 1.5",
	}; !slices.Equal(got, want) {
		t.Errorf("ValidateSchedule() problems %q, want %q", got, want)
	}
	d := Default()
	if err := d.Solver.Optimizer.Validate(); err != nil {
		t.Errorf("default optimizer: %v", err)
	}
	if err := d.Solver.ValidateSchedule(); err != nil {
		t.Errorf("default schedule: %v", err)
	}
	if got := (Scheduler{}).EffectiveName(); got != "none" {
		t.Errorf("EffectiveName of an empty name = %q, want none", got)
	}
}

func TestValidateSingleProblemMessage(t *testing.T) {
	c := Default()
	c.Model.Stages[1].Channels = 0
	want := "config: model.stages[1].channels: must be > 0, got 0"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %s", err, want)
	}
}

func TestPlotsDirOrDefault(t *testing.T) {
	o := Output{CheckpointDir: "runs/a"}
	if got := o.PlotsDirOrDefault(); got != "runs/a" {
		t.Errorf("empty PlotsDir: PlotsDirOrDefault() = %q, want %q", got, "runs/a")
	}
	o.PlotsDir = "plots"
	if got := o.PlotsDirOrDefault(); got != "plots" {
		t.Errorf("PlotsDirOrDefault() = %q, want %q", got, "plots")
	}
}

// TestParseDevice checks the device names ParseDevice accepts, the kind
// and GPU index it reads from them, and its errors.
func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		name, kind string
		index      int
		err        string
	}{
		{name: "", kind: "cpu"},
		{name: "cpu", kind: "cpu"},
		{name: "cuda", kind: "cuda"},
		{name: "cuda:0", kind: "cuda"},
		{name: "cuda:12", kind: "cuda", index: 12},
		{name: "cuda:", err: `"cuda:": the GPU index after cuda: must be a number 0 or more, got ""`},
		{name: "cuda:-1", err: `"cuda:-1": the GPU index after cuda: must be a number 0 or more, got "-1"`},
		{name: "cuda:01", err: `"cuda:01": the GPU index after cuda: must be a number 0 or more, got "01"`},
		{name: "cuda:+1", err: `"cuda:+1": the GPU index after cuda: must be a number 0 or more, got "+1"`},
		{name: "cuda:1:2", err: `"cuda:1:2": the GPU index after cuda: must be a number 0 or more, got "1:2"`},
		{name: "cpu:0", err: `unknown device "cpu:0" (want cpu or cuda, or cuda:N for GPU N)`},
		{name: "CUDA", err: `unknown device "CUDA" (want cpu or cuda, or cuda:N for GPU N)`},
		{name: ":0", err: `unknown device ":0" (want cpu or cuda, or cuda:N for GPU N)`},
	} {
		kind, index, err := ParseDevice(c.name)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("ParseDevice(%q): error %v, want %s", c.name, err, c.err)
			}
			continue
		}
		if err != nil || kind != c.kind || index != c.index {
			t.Errorf("ParseDevice(%q) = %q, %d, %v; want %q, %d", c.name, kind, index, err, c.kind, c.index)
		}
	}
}
