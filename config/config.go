// Package config holds the YAML configuration of a training run: the data
// split and augmentation, the architecture, the solver and the output paths.
//
// Load and Parse decode a file strictly on top of Default, so every key a
// user leaves out keeps its default value, while an unknown or misspelt key,
// a value of the wrong type, a null scalar and a second YAML document are
// errors that name the line. A list given in the file (model.stages,
// data.normalize.mean, ...) replaces the default list as a whole; it is never
// merged with it element by element. The decoded configuration is then
// checked by Config.Validate, which reports every problem at once, each with
// its YAML path (and, when it came from a file, its line).
//
// All errors returned by this package start with "config: ". Decoding
// problems are reported as a *DecodeError and validation problems as a
// *ValidationError; both hold the list of Problems.
//
// Marshal writes a configuration back as YAML, for example next to the
// results of a run; Parse reads that output back to an equal Config.
package config

// Config is the whole configuration of one training run.
type Config struct {
	Data   Data   `yaml:"data" msgpack:"data"`
	Model  Model  `yaml:"model" msgpack:"model"`
	Solver Solver `yaml:"solver" msgpack:"solver"`
	Output Output `yaml:"output" msgpack:"output"`
	// Seed seeds weight initialisation and the solver's random choices
	// (batch order, augmentation, evaluation subsamples).
	Seed int64 `yaml:"seed" msgpack:"seed"`
	// Device is where the network computes: "cpu", or "cuda" for the
	// first NVIDIA GPU, "cuda:N" for GPU N (ParseDevice); empty means
	// "cpu". It does not change what the run computes beyond rounding, so
	// a run may resume on another device.
	Device string `yaml:"device" msgpack:"device"`
}

// Data describes where the CIFAR-10 files are and how they are split,
// normalised and augmented.
type Data struct {
	// Dir is a directory holding cifar-10-batches-bin/ (or the batch files
	// themselves), or the path of a .tar.gz archive in the layout of the
	// official cifar-10-binary.tar.gz, such as
	// ../shared/cifar10/cifar-10-binary-train.tar.gz. It must not be empty.
	Dir string `yaml:"dir" msgpack:"dir"`
	// Download fetches the official archive into Dir when the files are missing.
	Download bool `yaml:"download" msgpack:"download"`
	// ValSize is the number of training images held out for validation,
	// in [0, 50000).
	ValSize int `yaml:"val_size" msgpack:"val_size"`
	// Seed seeds the train/validation split.
	Seed int64 `yaml:"seed" msgpack:"seed"`
	// Normalize maps a pixel p in [0, 255] to (p/255 - Mean[c]) / Std[c].
	Normalize Normalize `yaml:"normalize" msgpack:"normalize"`
	// Augment is applied to training batches only.
	Augment Augment `yaml:"augment" msgpack:"augment"`
}

// Normalize holds the per-channel (R, G, B) mean and standard deviation.
// Each list has exactly three values and every Std value is > 0.
type Normalize struct {
	// Mean is subtracted from the pixel scaled to [0, 1].
	Mean []float64 `yaml:"mean" msgpack:"mean"`
	// Std divides the centred pixel.
	Std []float64 `yaml:"std" msgpack:"std"`
}

// Augment configures training-time augmentation.
type Augment struct {
	// CropPadding pads each image with this many zero pixels on every side
	// and crops a random 32x32 window; 0 disables random crops. It is in
	// [0, 16].
	CropPadding int `yaml:"crop_padding" msgpack:"crop_padding"`
	// HorizontalFlip mirrors each image left-right with probability 1/2.
	HorizontalFlip bool `yaml:"horizontal_flip" msgpack:"horizontal_flip"`
	// Cutout zeroes a Cutout×Cutout square at a random centre of each
	// image (clipped at the borders), after crop and flip; 0 disables it.
	// It is in [0, 32].
	Cutout int `yaml:"cutout" msgpack:"cutout"`
}

