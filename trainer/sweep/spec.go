// Package sweep runs a set of training trials described by a sweep spec: a
// base configuration and the overrides that make each trial (a grid, an
// explicit list, seeded random samples, each crossed with a list of
// seeds). It expands and checks the spec before anything starts, lays out
// the sweep folder (sweeps/NAME/trials/ID/trial.yaml per trial), runs the
// trials locally in a queue (Local) or writes and submits a Slurm job
// array (Slurm), reads each trial's state from its folder and writes the
// sweep's leaderboard.
//
// A spec file looks like this (every key but base is optional):
//
//	name: widths              # the sweep folder is sweeps/widths (default: the file's name)
//	base: ../config.yaml      # the base configuration, relative to the spec file
//	set:                      # applied to every trial
//	  solver.epochs: 1
//	grid:                     # one trial per combination
//	  model.stem_channels: [8, 16]
//	  solver.optimizer.lr: [0.05, 0.1]
//	trials:                   # and one trial per override set
//	  - {model.stages: [{channels: 16, blocks: 2, stride: 1}]}
//	random:                   # and count trials drawn from these choices
//	  count: 4
//	  seed: 1
//	  choices:
//	    solver.optimizer.weight_decay: [1e-4, 5e-4, 1e-3]
//	seeds: [0, 1]             # every trial above once per seed
//	cpus_per_trial: 1         # GOMAXPROCS of each trial
//	slurm:
//	  max_running: 4          # array tasks running at once (%K)
//	  time: "02:00:00"        # time limit of one trial
//	  partition: short
//	  options: [--account=lab]
//
// Keys of set, grid, trials and choices are dotted YAML paths of the
// configuration, and values are YAML, exactly as the trainer's -set flag
// takes them.
package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cifar-resnet/trainer/config"
)

// SweepsDir is the folder that holds the sweep folders: sweeps/NAME.
const SweepsDir = "sweeps"

// Spec is a decoded sweep spec.
type Spec struct {
	// Path is the spec file's path.
	Path string
	// Name names the sweep and its folder, SweepsDir/Name.
	Name string
	// Base is the path of the base configuration, as given in the file
	// (relative to the spec file's folder); BasePath resolves it.
	Base string
	// Set holds the overrides applied to every trial, in file order.
	Set []config.Override
	// Grid holds the axes of the grid; each trial takes one value of each.
	Grid []Axis
	// Trials holds explicit override sets, one trial each.
	Trials [][]config.Override
	// Random draws trials from choices; nil when the spec has none.
	Random *Random
	// Seeds runs every trial once per seed (setting the key seed); empty
	// keeps the base configuration's seed.
	Seeds []int64
	// CPUsPerTrial is the number of cores (GOMAXPROCS) of each trial; 0
	// means the executor's default.
	CPUsPerTrial int
	// Slurm configures the Slurm executor.
	Slurm Slurm
}

// Axis is one key of a grid or of random choices and its values, each in
// YAML flow style.
type Axis struct {
	Key    string
	Values []string
}

// Random draws Count distinct trials, each taking one value of every axis
// of Choices at random, with a generator seeded by Seed.
type Random struct {
	Count   int
	Seed    uint64
	Choices []Axis
}

// Slurm configures the job array of the Slurm executor.
type Slurm struct {
	// MaxRunning is the most array tasks running at once (sbatch's %K);
	// 0 leaves it to the cluster.
	MaxRunning int
	// Time is the time limit of one trial, in a form sbatch's --time
	// takes ("02:00:00", "90", "1-00:00:00").
	Time string
	// Partition is the partition to submit to; empty: the cluster's
	// default.
	Partition string
	// Options are more sbatch options, one "#SBATCH" line each, such as
	// "--account=lab".
	Options []string
}

// Defaults of a spec.
const (
	// DefaultSlurmTime is the time limit of a trial on Slurm when the
	// spec gives none.
	DefaultSlurmTime = "01:00:00"
	// maxTrials bounds the number of trials a spec expands to.
	maxTrials = 10000
)

// BasePath returns the path of the base configuration: Base relative to
// the spec file's folder, unless absolute.
func (s *Spec) BasePath() string {
	if filepath.IsAbs(s.Base) {
		return s.Base
	}
	return filepath.Join(filepath.Dir(s.Path), s.Base)
}

// Dir returns the sweep's folder: SweepsDir/Name.
func (s *Spec) Dir() string { return filepath.Join(SweepsDir, s.Name) }

// Error lists every problem of a spec: where (the spec's line, or a trial)
// and what.
type Error struct {
	// File is the spec's path.
	File string
	// Problems holds at least one problem. A problem of a spec has no
	// Path: its message starts with the spec's key, such as "grid: ...".
	Problems []config.Problem
}

// Error formats one problem as "sweep: spec.yaml:3: msg" and several as a
// header followed by one tab-indented problem per line, as the
// configuration's errors are (config.FormatProblems).
func (e *Error) Error() string {
	return config.FormatProblems("sweep", e.File, e.Problems)
}

// specKeys are the keys of a spec, in the order of the documentation.
var specKeys = []string{"name", "base", "set", "grid", "trials", "random", "seeds", "cpus_per_trial", "slurm"}

