package config

import (
	"os"
	"reflect"
	"testing"
)

// overrides parses "key=value" strings or fails the test.
func overrides(t *testing.T, sets ...string) []Override {
	t.Helper()
	var os []Override
	for _, s := range sets {
		o, err := ParseOverride(s)
		if err != nil {
			t.Fatal(err)
		}
		os = append(os, o)
	}
	return os
}

func TestRunDirDerivedFromName(t *testing.T) {
	for _, tc := range []struct {
		src, sets       string
		run, plots, ckp string
	}{
		{src: "", run: "runs/default", plots: "runs/default", ckp: "models/default.ckpt"},
		{src: "output:\n  name: e1\n", run: "runs/e1", plots: "runs/e1", ckp: "models/e1.ckpt"},
		{src: "output:\n  name: e1\n  checkpoint_dir: \"\"\n  plots_dir: \"\"\n", run: "runs/e1", plots: "runs/e1"},
		{src: "output:\n  name: e1\n  checkpoint_dir: elsewhere\n", run: "elsewhere", plots: "elsewhere"},
		{src: "output:\n  name: e1\n  plots_dir: plots\n", run: "runs/e1", plots: "plots"},
		{src: "output:\n  name: e1\n", sets: "output.name=e2", run: "runs/e2", plots: "runs/e2"},
	} {
		var os []Override
		if tc.sets != "" {
			os = overrides(t, tc.sets)
		}
		c, err := Parse([]byte(tc.src), "c.yaml", os...)
		if err != nil {
			t.Errorf("%q %v: %v", tc.src, os, err)
			continue
		}
		if c.Output.CheckpointDir != tc.run || c.Output.PlotsDirOrDefault() != tc.plots {
			t.Errorf("%q %v: checkpoint_dir %q, plots %q; want %q, %q", tc.src, os, c.Output.CheckpointDir, c.Output.PlotsDirOrDefault(), tc.run, tc.plots)
		}
		// The saved configuration reads back to the same paths.
		data, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if back, err := Parse(data, "saved.yaml"); err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("%q: Parse(Marshal()) = %+v, %v; want %+v", tc.src, back.Output, err, c.Output)
		}
	}
	// The root config.yaml, copied with a new name, writes nothing into
	// runs/default.
	data, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, "config.yaml", overrides(t, "output.name=copy")...)
	if err != nil {
		t.Fatal(err)
	}
	if c.Output.CheckpointDir != "runs/copy" || c.Output.PlotsDirOrDefault() != "runs/copy" {
		t.Errorf("config.yaml with output.name copy: %+v", c.Output)
	}
}