// Model describes the residual network.
type Model struct {
	// StemChannels is the width of the first 3x3 convolution, in
	// [1, 2048].
	StemChannels int `yaml:"stem_channels" msgpack:"stem_channels"`
	// Stages are run in order; each is a sequence of residual blocks. There
	// is at least one, and at most 1000 blocks in all.
	Stages []Stage `yaml:"stages" msgpack:"stages"`
	// MaxParams is a hard limit on the number of learnable parameters, in
	// [1, 100000000].
	MaxParams int `yaml:"max_params" msgpack:"max_params"`
	// BNMomentum is the batch norm running-statistics momentum, in
	// PyTorch's convention: running = (1-m)·running + m·batch. It is in
	// (0, 1].
	BNMomentum float64 `yaml:"bn_momentum" msgpack:"bn_momentum"`
	// BNEpsilon is added to the variance before the square root.
	BNEpsilon float64 `yaml:"bn_epsilon" msgpack:"bn_epsilon"`
	// ZeroInitResidual starts the γ of each block's second batch norm at 0
	// instead of 1, so that every block starts as its skip path (Goyal et
	// al. 2017; torchvision's zero_init_residual).
	ZeroInitResidual bool `yaml:"zero_init_residual" msgpack:"zero_init_residual"`
	// InitFrom, if not empty, is a checkpoint (written by the trainer or
	// by trainer import) whose weights and batch norm statistics a new run
	// starts from instead of random ones, to fine-tune them: the best copy
	// if it has one, as model.Load takes. Its network must have the
	// tensors of this one and its data.normalize must equal this
	// configuration's. A resumed run continues from its own checkpoint and
	// does not read it. A relative path is relative to the working
	// directory, as Data.Dir is.
	InitFrom string `yaml:"init_from" msgpack:"init_from"`
}

// Stage is a run of residual blocks of one width. Its first block uses
// Stride; the others use stride 1.
type Stage struct {
	// Channels is the number of output channels of every block, in
	// [1, 2048].
	Channels int `yaml:"channels" msgpack:"channels"`
	// Blocks is the number of residual blocks, in [1, 1000].
	Blocks int `yaml:"blocks" msgpack:"blocks"`
	// Stride is the stride of the first block, 1 or 2.
	Stride int `yaml:"stride" msgpack:"stride"`
}

// Solver configures the optimisation.
type Solver struct {
	// Optimizer updates the weights from their gradients.
	Optimizer Optimizer `yaml:"optimizer" msgpack:"optimizer"`
	// Scheduler sets the learning rate of every step.
	Scheduler Scheduler `yaml:"scheduler" msgpack:"scheduler"`
	// LabelSmoothing mixes the one-hot target with the uniform distribution:
	// target = (1-ε)·onehot + ε/10. It is in [0, 1).
	LabelSmoothing float64 `yaml:"label_smoothing" msgpack:"label_smoothing"`
	// BatchSize is the number of images per training step, > 0. The output
	// of the widest layer for one batch, BatchSize × channels × 32 × 32
	// values, holds at most 2^31 of them: BatchSize is at most 65536 for a
	// network 32 channels wide, 1024 for one 2048 channels wide.
	BatchSize int `yaml:"batch_size" msgpack:"batch_size"`
	// Epochs is the number of passes over the training split, > 0.
	Epochs int `yaml:"epochs" msgpack:"epochs"`
	// NumTrainSamples is the size of the random training subset on which
	// training accuracy is measured after every epoch; 0 means all.
	NumTrainSamples int `yaml:"num_train_samples" msgpack:"num_train_samples"`
	// NumValSamples is the same for the validation set; 0 means all.
	NumValSamples int `yaml:"num_val_samples" msgpack:"num_val_samples"`
	// Distillation adds the predictions of trained teacher networks to
	// the targets; it is off when Distillation.Teachers is empty.
	Distillation Distillation `yaml:"distillation" msgpack:"distillation"`
	// EarlyStopping ends the run when the validation accuracy stops
	// improving; it is off when EarlyStopping.Patience is 0.
	EarlyStopping EarlyStopping `yaml:"early_stopping" msgpack:"early_stopping"`
}

// EarlyStopping ends a run before solver.epochs when the validation
// accuracy has not improved for Patience epochs, as Keras' EarlyStopping
// on val_accuracy does: an epoch improves when its validation accuracy
// exceeds the best one of the epochs that improved before it by more than
// MinDelta (the first epoch always improves); the run stops after the
// epoch that makes Patience epochs in a row without improvement. The best
// weights (the highest validation accuracy) are kept as the model, as at
// the end of every run.
type EarlyStopping struct {
	// Patience is the number of epochs in a row without improvement
	// after which the run stops, >= 0; 0 turns early stopping off.
	Patience int `yaml:"patience" msgpack:"patience"`
	// MinDelta is the smallest rise of the validation accuracy, as a
	// fraction (0.005 is half a percentage point), that counts as an
	// improvement; finite and >= 0.
	MinDelta float64 `yaml:"min_delta" msgpack:"min_delta"`
}