// LoadSpec reads and decodes the spec file at path, checking its form:
// unknown keys, values of the wrong kind, empty grids and lists, keys that
// are not keys of the configuration. It returns an *Error listing every
// problem. Expand checks the trials themselves.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	return ParseSpec(data, path)
}

// ParseSpec is LoadSpec on the contents of the file at path.
func ParseSpec(data []byte, path string) (*Spec, error) {
	d := &decoder{}
	s := &Spec{Path: path, Slurm: Slurm{Time: DefaultSlurmTime}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the spec is empty: it needs at least base")
		}
		return nil, &Error{File: path, Problems: config.YAMLProblems(err)}
	}
	// Decoding the trials walks and re-encodes aliased values: refuse a
	// document whose aliases expand it beyond what a configuration may.
	if err := config.CheckAliases(&doc); err != nil {
		return nil, &Error{File: path, Problems: config.YAMLProblems(err)}
	}
	root := doc.Content[0]
	seen := d.mapping(root, "", specKeys, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			s.Name = d.str(v, key)
		case "base":
			s.Base = d.str(v, key)
		case "set":
			for _, a := range d.axes(v, key, false) {
				s.Set = append(s.Set, config.Override{Path: a.Key, Value: a.Values[0]})
			}
		case "grid":
			s.Grid = d.axes(v, key, true)
			if v.Kind == yaml.MappingNode && len(v.Content) == 0 {
				d.addf(v.Line, "grid: empty: give each key a list of values, or leave grid out")
			}
		case "trials":
			if v.Kind != yaml.SequenceNode {
				d.addf(v.Line, "trials: must be a list of override sets, got %s", config.DescribeNode(v))
				return
			}
			if len(v.Content) == 0 {
				d.addf(v.Line, "trials: empty list: give at least one override set ({} for the base alone), or leave trials out")
			}
			for i, item := range v.Content {
				var set []config.Override
				for _, a := range d.axes(item, fmt.Sprintf("trials[%d]", i), false) {
					set = append(set, config.Override{Path: a.Key, Value: a.Values[0]})
				}
				s.Trials = append(s.Trials, set)
			}
		case "random":
			s.Random = d.random(v)
		case "seeds":
			if v.Kind != yaml.SequenceNode {
				d.addf(v.Line, "seeds: must be a list of integers, got %s", config.DescribeNode(v))
				return
			}
			if len(v.Content) == 0 {
				d.addf(v.Line, "seeds: empty list: give at least one seed, or leave seeds out")
			}
			for i, item := range v.Content {
				n, ok := d.integer(resolve(item), fmt.Sprintf("seeds[%d]", i))
				if ok {
					s.Seeds = append(s.Seeds, n)
				}
			}
		case "cpus_per_trial":
			if n, ok := d.integer(v, key); ok {
				if n < 1 || n > 1024 {
					d.addf(v.Line, "cpus_per_trial: must be in [1, 1024], got %d", n)
				}
				s.CPUsPerTrial = int(n)
			}
		case "slurm":
			d.slurm(v, &s.Slurm)
		}
	})
	if root.Kind == yaml.MappingNode {
		if !seen["base"] {
			d.addf(root.Line, "base: missing: name the base configuration, such as base: config.yaml")
		}
		if s.Name == "" && !seen["name"] {
			s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		}
		if s.Name == "" || s.Name == "." || s.Name == ".." || strings.ContainsAny(s.Name, `/\`) {
			d.addf(0, "name: must be a folder name, got %q", s.Name)
		}
	}
	if len(d.problems) > 0 {
		return nil, &Error{File: path, Problems: d.problems}
	}
	return s, nil
}

// decoder collects the problems of a spec's YAML.
type decoder struct {
	problems []config.Problem
}

func (d *decoder) addf(line int, format string, args ...any) {
	d.problems = append(d.problems, config.Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// mapping calls f for every key of the mapping n (at path, whose keys
// must be among known) and returns the keys seen; unknown and duplicate
// keys are problems.
func (d *decoder) mapping(n *yaml.Node, path string, known []string, f func(key string, k, v *yaml.Node)) map[string]bool {
	n = resolve(n)
	seen := map[string]bool{}
	where := path
	if where == "" {
		where = "the spec"
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "%s: must be a mapping, got %s", where, config.DescribeNode(n))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		key := k.Value
		switch {
		case seen[key]:
			d.addf(k.Line, "%s: duplicate key %q", where, key)
			continue
		case !slices.Contains(known, key):
			d.addf(k.Line, "%s: %s", where, config.UnknownKey(key, known))
			continue
		}
		seen[key] = true
		f(key, k, v)
	}
	return seen
}

// axes decodes a mapping from configuration keys to values: with lists,
// a list of values per key (grid, choices), otherwise one value per key
// (set, a trial). Keys must be keys of the configuration, outside output
// (which the sweep sets for every trial).
func (d *decoder) axes(n *yaml.Node, path string, lists bool) []Axis {
	var axes []Axis
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "%s: must be a mapping of configuration keys to values, got %s", path, config.DescribeNode(n))
		return nil
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		key := k.Value
		if seen[key] {
			d.addf(k.Line, "%s: duplicate key %q", path, key)
			continue
		}
		seen[key] = true
		if err := config.CheckKey(key); err != nil {
			d.addf(k.Line, "%s: %s is not a key of the configuration: %s", path, key, strings.TrimPrefix(err.Error(), "config: "+key+": "))
			continue
		}
		if key == "output" || strings.HasPrefix(key, "output.") {
			d.addf(k.Line, "%s: %s: the sweep sets output for each trial (its folder is sweeps/NAME/trials/ID)", path, key)
			continue
		}
		if !lists {
			axes = append(axes, Axis{Key: key, Values: []string{flow(v)}})
			continue
		}
		if v.Kind != yaml.SequenceNode {
			d.addf(v.Line, "%s.%s: must be a list of values, got %s (a single value goes under set)", path, key, config.DescribeNode(v))
			continue
		}
		if len(v.Content) == 0 {
			d.addf(v.Line, "%s.%s: empty list of values", path, key)
			continue
		}
		a := Axis{Key: key}
		for _, item := range v.Content {
			a.Values = append(a.Values, flow(resolve(item)))
		}
		axes = append(axes, a)
	}
	return axes
}

func (d *decoder) random(n *yaml.Node) *Random {
	r := &Random{}
	seen := d.mapping(n, "random", []string{"count", "seed", "choices"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "count":
			if c, ok := d.integer(v, "random.count"); ok {
				if c < 1 || c > maxTrials {
					d.addf(v.Line, "random.count: must be in [1, %d], got %d", maxTrials, c)
				}
				r.Count = int(c)
			}
		case "seed":
			if s, ok := d.integer(v, "random.seed"); ok {
				r.Seed = uint64(s)
			}
		case "choices":
			r.Choices = d.axes(v, "random.choices", true)
			if v.Kind == yaml.MappingNode && len(v.Content) == 0 {
				d.addf(v.Line, "random.choices: empty: give each key a list of values")
			}
		}
	})
	if resolve(n).Kind == yaml.MappingNode {
		for _, key := range []string{"count", "choices"} {
			if !seen[key] {
				d.addf(n.Line, "random.%s: missing", key)
			}
		}
	}
	return r
}

func (d *decoder) slurm(n *yaml.Node, s *Slurm) {
	d.mapping(n, "slurm", []string{"max_running", "time", "partition", "options"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "max_running":
			if m, ok := d.integer(v, "slurm.max_running"); ok {
				if m < 0 {
					d.addf(v.Line, "slurm.max_running: must be >= 0, got %d", m)
				}
				s.MaxRunning = int(m)
			}
		case "time":
			s.Time = d.str(v, "slurm.time")
			if strings.ContainsAny(s.Time, " \t\n'\"") || s.Time == "" {
				d.addf(v.Line, "slurm.time: must be a time limit such as \"02:00:00\", got %q", s.Time)
			}
		case "partition":
			s.Partition = d.str(v, "slurm.partition")
			if strings.ContainsAny(s.Partition, " \t\n'\"") {
				d.addf(v.Line, "slurm.partition: must be a partition name, got %q", s.Partition)
			}
		case "options":
			if v.Kind != yaml.SequenceNode {
				d.addf(v.Line, "slurm.options: must be a list of sbatch options, got %s", config.DescribeNode(v))
				return
			}
			for i, item := range v.Content {
				o := d.str(resolve(item), fmt.Sprintf("slurm.options[%d]", i))
				if !strings.HasPrefix(o, "-") || strings.ContainsAny(o, "\n") {
					d.addf(item.Line, "slurm.options[%d]: must be one sbatch option such as --account=lab, got %q", i, o)
					continue
				}
				s.Options = append(s.Options, o)
			}
		}
	})
}

// str decodes a string scalar.
func (d *decoder) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.addf(n.Line, "%s: must be a string, got %s", path, config.DescribeNode(n))
		return ""
	}
	return n.Value
}

// integer decodes an integer scalar.
func (d *decoder) integer(n *yaml.Node, path string) (int64, bool) {
	var x int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&x) != nil {
		d.addf(n.Line, "%s: must be an integer, got %s", path, config.DescribeNode(n))
		return 0, false
	}
	return x, true
}

// flow writes a YAML node on one line in flow style, strings quoted: the
// value of an override.
func flow(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.SequenceNode:
		parts := make([]string, len(n.Content))
		for i, c := range n.Content {
			parts[i] = flow(c)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case yaml.MappingNode:
		var parts []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			parts = append(parts, flow(n.Content[i])+": "+flow(n.Content[i+1]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	if n.ShortTag() == "!!str" && (!plainWord.MatchString(n.Value) || yamlWords[strings.ToLower(n.Value)]) {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// plainWord matches the strings that flow writes without quotes: words
// that YAML reads back as the same string.
var plainWord = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./-]*$`)

// yamlWords are words that a YAML reader may take for a boolean or null.
var yamlWords = map[string]bool{"true": true, "false": true, "null": true, "yes": true, "no": true, "on": true, "off": true, "y": true, "n": true}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