func TestOverridesApplied(t *testing.T) {
	src := "solver:\n  epochs: 5\n  optimizer:\n    name: sgd\n    lr: 0.2\n"
	c, err := Parse([]byte(src), "c.yaml", overrides(t,
		"solver.epochs=3",
		"model.stages=[{channels: 16, blocks: 2, stride: 1}, {channels: 24, blocks: 1, stride: 2}]",
		"model.stages[1].channels=28",
		"solver.optimizer={name: adam, nesterov: false}",
		"data.dir=/data/cifar=10.tar.gz",
		"output.plots_dir=\"\"",
		"seed=7",
		"seed=8",
	)...)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Solver.Epochs = 3
	want.Model.Stages = []Stage{{16, 2, 1}, {28, 1, 2}}
	want.Solver.Optimizer.Name = "adam"
	want.Solver.Optimizer.Nesterov = false
	want.Solver.Optimizer.LR = 0.2 // a mapping sets only the keys it holds
	want.Data.Dir = "/data/cifar=10.tar.gz"
	want.Seed = 8 // the last override wins
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestOverrideErrors(t *testing.T) {
	for _, tc := range []struct {
		src  string
		sets []string
		want string
	}{
		{"", []string{"solver.epoch=3"},
			`config: -set solver.epoch=3: solver: unknown key "epoch" (did you mean "epochs"?)`},
		{"", []string{"solverr.epochs=3"},
			`config: -set solverr.epochs=3: unknown key "solverr" (did you mean "solver"?)`},
		{"", []string{"solver.epochs=ten"},
			`config: -set solver.epochs=ten: solver.epochs: must be an integer, got "ten"`},
		{"", []string{"solver.epochs.x=1"},
			`config: -set solver.epochs.x=1: solver.epochs: is an integer, which has no keys`},
		{"", []string{"model.stages[5].channels=3"},
			`config: -set model.stages[5].channels=3: model.stages: has no element [5]: the list has 2`},
		{"", []string{"output.name="},
			`config: -set output.name=: output.name: must be a string, got null (write "" for an empty string)`},
		{"", []string{"model.stages=[{channels: 4"},
			"config: -set model.stages=[{channels: 4: model.stages: the value is not valid YAML: did not find expected ',' or '}'"},
		{"", []string{"model.stages=[{channels: 4, blocks: 1, stride: 3, depth: 2}]"},
			`config: -set model.stages=[{channels: 4, blocks: 1, stride: 3, depth: 2}]: model.stages[0]: unknown key "depth" (known keys: channels, blocks, stride)`},
		// Validation: a value set by an override is blamed on it, even
		// where the file also sets the key.
		{"solver:\n  epochs: 5\n", []string{"solver.epochs=0"},
			`config: -set solver.epochs=0: solver.epochs: must be > 0, got 0`},
		{"", []string{"model.stages=[{channels: 4, blocks: 1, stride: 3}]"},
			`config: -set model.stages=[{channels: 4, blocks: 1, stride: 3}]: model.stages[0].stride: must be 1 or 2, got 3`},
		{"", []string{"model.stages=[]"},
			`config: -set model.stages=[]: model.stages: must have at least one stage`},
		// Every problem at once, each with where it came from.
		{"solver:\n  batch_size: 0\n", []string{"solver.epochs=0", "output.name=a/b"},
			"config: 3 problems in c.yaml:\n" +
				"\tc.yaml:2: solver.batch_size: must be > 0, got 0\n" +
				"\t-set solver.epochs=0: solver.epochs: must be > 0, got 0\n" +
				"\t-set output.name=a/b: output.name: must not contain a path separator, got \"a/b\""},
		{"", []string{"solver.epochs=x", "seed=y"},
			"config: 2 problems in c.yaml:\n" +
				"\t-set solver.epochs=x: solver.epochs: must be an integer, got \"x\"\n" +
				"\t-set seed=y: seed: must be an integer, got \"y\""},
	} {
		_, err := Parse([]byte(tc.src), "c.yaml", overrides(t, tc.sets...)...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v:\n got %v\nwant %s", tc.sets, err, tc.want)
		}
	}
}

func TestParseOverride(t *testing.T) {
	o, err := ParseOverride("data.dir=a=b")
	if err != nil || o != (Override{Path: "data.dir", Value: "a=b"}) || o.String() != "data.dir=a=b" {
		t.Errorf("ParseOverride(data.dir=a=b) = %+v, %v", o, err)
	}
	for s, want := range map[string]string{
		"solver.epochs":  "config: -set solver.epochs: want key=value, such as solver.epochs=3",
		"=3":             "config: -set =3: empty key",
		"solver..lr=1":   `config: -set solver..lr=1: key "solver..lr" has an empty name (want names joined by dots, such as solver.epochs)`,
		"stages[x]=1":    `config: -set stages[x]=1: key "stages[x]": index "x" in "stages[x]" is not a number >= 0`,
		"stages[1=1":     `config: -set stages[1=1: key "stages[1": malformed index in "stages[1" (want name[N])`,
		"stages[-1].a=1": `config: -set stages[-1].a=1: key "stages[-1].a": index "-1" in "stages[-1]" is not a number >= 0`,
	} {
		if _, err := ParseOverride(s); err == nil || err.Error() != want {
			t.Errorf("ParseOverride(%q) = %v, want %s", s, err, want)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for _, ok := range []string{"seed", "solver.optimizer.lr", "model.stages", "model.stages[3].channels", "data.normalize.mean[0]"} {
		if err := CheckKey(ok); err != nil {
			t.Errorf("CheckKey(%q) = %v", ok, err)
		}
	}
	for key, want := range map[string]string{
		"solver.optimizer.lrr": `config: solver.optimizer.lrr: solver.optimizer: unknown key "lrr" (did you mean "lr"?)`,
		"seed.x":               `config: seed.x: seed is an integer, which has no keys`,
		"model[0]":             `config: model[0]: model is a mapping, not a list`,
		"widths":               `config: widths: unknown key "widths" (known keys: data, model, solver, output, seed, device)`,
	} {
		if err := CheckKey(key); err == nil || err.Error() != want {
			t.Errorf("CheckKey(%q) = %v, want %s", key, err, want)
		}
	}
}

func TestValue(t *testing.T) {
	c := Default()
	for path, want := range map[string]string{
		"solver.optimizer.lr":      "0.1",
		"solver.optimizer.name":    `"sgd"`,
		"model.stages":             "[{channels: 16, blocks: 2, stride: 1}, {channels: 32, blocks: 2, stride: 2}]",
		"model.stages[1].channels": "32",
		"data.augment":             "{crop_padding: 4, horizontal_flip: true, cutout: 0}",
		"seed":                     "0",
	} {
		got, err := c.Value(path)
		if err != nil || got != want {
			t.Errorf("Value(%q) = %q, %v; want %q", path, got, err, want)
		}
		// The value reads back to the same configuration.
		back, err := Parse(nil, "c.yaml", Override{Path: path, Value: got})
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("-set %s=%s: %v", path, got, err)
		}
	}
	for _, bad := range []string{"model.stages[2]", "solver.x", "seed.y"} {
		if _, err := c.Value(bad); err == nil {
			t.Errorf("Value(%q) succeeded", bad)
		}
	}
}