// Enabled reports whether early stopping is configured.
func (e EarlyStopping) Enabled() bool { return e.Patience > 0 }

// Distillation configures knowledge distillation (Hinton et al., 2015):
// the loss of a batch becomes
//
//	(1-Weight)·CE(labels, softmax(z)) + Weight·T²·KL(q ‖ softmax(z/T))
//
// where z are the network's logits, T is Temperature and q is the mean
// over the teachers of softmax(teacher logits/T), the teachers seeing the
// same augmented images as the network. Label smoothing applies to the
// labels' term.
type Distillation struct {
	// Teachers are checkpoint files written by the trainer (any
	// architecture and size; max_params does not apply to them), read
	// when training starts; relative paths are relative to the working
	// directory, as Data.Dir is. Their data.normalize must equal this
	// configuration's. Empty disables distillation.
	Teachers []string `yaml:"teachers" msgpack:"teachers"`
	// Weight is the share of the teachers' term, in [0, 1].
	Weight float64 `yaml:"weight" msgpack:"weight"`
	// Temperature softens the teachers' and the network's
	// distributions, > 0.
	Temperature float64 `yaml:"temperature" msgpack:"temperature"`
}

// Enabled reports whether distillation is configured.
func (d Distillation) Enabled() bool { return len(d.Teachers) > 0 }

// Optimizer names an optimizer and its arguments.
type Optimizer struct {
	// Name is one of "sgd", "adam", "adamw".
	Name string `yaml:"name" msgpack:"name"`
	// LR is the base (peak, for "onecycle") learning rate, > 0.
	LR float64 `yaml:"lr" msgpack:"lr"`
	// Momentum is the momentum of "sgd", in [0, 1).
	Momentum float64 `yaml:"momentum" msgpack:"momentum"`
	// Nesterov selects Nesterov momentum; it needs "sgd" with Momentum > 0.
	Nesterov bool `yaml:"nesterov" msgpack:"nesterov"`
	// Beta1 is the first-moment decay of "adam" and "adamw", in [0, 1).
	Beta1 float64 `yaml:"beta1" msgpack:"beta1"`
	// Beta2 is the second-moment decay of "adam" and "adamw", in [0, 1).
	Beta2 float64 `yaml:"beta2" msgpack:"beta2"`
	// Epsilon is added to the denominator of "adam" and "adamw", > 0.
	Epsilon float64 `yaml:"epsilon" msgpack:"epsilon"`
	// WeightDecay is the L2 penalty ("sgd", "adam") or the decoupled
	// decay ("adamw"), >= 0.
	WeightDecay float64 `yaml:"weight_decay" msgpack:"weight_decay"`
	// DecayBNAndBias applies weight decay to batch norm γ, β and biases too.
	// It is off by default: only convolution and linear weights decay.
	DecayBNAndBias bool `yaml:"decay_bn_and_bias" msgpack:"decay_bn_and_bias"`
}

// Scheduler names a learning-rate schedule and its arguments.
type Scheduler struct {
	// Name is one of "none", "step", "multistep", "exponential", "cosine",
	// "onecycle"; empty means "none".
	Name string `yaml:"name" msgpack:"name"`
	// StepSize is the period in epochs of "step", > 0 for "step".
	StepSize int `yaml:"step_size" msgpack:"step_size"`
	// Milestones are the epochs at which "multistep" multiplies by Gamma;
	// for "multistep" they are positive and strictly increasing.
	Milestones []int `yaml:"milestones" msgpack:"milestones"`
	// Gamma is the decay factor of "step", "multistep" and "exponential"
	// ("exponential" multiplies by it every epoch); > 0 for those.
	Gamma float64 `yaml:"gamma" msgpack:"gamma"`
	// WarmupEpochs of linear warm-up precede "cosine"; >= 0, and
	// < Solver.Epochs for "cosine".
	WarmupEpochs int `yaml:"warmup_epochs" msgpack:"warmup_epochs"`
	// MinLR is the final learning rate of "cosine", >= 0, and at most
	// Optimizer.LR for "cosine".
	MinLR float64 `yaml:"min_lr" msgpack:"min_lr"`
	// PctStart is the fraction of "onecycle" spent increasing the rate,
	// in [0, 1] for "onecycle", as in PyTorch's OneCycleLR.
	PctStart float64 `yaml:"pct_start" msgpack:"pct_start"`
	// DivFactor sets the initial rate of "onecycle": lr / DivFactor; > 0
	// for "onecycle".
	DivFactor float64 `yaml:"div_factor" msgpack:"div_factor"`
	// FinalDivFactor sets the final rate of "onecycle":
	// lr / DivFactor / FinalDivFactor; > 0 for "onecycle".
	FinalDivFactor float64 `yaml:"final_div_factor" msgpack:"final_div_factor"`
}

