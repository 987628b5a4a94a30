package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestDiffNoChange(t *testing.T) {
	if got := Diff(Default(), Default()); got != nil {
		t.Errorf("Diff(Default, Default) = %v, want nil", got)
	}
	a, b := Default(), Default()
	a.Solver.Scheduler.Milestones = []int{}
	if got := Diff(a, b); got != nil {
		t.Errorf("an empty list against nil: %v, want nil", got)
	}
	a.Model.BNEpsilon, b.Model.BNEpsilon = math.NaN(), math.NaN()
	if got := Diff(a, b); got != nil {
		t.Errorf("NaN against NaN: %v, want nil", got)
	}
}

func TestDiff(t *testing.T) {
	const defaultStages = "[{channels: 16, blocks: 2, stride: 1}, {channels: 32, blocks: 2, stride: 2}]"
	tests := []struct {
		name   string
		change func(c *Config)
		want   []Change
	}{
		{"data seed", func(c *Config) { c.Data.Seed = 1 },
			[]Change{{"data.seed", "0", "1", Fixed, "changes the train/validation split"}}},
		{"normalize", func(c *Config) { c.Data.Normalize.Mean = []float64{0.5, 0.48, 0.5} },
			[]Change{{"data.normalize.mean[1]", "0.5", "0.48", Fixed, "changes the network's inputs"}}},
		{"epochs", func(c *Config) { c.Solver.Epochs = 30 },
			[]Change{{"solver.epochs", "20", "30", Schedule, "changes the length of the run and its learning-rate schedule"}}},
		{"one stage more", func(c *Config) { c.Model.Stages = append(c.Model.Stages, Stage{64, 1, 2}) },
			[]Change{{"model.stages", defaultStages,
				"[{channels: 16, blocks: 2, stride: 1}, {channels: 32, blocks: 2, stride: 2}, {channels: 64, blocks: 1, stride: 2}]",
				Fixed, "changes the network"}}},
		{"a stage's width", func(c *Config) { c.Model.Stages = []Stage{{16, 2, 1}, {24, 2, 2}} },
			[]Change{{"model.stages[1].channels", "32", "24", Fixed, "changes the network"}}},
		{"output paths", func(c *Config) {
			c.Output.CheckpointDir = "runs/e14"
			c.Output.PlotsDir = "plots"
		}, []Change{
			{"output.checkpoint_dir", `"runs/default"`, `"runs/e14"`, Free, "where the run writes its files"},
			{"output.plots_dir", `""`, `"plots"`, Free, "where the run writes its files"},
		}},
		{"several, in field order", func(c *Config) {
			c.Seed = 3
			c.Solver.Scheduler.Milestones = []int{10, 15}
			c.Solver.Optimizer.WeightDecay = 1e-3
			c.Solver.Optimizer.LR = 0.05
			c.Model.MaxParams = 60000
			c.Data.Download = false
			c.Data.Augment.HorizontalFlip = false
			c.Solver.Distillation.Teachers = []string{"t.ckpt"}
		}, []Change{
			{"data.download", "true", "false", Free, "whether a missing data set is fetched"},
			{"data.augment.horizontal_flip", "true", "false", Fixed, "changes the training images"},
			{"model.max_params", "50000", "60000", Free, "a limit on the network, not the network"},
			{"solver.optimizer.lr", "0.1", "0.05", Schedule, "changes the learning-rate schedule"},
			{"solver.optimizer.weight_decay", "0.0005", "0.001", Fixed, "changes the optimizer"},
			{"solver.scheduler.milestones", "[]", "[10, 15]", Schedule, "changes the learning-rate schedule"},
			{"solver.distillation.teachers", "[]", `["t.ckpt"]`, Fixed, "changes the loss"},
			{"seed", "0", "3", Fixed, "changes the batch order and the augmentation"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved, current := Default(), Default()
			tt.change(&current)
			if got := Diff(saved, current); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestFormatChanges(t *testing.T) {
	saved, current := Default(), Default()
	current.Data.Seed = 1
	current.Solver.Epochs = 30
	want := "\tdata.seed: 0 -> 1 (changes the train/validation split)\n" +
		"\tsolver.epochs: 20 -> 30 (changes the length of the run and its learning-rate schedule)"
	if got := FormatChanges(Diff(saved, current)); got != want {
		t.Errorf("FormatChanges:\n got %q\nwant %q", got, want)
	}
	if got := FormatChanges(nil); got != "" {
		t.Errorf("FormatChanges(nil) = %q, want empty", got)
	}
}

// leafPaths returns the YAML path of every leaf of v, list elements
// included ("model.stages[1].channels").
func leafPaths(path string, v reflect.Value) []string {
	switch v.Kind() {
	case reflect.Struct:
		fields, names := yamlFields(v.Type())
		var paths []string
		for _, name := range names {
			paths = append(paths, leafPaths(join(path, name), v.FieldByIndex(fields[name].Index))...)
		}
		return paths
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path}
		}
		var paths []string
		for i := range v.Len() {
			paths = append(paths, leafPaths(index(path, i), v.Index(i))...)
		}
		return paths
	}
	return []string{path}
}

// Every leaf of the configuration has a kind: the hand-written lists below
// for Free and Schedule, Fixed for all the others; a path that no rule
// covers (a field added later) is Fixed.
func TestResumeKindOfEveryLeaf(t *testing.T) {
	free := map[string]bool{
		"device": true, "data.dir": true, "data.download": true, "model.max_params": true, "model.init_from": true,
		"solver.num_train_samples": true, "solver.num_val_samples": true,
		"output.name": true, "output.checkpoint_dir": true, "output.models_dir": true, "output.plots_dir": true,
	}
	schedule := map[string]bool{
		"solver.epochs": true, "solver.optimizer.lr": true, "solver.scheduler.name": true,
		"solver.scheduler.step_size": true, "solver.scheduler.milestones": true, "solver.scheduler.gamma": true,
		"solver.scheduler.warmup_epochs": true, "solver.scheduler.min_lr": true, "solver.scheduler.pct_start": true,
		"solver.scheduler.div_factor": true, "solver.scheduler.final_div_factor": true,
		"solver.early_stopping.patience": true, "solver.early_stopping.min_delta": true,
	}
	c := Default()
	c.Solver.Scheduler.Milestones = []int{5, 10}
	c.Solver.Distillation.Teachers = []string{"a.ckpt"}
	paths := leafPaths("", reflect.ValueOf(c))
	if len(paths) < 50 {
		t.Fatalf("only %d leaves: %q", len(paths), paths)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		want := Fixed
		switch q := stripIndices(p); {
		case free[q]:
			want = Free
		case schedule[q]:
			want = Schedule
		}
		seen[stripIndices(p)] = true
		kind, reason := classify(p)
		if kind != want || reason == "" {
			t.Errorf("%s: kind %v (%q), want %v", p, kind, reason, want)
		}
	}
	for p := range free {
		if !seen[p] {
			t.Errorf("%s (free) is not a leaf of Config", p)
		}
	}
	for p := range schedule {
		if !seen[p] {
			t.Errorf("%s (schedule) is not a leaf of Config", p)
		}
	}
	for _, u := range []struct{ path, reason string }{
		{"brand_new", unclassified},
		{"output.archive_dir", unclassified},
		{"data.mirror", unclassified},
		{"solver.scheduler.cycles", unclassified},
		{"solver.ema.decay", unclassified},
		{"solver.optimizer.lr_warmup", "changes the optimizer"},
		{"model.stages[0].kernel", "changes the network"},
	} {
		if kind, reason := classify(u.path); kind != Fixed || reason != u.reason {
			t.Errorf("unknown path %s: kind %v (%q), want fixed (%q)", u.path, kind, reason, u.reason)
		}
	}
}

// The rules name real fields, and Free and Schedule rules name leaves, so
// that a field added under them stays Fixed.
func TestResumeRulesNameLeaves(t *testing.T) {
	types := map[string]reflect.Type{}
	var collect func(t reflect.Type, prefix string)
	collect = func(t reflect.Type, prefix string) {
		fields, names := yamlFields(t)
		for _, name := range names {
			p, ft := join(prefix, name), fields[name].Type
			types[p] = ft
			if ft.Kind() == reflect.Struct {
				collect(ft, p)
			}
		}
	}
	collect(reflect.TypeOf(Config{}), "")
	seen := map[string]bool{}
	for _, r := range resumeRules {
		ft, ok := types[r.path]
		switch {
		case !ok:
			t.Errorf("rule %q names no field of Config", r.path)
		case r.kind != Fixed && ft.Kind() == reflect.Struct:
			t.Errorf("rule %q (%v) names a section, not a leaf", r.path, r.kind)
		case seen[r.path]:
			t.Errorf("rule %q appears twice", r.path)
		}
		seen[r.path] = true
	}
}

// A field that resumeRules does not mention is compared, as Fixed.
func TestDiffNewFieldIsFixed(t *testing.T) {
	type output struct {
		Name    string `yaml:"name"`
		Archive string `yaml:"archive_dir"`
	}
	type config struct {
		Output output `yaml:"output"`
		EMA    []int  `yaml:"ema"`
	}
	a := config{Output: output{"a", "x"}, EMA: []int{1}}
	b := config{Output: output{"b", "y"}, EMA: []int{2}}
	var got []Change
	diffValues("", reflect.ValueOf(a), reflect.ValueOf(b), &got)
	want := []Change{
		{"output.name", `"a"`, `"b"`, Free, "where the run writes its files"},
		{"output.archive_dir", `"x"`, `"y"`, Fixed, unclassified},
		{"ema[0]", "1", "2", Fixed, unclassified},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diffValues:\n got %v\nwant %v", got, want)
	}
}

// The documentation of ChangeKind lists exactly the Free and the Schedule
// fields of resumeRules, and only Fixed fields in its Fixed paragraph.
func TestChangeKindDocMatchesRules(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "resume.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE && g.Specs[0].(*ast.TypeSpec).Name.Name == "ChangeKind" {
			doc = g.Doc.Text()
		}
	}
	// Paths are dotted, except the top-level keys device and seed.
	pathRE := regexp.MustCompile(`\b[a-z_]+(?:\.[a-z_]+)+\b|\bdevice\b|\bseed\b`)
	listed := map[ChangeKind][]string{}
	for _, para := range strings.Split(doc, "\n\n") {
		for _, k := range []ChangeKind{Free, Schedule, Fixed} {
			if strings.HasPrefix(strings.ToLower(para), k.String()+" (") {
				listed[k] = pathRE.FindAllString(para, -1)
			}
		}
	}
	for _, k := range []ChangeKind{Free, Schedule} {
		var want []string
		for _, r := range resumeRules {
			if r.kind == k {
				want = append(want, r.path)
			}
		}
		got := listed[k]
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("the %v paragraph lists %q, want %q", k, got, want)
		}
	}
	if len(listed[Fixed]) == 0 {
		t.Error("no Fixed paragraph")
	}
	for _, p := range listed[Fixed] {
		if kind, _ := classify(p); kind != Fixed {
			t.Errorf("the Fixed paragraph lists %s, which is %v", p, kind)
		}
	}
}
