package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseDefaults(t *testing.T) {
	for _, src := range []string{
		"",
		"# only a comment\n",
		"---\n",
		"~\n",
		"data:\n",
		"data:\n  # dir: elsewhere\nmodel: {}\n",
	} {
		c, err := Parse([]byte(src), "config.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) = %+v, want Default()", src, c)
		}
	}
}

func TestParsePartialOverride(t *testing.T) {
	c, err := Parse([]byte("solver:\n  epochs: 3\n"), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Solver.Epochs = 3
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Parse = %+v\nwant %+v", c, want)
	}

	src := `
data:
  augment:
    horizontal_flip: false
solver:
  optimizer:
    name: adamw
    nesterov: false
    lr: 1e-3
  scheduler:
    name: multistep
    milestones: [10, 15]
output:
  plots_dir: ""
seed: 7
`
	c, err = Parse([]byte(src), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want = Default()
	want.Data.Augment.HorizontalFlip = false
	want.Solver.Optimizer.Name = "adamw"
	want.Solver.Optimizer.Nesterov = false
	want.Solver.Optimizer.LR = 1e-3
	want.Solver.Scheduler.Name = "multistep"
	want.Solver.Scheduler.Milestones = []int{10, 15}
	want.Output.PlotsDir = ""
	want.Seed = 7
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Parse = %+v\nwant %+v", c, want)
	}
	if got := c.Output.PlotsDirOrDefault(); got != "runs/default" {
		t.Errorf("PlotsDirOrDefault() = %q, want the checkpoint dir", got)
	}
}