// Output names where a run writes its files. By default every path
// derives from Name: the run folder runs/NAME (RunDir), the best model
// models/NAME.ckpt and the plot in the run folder.
type Output struct {
	// Name names the run; the best model is saved as ModelsDir/Name.ckpt.
	// It must not be empty and must not contain a path separator.
	Name string `yaml:"name" msgpack:"name"`
	// CheckpointDir is the run directory: last.ckpt, best.ckpt, history.csv.
	// It must not be empty. Parse sets it to RunDir(Name) when the file
	// leaves it out or empty.
	CheckpointDir string `yaml:"checkpoint_dir" msgpack:"checkpoint_dir"`
	// ModelsDir receives the best model at the end of training. It must not
	// be empty.
	ModelsDir string `yaml:"models_dir" msgpack:"models_dir"`
	// PlotsDir receives training.png. Empty means CheckpointDir; use
	// PlotsDirOrDefault to resolve it.
	PlotsDir string `yaml:"plots_dir" msgpack:"plots_dir"`
}

// RunsDir is the folder that holds the run folders whose path derives
// from the run's name.
const RunsDir = "runs"

// RunDir returns the run folder of a run named name when
// output.checkpoint_dir is not given: runs/NAME.
func RunDir(name string) string { return RunsDir + "/" + name }

// PlotsDirOrDefault returns PlotsDir, or CheckpointDir when PlotsDir is
// empty.
func (o Output) PlotsDirOrDefault() string {
	if o.PlotsDir == "" {
		return o.CheckpointDir
	}
	return o.PlotsDir
}

// Default returns the default configuration: the reference network
// (stem 16; stages 16x2 stride 1, 32x2 stride 2; 43,226 parameters)
// trained with SGD + Nesterov and a one-cycle schedule.
func Default() Config {
	return Config{
		Data: Data{
			Dir:      "data",
			Download: true,
			ValSize:  1000,
			Seed:     0,
			Normalize: Normalize{
				Mean: []float64{0.5, 0.5, 0.5},
				Std:  []float64{0.5, 0.5, 0.5},
			},
			Augment: Augment{CropPadding: 4, HorizontalFlip: true},
		},
		Model: Model{
			StemChannels: 16,
			Stages: []Stage{
				{Channels: 16, Blocks: 2, Stride: 1},
				{Channels: 32, Blocks: 2, Stride: 2},
			},
			MaxParams:  50000,
			BNMomentum: 0.1,
			BNEpsilon:  1e-5,
		},
		Solver: Solver{
			Optimizer: Optimizer{
				Name:        "sgd",
				LR:          0.1,
				Momentum:    0.9,
				Nesterov:    true,
				Beta1:       0.9,
				Beta2:       0.999,
				Epsilon:     1e-8,
				WeightDecay: 5e-4,
			},
			Scheduler: Scheduler{
				Name:           "onecycle",
				StepSize:       10,
				Gamma:          0.1,
				PctStart:       0.25,
				DivFactor:      25,
				FinalDivFactor: 1e4,
			},
			BatchSize:       128,
			Epochs:          20,
			NumTrainSamples: 1000,
			NumValSamples:   0,
			Distillation:    Distillation{Weight: 0.9, Temperature: 4},
		},
		Output: Output{
			Name:          "default",
			CheckpointDir: RunDir("default"),
			ModelsDir:     "models",
			PlotsDir:      "",
		},
		Seed:   0,
		Device: "cpu",
	}
}
