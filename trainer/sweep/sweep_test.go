package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// base is a base configuration: the reference network (43,226
// parameters), 1 epoch.
const base = "solver:\n  epochs: 1\n"

// writeSpec writes base.yaml and the spec into a new folder, makes it the
// working directory and returns the spec's path.
func writeSpec(t *testing.T, spec string) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("base.yaml", []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("s.yaml", []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return "s.yaml"
}

// id is the expected id of a trial: 8 hexadecimal digits of the SHA-256
// of its overrides, sorted, one per line.
func id(lines ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:4])
}

func ids(trials []Trial) []string {
	var s []string
	for _, t := range trials {
		s = append(s, t.ID)
	}
	return s
}

func TestSpecProblemsAllListed(t *testing.T) {
	path := writeSpec(t, `base: base.yaml
grdi: {}
set:
  output.name: x
  solver.epochs: 2
grid:
  model.widths: [1, 2]
  solver.optimizer.lrr: [0.1]
  seed: 3
  solver.batch_size: []
trials: []
seeds: [a]
random: {count: 2}
slurm: {time: "", gpus: 1}
`)
	_, err := LoadSpec(path)
	want := `sweep: 11 problems in s.yaml:
	s.yaml:2: the spec: unknown key "grdi" (did you mean "grid"?)
	s.yaml:4: set: output.name: the sweep sets output for each trial (its folder is sweeps/NAME/trials/ID)
	s.yaml:7: grid: model.widths is not a key of the configuration: model: unknown key "widths" (known keys: stem_channels, stages, max_params, bn_momentum, bn_epsilon, zero_init_residual, init_from)
	s.yaml:8: grid: solver.optimizer.lrr is not a key of the configuration: solver.optimizer: unknown key "lrr" (did you mean "lr"?)
	s.yaml:9: grid.seed: must be a list of values, got 3 (a single value goes under set)
	s.yaml:10: grid.solver.batch_size: empty list of values
	s.yaml:11: trials: empty list: give at least one override set ({} for the base alone), or leave trials out
	s.yaml:12: seeds[0]: must be an integer, got "a"
	s.yaml:13: random.choices: missing
	s.yaml:14: slurm.time: must be a time limit such as "02:00:00", got ""
	s.yaml:14: slurm: unknown key "gpus" (known keys: max_running, time, partition, options)`
	if err == nil || err.Error() != want {
		t.Errorf("LoadSpec:\n%v\nwant\n%s", err, want)
	}

	for src, want := range map[string]string{
		"":                            "sweep: s.yaml: the spec is empty: it needs at least base",
		"base: base.yaml\ngrid: {}\n": "sweep: s.yaml:2: grid: empty: give each key a list of values, or leave grid out",
		"grid: {seed: [1]}\n":         "sweep: s.yaml:1: base: missing: name the base configuration, such as base: config.yaml",
		"base: [x]\n":                 `sweep: s.yaml:1: base: must be a string, got a list`,
		"base:\n":                     `sweep: s.yaml:1: base: must be a string, got null`,
		"base: b\nseeds: [1, 2.5]\n":  `sweep: s.yaml:2: seeds[1]: must be an integer, got 2.5`,
		"base: b\nname: a/b\n":        `sweep: s.yaml: name: must be a folder name, got "a/b"`,
		"- base\n":                    "sweep: s.yaml:1: the spec: must be a mapping, got a list",
	} {
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSpec(path); err == nil || err.Error() != want {
			t.Errorf("LoadSpec(%q) = %v, want %s", src, err, want)
		}
	}
}