// A list in the file replaces the default list; it is not merged with it.
func TestParseListsReplaceDefaults(t *testing.T) {
	src := `
data:
  normalize:
    mean: [0.49, 0.48, 0.45]
model:
  stages:
    - channels: 8
      blocks: 1
      stride: 1
`
	c, err := Parse([]byte(src), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Stage{{Channels: 8, Blocks: 1, Stride: 1}}; !reflect.DeepEqual(c.Model.Stages, want) {
		t.Errorf("stages = %+v, want %+v", c.Model.Stages, want)
	}
	if want := []float64{0.49, 0.48, 0.45}; !reflect.DeepEqual(c.Data.Normalize.Mean, want) {
		t.Errorf("mean = %v, want %v", c.Data.Normalize.Mean, want)
	}
	if want := Default().Data.Normalize.Std; !reflect.DeepEqual(c.Data.Normalize.Std, want) {
		t.Errorf("std = %v, want the default %v", c.Data.Normalize.Std, want)
	}

	// A stage element starts from zero, not from the default stage at the
	// same index: a missing blocks is 0 and so invalid.
	_, err = Parse([]byte("model:\n  stages:\n    - channels: 16\n      stride: 1\n"), "config.yaml")
	want := "config: config.yaml:3: model.stages[0].blocks: must be > 0, got 0"
	if err == nil || err.Error() != want {
		t.Errorf("stage without blocks: err = %v, want %s", err, want)
	}

	// A shorter list is not padded with defaults.
	_, err = Parse([]byte("data:\n  normalize:\n    mean: [0.5]\n"), "config.yaml")
	want = "config: config.yaml:3: data.normalize.mean: must have exactly 3 values (R, G, B), got 1"
	if err == nil || err.Error() != want {
		t.Errorf("short mean: err = %v, want %s", err, want)
	}

	// An empty or null list is empty.
	for _, src := range []string{"model:\n  stages: []\n", "model:\n  stages:\n"} {
		_, err = Parse([]byte(src), "config.yaml")
		want = "config: config.yaml:2: model.stages: must have at least one stage"
		if err == nil || err.Error() != want {
			t.Errorf("Parse(%q): err = %v, want %s", src, err, want)
		}
	}
}

func TestParseDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // Problem.Error() of each problem
	}{
		{"unknown top-level key", "seed: 1\nmodle:\n  stem_channels: 8\n",
			[]string{`line 2: unknown key "modle" (did you mean "model"?)`}},
		{"unknown nested key", "model:\n  max_params: 10\n  stemchannels: 8\n",
			[]string{`line 3: model: unknown key "stemchannels" (did you mean "stem_channels"?)`}},
		{"unknown deeply nested key", "solver:\n  optimizer:\n    learning_rate: 0.1\n",
			[]string{`line 3: solver.optimizer: unknown key "learning_rate" (known keys: name, lr, momentum, nesterov, beta1, beta2, epsilon, weight_decay, decay_bn_and_bias)`}},
		{"unknown key in a stage", "model:\n  stages:\n    - channels: 8\n      blocks: 1\n      strides: 1\n",
			[]string{`line 5: model.stages[0]: unknown key "strides" (did you mean "stride"?)`}},
		{"misspelt key with a transposition", "solver:\n  ephocs: 3\n",
			[]string{`line 2: solver: unknown key "ephocs" (did you mean "epochs"?)`}},
		{"key case", "Seed: 3\n",
			[]string{`line 1: unknown key "Seed" (did you mean "seed"?)`}},
		{"duplicate key", "solver:\n  epochs: 3\n  epochs: 4\n",
			[]string{`line 3: solver: duplicate key "epochs" (first at line 2)`}},
		{"string for an integer", "solver:\n  epochs: ten\n",
			[]string{`line 2: solver.epochs: must be an integer, got "ten"`}},
		{"fraction for an integer", "solver:\n  batch_size: 2.5\n",
			[]string{`line 2: solver.batch_size: must be an integer, got 2.5`}},
		{"string for a number", "solver:\n  optimizer:\n    lr: fast\n",
			[]string{`line 3: solver.optimizer.lr: must be a number, got "fast"`}},
		{"string for a bool", "data:\n  download: maybe\n",
			[]string{`line 2: data.download: must be true or false, got "maybe"`}},
		{"list for a string", "data:\n  dir: [a, b]\n",
			[]string{`line 2: data.dir: must be a string, got a list`}},
		{"scalar for a mapping", "model: big\n",
			[]string{`line 1: model: must be a mapping, got "big"`}},
		{"scalar for a list", "model:\n  stages: 3\n",
			[]string{`line 2: model.stages: must be a list, got 3`}},
		{"bad list element", "data:\n  normalize:\n    std: [0.5, x, 0.5]\n",
			[]string{`line 3: data.normalize.std[1]: must be a number, got "x"`}},
		{"null for an integer", "solver:\n  epochs:\n",
			[]string{`line 2: solver.epochs: must be an integer, got null`}},
		{"null for a string", "output:\n  plots_dir: ~\n",
			[]string{`line 2: output.plots_dir: must be a string, got null (write "" for an empty string)`}},
		{"top level not a mapping", "- a\n- b\n",
			[]string{`line 1: must be a mapping, got a list`}},
		{"several problems", "modle: {}\nsolver:\n  epochs: ten\n  optimizer:\n    nam: sgd\n",
			[]string{
				`line 1: unknown key "modle" (did you mean "model"?)`,
				`line 3: solver.epochs: must be an integer, got "ten"`,
				`line 5: solver.optimizer: unknown key "nam" (did you mean "name"?)`,
			}},
		{"two documents", "seed: 1\n---\nseed: 2\n",
			[]string{`line 2: a second YAML document starts here; a config file must hold exactly one`}},
		{"syntax error", "seed: [1, 2\n",
			[]string{`line 1: did not find expected ',' or ']'`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.src), "config.yaml")
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Parse(%q) = %v (%T), want a *DecodeError", tt.src, err, err)
			}
			if de.File != "config.yaml" {
				t.Errorf("File = %q, want config.yaml", de.File)
			}
			if got := problemStrings(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Errorf("Config = %+v, want the zero Config on error", c)
			}
		})
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	_, err := Parse([]byte("model:\n  max_params: 10\n  stemchannels: 8\n"), "config.yaml")
	want := `config: config.yaml:3: model: unknown key "stemchannels" (did you mean "stem_channels"?)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}

	_, err = Parse([]byte("modle: {}\nsolver:\n  epochs: ten\n"), "runs/a.yaml")
	want = "config: 2 problems in runs/a.yaml:\n" +
		"\truns/a.yaml:1: unknown key \"modle\" (did you mean \"model\"?)\n" +
		"\truns/a.yaml:3: solver.epochs: must be an integer, got \"ten\""
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}

	_, err = Parse([]byte("solver:\n  epochs: ten\n"), "")
	want = `config: line 2: solver.epochs: must be an integer, got "ten"`
	if err == nil || err.Error() != want {
		t.Errorf("no name: err = %v\nwant %s", err, want)
	}
}

func TestParseValidationErrorsHaveLines(t *testing.T) {
	src := `model:
  stages:
    - channels: 16
      blocks: 2
      stride: 1
    - channels: 0
      blocks: 2
      stride: 2
solver:
  optimizer:
    name: sgdd
  scheduler:
    name: cosine
    warmup_epochs: 20
`
	_, err := Parse([]byte(src), "config.yaml")
	want := "config: 3 problems in config.yaml:\n" +
		"\tconfig.yaml:6: model.stages[1].channels: must be > 0, got 0\n" +
		"\tconfig.yaml:11: solver.optimizer.name: unknown optimizer \"sgdd\" (want sgd, adam or adamw)\n" +
		"\tconfig.yaml:14: solver.scheduler.warmup_epochs: must be < solver.epochs (20) for the cosine scheduler, got 20"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.File != "config.yaml" {
		t.Fatalf("err = %#v, want a *ValidationError for config.yaml", err)
	}

	// A problem whose value is not in the file has the line of its closest
	// enclosing key, or none.
	_, err = Parse([]byte("solver:\n  optimizer:\n    name: adam\n"), "config.yaml")
	want = `config: config.yaml:2: solver.optimizer.nesterov: requires optimizer sgd, got "adam"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	_, err = Parse([]byte("seed: 1\nsolver:\n  optimizer:\n    momentum: 0\n"), "config.yaml")
	want = `config: config.yaml:3: solver.optimizer.nesterov: requires solver.optimizer.momentum > 0, got 0`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	_, err = Parse([]byte("model:\n  stem_channels: 8\n"), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse([]byte("output:\n  name: a/b\ndata:\n  dir: \"\"\n"), "config.yaml")
	want = "config: 2 problems in config.yaml:\n" +
		"\tconfig.yaml:4: data.dir: must not be empty\n" +
		"\tconfig.yaml:2: output.name: must not contain a path separator, got \"a/b\""
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestParseIntegralFloatForInteger(t *testing.T) {
	c, err := Parse([]byte("solver:\n  num_train_samples: 1e3\n"), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Solver.NumTrainSamples != 1000 {
		t.Errorf("num_train_samples = %d, want 1000", c.Solver.NumTrainSamples)
	}
}

func TestParseAnchorsAndMerge(t *testing.T) {
	src := `
model:
  stages:
    - &wide {channels: 32, blocks: 2, stride: 1}
    - <<: *wide
      stride: 2
`
	c, err := Parse([]byte(src), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{{Channels: 32, Blocks: 2, Stride: 1}, {Channels: 32, Blocks: 2, Stride: 2}}
	if !reflect.DeepEqual(c.Model.Stages, want) {
		t.Errorf("stages = %+v, want %+v", c.Model.Stages, want)
	}

	_, err = Parse([]byte("model:\n  stages:\n    - &s {channels: 8, blocks: 1, stride: 1, width: 3}\n"), "config.yaml")
	if err == nil || !strings.Contains(err.Error(), `config.yaml:3: model.stages[0]: unknown key "width"`) {
		t.Errorf("unknown key in an anchored mapping: err = %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	modified := Default()
	modified.Data.Dir = "../shared/cifar10/cifar-10-binary-train.tar.gz"
	modified.Data.Normalize.Mean = []float64{0.4914, 0.4822, 0.4465}
	modified.Data.Normalize.Std = []float64{0.247, 0.2435, 0.2616}
	modified.Model.Stages = append(modified.Model.Stages, Stage{Channels: 64, Blocks: 1, Stride: 2})
	modified.Model.BNEpsilon = 1e-3
	modified.Solver.Optimizer = Optimizer{Name: "adamw", LR: 3e-4, Beta1: 0.9, Beta2: 0.95, Epsilon: 1e-8, WeightDecay: 0.05, DecayBNAndBias: true}
	modified.Solver.Scheduler.Name = "multistep"
	modified.Solver.Scheduler.Milestones = []int{5, 12, 17}
	modified.Solver.LabelSmoothing = 0.1
	modified.Output.Name = "wide: run #2" // needs quoting
	modified.Output.PlotsDir = ""
	modified.Seed = -42

	for name, c := range map[string]Config{"default": Default(), "modified": modified} {
		data, err := c.Marshal()
		if err != nil {
			t.Fatalf("%s: Marshal: %v", name, err)
		}
		got, err := Parse(data, name+".yaml")
		if err != nil {
			t.Fatalf("%s: Parse(Marshal()): %v\n%s", name, err, data)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("%s: Parse(Marshal(c)) = %+v\nwant %+v\nYAML:\n%s", name, got, c, data)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(path, []byte("solver:\n  epochs: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Solver.Epochs != 5 || c.Solver.BatchSize != Default().Solver.BatchSize {
		t.Errorf("Load: epochs %d, batch_size %d", c.Solver.Epochs, c.Solver.BatchSize)
	}

	if err := os.WriteFile(path, []byte("solver:\n  epochs: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if want := "config: " + path + ":2: solver.epochs: must be > 0, got 0"; err == nil || err.Error() != want {
		t.Errorf("Load invalid: err = %v, want %s", err, want)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.HasPrefix(err.Error(), "config: open ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load missing file: err = %v, want a config: open ... error wrapping os.ErrNotExist", err)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"name", "lr", "momentum", "nesterov", "beta1", "beta2", "epsilon", "weight_decay"}
	for key, want := range map[string]string{
		"nam":          "name",
		"lrr":          "lr",
		"momentun":     "momentum",
		"weightdecay":  "weight_decay",
		"Weight-Decay": "weight_decay",
		"nestrov":      "nesterov",
		"beta3":        "beta1",
		"xy":           "",
		"schedule":     "",
	} {
		if got := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}