func TestExpand(t *testing.T) {
	path := writeSpec(t, `name: widths
base: base.yaml
set: {solver.epochs: 2}
grid:
  solver.optimizer.lr: [0.05, 1e-1]
  model.stem_channels: [8, 16]
trials:
  - {model.stages: [{channels: 16, blocks: 1, stride: 1}]}
seeds: [0, 1]
cpus_per_trial: 2
slurm: {max_running: 3, time: "00:30:00", partition: short, options: [--account=lab]}
`)
	s, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "widths" || s.Dir() != filepath.Join("sweeps", "widths") || s.CPUsPerTrial != 2 ||
		!reflect.DeepEqual(s.Slurm, Slurm{MaxRunning: 3, Time: "00:30:00", Partition: "short", Options: []string{"--account=lab"}}) {
		t.Errorf("spec %+v", s)
	}
	trials, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 10 {
		t.Fatalf("%d trials, want (4 + 1) × 2 = 10", len(trials))
	}
	// The grid's first key varies slowest, each set once per seed; values
	// are canonical (1e-1 is 0.1, strings quoted).
	want := [][]string{
		{"solver.optimizer.lr=0.05", "model.stem_channels=8", "seed=0"},
		{"solver.optimizer.lr=0.05", "model.stem_channels=8", "seed=1"},
		{"solver.optimizer.lr=0.05", "model.stem_channels=16", "seed=0"},
		{"solver.optimizer.lr=0.05", "model.stem_channels=16", "seed=1"},
		{"solver.optimizer.lr=0.1", "model.stem_channels=8", "seed=0"},
		{"solver.optimizer.lr=0.1", "model.stem_channels=8", "seed=1"},
		{"solver.optimizer.lr=0.1", "model.stem_channels=16", "seed=0"},
		{"solver.optimizer.lr=0.1", "model.stem_channels=16", "seed=1"},
		{"model.stages=[{channels: 16, blocks: 1, stride: 1}]", "seed=0"},
		{"model.stages=[{channels: 16, blocks: 1, stride: 1}]", "seed=1"},
	}
	for i, tr := range trials {
		if !reflect.DeepEqual(tr.Strings(), want[i]) {
			t.Errorf("trial %d: %v, want %v", i, tr.Strings(), want[i])
		}
	}
	if got := trials[4].ID; got != id("model.stem_channels=8", "seed=0", "solver.optimizer.lr=0.1") {
		t.Errorf("id %s", got)
	}
	tr := trials[8]
	if tr.ID != id("model.stages=[{channels: 16, blocks: 1, stride: 1}]", "seed=0") || tr.Config.Solver.Epochs != 2 || tr.Config.Model.Stages[0].Channels != 16 ||
		tr.Config.Output.Name != tr.ID || tr.Config.Output.CheckpointDir != filepath.Join("sweeps", "widths", "trials", tr.ID) || tr.Config.Output.ModelsDir != tr.Config.Output.CheckpointDir || tr.Config.Output.PlotsDir != "" {
		t.Errorf("trial %+v", tr)
	}

	// Strings are quoted where YAML needs it.
	for src, want := range map[string]string{
		`{a: b, "c d": "true", e: [1, 2.5, "x:y"], f: yes, g: "", h: null}`: `{a: b, "c d": "true", e: [1, 2.5, "x:y"], f: "yes", g: "", h: null}`,
		`sgd`: `sgd`, `"0.1"`: `"0.1"`, `0.1`: `0.1`, `Adam_W-2`: `Adam_W-2`,
	} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			t.Fatal(err)
		}
		if got := flow(n.Content[0]); got != want {
			t.Errorf("flow(%s) = %s, want %s", src, got, want)
		}
	}

	// Ids stay when the spec is reordered and extended.
	if err := os.WriteFile(path, []byte(`name: widths
base: base.yaml
grid:
  model.stem_channels: [16, 8, 4]
  solver.optimizer.lr: [0.1, 0.05]
seeds: [1, 0]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	more, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(more) != 12 {
		t.Fatalf("%d trials, want 12", len(more))
	}
	in := map[string]bool{}
	for _, x := range ids(more) {
		in[x] = true
	}
	for _, x := range ids(trials[:8]) {
		if !in[x] {
			t.Errorf("trial %s of the first spec is not in the reordered one", x)
		}
	}
}

// An alias stands for its value everywhere in a spec, in a list of seeds
// too.
func TestSpecAliases(t *testing.T) {
	s, err := ParseSpec([]byte("base: base.yaml\ncpus_per_trial: &n 2\nseeds: [*n, 5]\n"), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{2, 5}; !reflect.DeepEqual(s.Seeds, want) {
		t.Errorf("seeds %v, want %v", s.Seeds, want)
	}
}

func TestExpandProblems(t *testing.T) {
	path := writeSpec(t, `base: base.yaml
trials:
  - {solver.optimizer.lr: 0.1}
  - {}
  - {model.stages: [{channels: 64, blocks: 2, stride: 1}]}
  - {solver.optimizer.lr: -1, solver.epochs: 0}
  - model.stages[3].channels: 4
  - {solver.optimizer.lr: 0.2}
  - {solver.optimizer.lr: 2e-1}
`)
	s, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Expand()
	big := id("model.stages=[{channels: 64, blocks: 2, stride: 1}]")
	want := `sweep: 6 problems in s.yaml:
	s.yaml: trial ` + id() + ` #2 (the base configuration) is the same configuration as trial ` + id("solver.optimizer.lr=0.1") + ` #1 (solver.optimizer.lr=0.1)
	s.yaml: trial ` + big + ` #3 (model.stages=[{channels: 64, blocks: 2, stride: 1}]): the network has 122586 learnable parameters, over model.max_params = 50000
	s.yaml: trial #4 (solver.optimizer.lr=-1, solver.epochs=0): -set solver.optimizer.lr=-1: solver.optimizer.lr: must be > 0, got -1
	s.yaml: trial #4 (solver.optimizer.lr=-1, solver.epochs=0): -set solver.epochs=0: solver.epochs: must be > 0, got 0
	s.yaml: trial #5 (model.stages[3].channels=4): -set model.stages[3].channels=4: model.stages: has no element [3]: the list has 2
	s.yaml: trial ` + id("solver.optimizer.lr=0.2") + ` #7 (solver.optimizer.lr=2e-1) is the same configuration as trial ` + id("solver.optimizer.lr=0.2") + ` #6 (solver.optimizer.lr=0.2)`
	if err == nil || err.Error() != want {
		t.Errorf("Expand:\n%v\nwant\n%s", err, want)
	}
	if err := os.WriteFile("base.yaml", []byte("solver:\n  epochs: -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.Expand()
	if want := "sweep: s.yaml: base and set: line 2: solver.epochs: must be > 0, got -1"; err == nil || err.Error() != want {
		t.Errorf("bad base: %v, want %s", err, want)
	}
}

func TestRandomSeeded(t *testing.T) {
	draw := func(seed string, count int) ([]string, error) {
		path := writeSpec(t, `base: base.yaml
grid: {solver.optimizer.lr: [0.1]}
random:
  count: `+itoa(count)+`
  seed: `+seed+`
  choices:
    solver.optimizer.lr: [0.05, 0.1, 0.2]
    solver.optimizer.weight_decay: [1e-4, 5e-4]
`)
		s, err := LoadSpec(path)
		if err != nil {
			t.Fatal(err)
		}
		trials, err := s.Expand()
		var out []string
		for _, tr := range trials {
			out = append(out, strings.Join(tr.Strings(), " "))
		}
		return out, err
	}
	a, err := draw("1", 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := draw("1", 4)
	c, _ := draw("2", 4)
	if len(a) != 5 || !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Errorf("seed 1: %v\nagain: %v\nseed 2: %v", a, b, c)
	}
	// No sample repeats another trial: the grid's lr 0.1 with the default
	// weight decay 5e-4 is one of the six combinations; five remain.
	seen := map[string]bool{}
	for _, x := range a[1:] {
		if seen[x] {
			t.Errorf("sample %q twice", x)
		}
		seen[x] = true
	}
	all, err := draw("1", 6)
	if err == nil || !strings.Contains(err.Error(), "random.count: 6 trials asked, but the choices make only 6 distinct ones (5 drawn)") {
		t.Errorf("count over the choices: %v %v", all, err)
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestPrepareKeepsTrialsAndRefusesChanges(t *testing.T) {
	path := writeSpec(t, "name: p\nbase: base.yaml\nseeds: [4, 5]\n")
	s, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	trials, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if err := Prepare(s.Dir(), s, trials); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if want := (Manifest{Name: "p", Spec: "s.yaml", Base: "base.yaml", Set: []string{}, Trials: []ManifestTrial{
		{ID: id("seed=4"), Overrides: []string{"seed=4"}}, {ID: id("seed=5"), Overrides: []string{"seed=5"}}}}); !reflect.DeepEqual(m, want) {
		t.Errorf("manifest %+v\nwant %+v", m, want)
	}
	yml, err := os.ReadFile(filepath.Join(TrialDir(s.Dir(), trials[0].ID), TrialFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Trial " + trials[0].ID + " of sweep p: base.yaml with seed=4\ndata:\n"; !strings.HasPrefix(string(yml), want) || !strings.Contains(string(yml), "\nseed: 4\n") {
		t.Errorf("trial.yaml:\n%s", yml)
	}
	// Again: nothing changes.
	if err := Prepare(s.Dir(), s, trials); err != nil {
		t.Fatal(err)
	}
	// A changed base makes other trials under the same ids: refused.
	if err := os.WriteFile("base.yaml", []byte("solver:\n  epochs: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	err = Prepare(s.Dir(), s, changed)
	if err == nil || !strings.Contains(err.Error(), "trial "+trials[1].ID+" (seed=5) was started with another configuration (solver.epochs: 1 -> 3 (changes the length of the run and its learning-rate schedule)): the base or the spec's set changed") {
		t.Errorf("Prepare after a change: %v", err)
	}
}

func TestState(t *testing.T) {
	dir := t.TempDir()
	if st, err := ReadState(dir); err != nil || st.State != Pending {
		t.Errorf("no state.json: %+v, %v", st, err)
	}
	host, _ := os.Hostname()
	st := State{State: Running, Host: host, PID: os.Getpid(), Starts: 2, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := WriteState(dir, st); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadState(dir); err != nil || !reflect.DeepEqual(got, st) {
		t.Errorf("ReadState = %+v, %v; want %+v", got, err, st)
	}
	// A runner on this machine that died without a word is stopped.
	st.PID = 1 << 30
	if err := WriteState(dir, st); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadState(dir); got.State != Stopped {
		t.Errorf("dead runner: state %q, want %q", got.State, Stopped)
	}
	st.Host = "elsewhere"
	if err := WriteState(dir, st); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadState(dir); got.State != Running {
		t.Errorf("runner on another machine: state %q, want %q", got.State, Running)
	}
}

func TestSlurmScript(t *testing.T) {
	a := SlurmArray{Name: "widths", Dir: "/shared/sweeps/widths", WorkDir: "/shared/lab", Bin: "/shared/sweeps/widths/slurm/trainer",
		IDs: []string{"aa", "bb", "cc"}, CPUs: 2, Options: Slurm{MaxRunning: 2, Time: "00:30:00", Partition: "short", Options: []string{"--account=lab"}}}
	want := `#!/bin/bash
# Job array of sweep widths, written by trainer sweep: array task i trains trial ids[i].
#SBATCH --job-name=sweep-widths
#SBATCH --array=0-2%2
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --time=00:30:00
#SBATCH --partition=short
# A preempted or requeued task runs again and resumes from its trial's last.ckpt.
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --chdir=/shared/lab
#SBATCH --output=/shared/sweeps/widths/slurm/logs/%A_%a.out
#SBATCH --account=lab
ids=(aa bb cc)
id=${ids[$SLURM_ARRAY_TASK_ID]}
trial=/shared/sweeps/widths/trials/"$id"
export GOMAXPROCS=${SLURM_CPUS_PER_TASK:-2}
# On SIGTERM (scancel, preemption, requeue, the time limit) the trainer saves the trial's state.
exec /shared/sweeps/widths/slurm/trainer sweep-trial -dir "$trial" >> "$trial"/train.log 2>&1
`
	if got := a.Script(); got != want {
		t.Errorf("Script:\n%s\nwant\n%s", got, want)
	}
	a.Options = Slurm{Time: DefaultSlurmTime}
	a.Bin = "/my dir/trainer"
	got := a.Script()
	if !strings.Contains(got, "#SBATCH --array=0-2\n") || strings.Contains(got, "--partition") || !strings.Contains(got, "exec '/my dir/trainer' sweep-trial") {
		t.Errorf("Script without limits:\n%s", got)
	}
}

// TestParseSpecAliasBomb refuses a spec whose aliases expand it
// exponentially (8 levels of 9 aliases in its trials) before walking it;
// the old decoder expanded it until memory ran out.
func TestParseSpecAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("base: base.yaml\ntrials:\n  - {data.normalize.mean: &l0 [0.5, 0.5, 0.5]}\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "  - {model.stages: &l%d [%s]}\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	_, err := ParseSpec([]byte(b.String()), "bomb.yaml")
	want := "sweep: bomb.yaml:6: trials[3].model.stages[0]: too many aliases and merges: following them expands the document by more than 500 nodes"
	if err == nil || err.Error() != want {
		t.Fatalf("ParseSpec of an alias bomb: %v, want %q", err, want)
	}
}
