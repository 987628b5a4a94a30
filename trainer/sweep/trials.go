package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
)

// Trial is one training run of a sweep.
type Trial struct {
	// ID names the trial and its folder: 8 hexadecimal digits of a hash of
	// its overrides, so that it stays the same when the spec is
	// reordered or extended.
	ID string
	// Overrides make the trial from the base configuration and the spec's
	// set, in canonical form (config.Config.Value).
	Overrides []config.Override
	// Config is the trial's whole configuration. Its output is the
	// trial's folder: name ID, checkpoint_dir and models_dir
	// sweeps/NAME/trials/ID.
	Config config.Config
}

// Strings returns the trial's overrides as "key=value".
func (t Trial) Strings() []string { return overrideStrings(t.Overrides) }

func overrideStrings(os []config.Override) []string {
	s := make([]string, len(os))
	for i, o := range os {
		s[i] = o.String()
	}
	return s
}

// TrialsDir is the folder of the trials in a sweep folder.
const TrialsDir = "trials"

// TrialDir returns the folder of trial id in the sweep folder dir.
func TrialDir(dir, id string) string { return filepath.Join(dir, TrialsDir, id) }

// trialID returns the id of a trial made by the canonical overrides os.
func trialID(os []config.Override) string {
	lines := overrideStrings(os)
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:4])
}

// Expand expands the spec into its trials, in order: the grid (its first
// key varying slowest), the explicit trials, the random samples, each
// once per seed. It checks every trial before anything starts: its
// configuration is valid (checked as the trainer checks a file and -set
// flags), its network within model.max_params, and no two trials are the
// same configuration. It returns an *Error listing every problem.
func (s *Spec) Expand() ([]Trial, error) {
	fail := func(problems ...config.Problem) ([]Trial, error) {
		return nil, &Error{File: s.Path, Problems: problems}
	}
	basePath := s.BasePath()
	base, err := os.ReadFile(basePath)
	if err != nil {
		return fail(config.Problem{Msg: fmt.Sprintf("base: %v", err)})
	}
	if _, err := config.Parse(base, basePath, s.Set...); err != nil {
		return fail(configProblems("base and set", err)...)
	}
	sets, problems := s.expand(func(set []config.Override) string {
		cfg, err := config.Parse(base, basePath, append(append([]config.Override(nil), s.Set...), set...)...)
		if err != nil {
			return ""
		}
		key, _ := sameness(cfg)
		return key
	})
	if len(problems) > 0 {
		return fail(problems...)
	}
	dir := s.Dir()
	var trials []Trial
	seen := map[string]string{} // configuration -> label of its first trial
	for i, set := range sets {
		label := fmt.Sprintf("trial #%d (%s)", i+1, strings.Join(overrideStrings(set), ", "))
		if len(set) == 0 {
			label = fmt.Sprintf("trial #%d (the base configuration)", i+1)
		}
		cfg, err := config.Parse(base, basePath, append(append([]config.Override(nil), s.Set...), set...)...)
		if err != nil {
			problems = append(problems, configProblems(label, err)...)
			continue
		}
		canonical := make([]config.Override, len(set))
		for j, o := range set {
			v, err := cfg.Value(o.Path)
			if err != nil {
				problems = append(problems, config.Problem{Msg: fmt.Sprintf("%s: %v", label, err)})
				continue
			}
			canonical[j] = config.Override{Path: o.Path, Value: v}
		}
		t := Trial{ID: trialID(canonical), Overrides: canonical, Config: cfg}
		label = "trial " + t.ID + label[strings.IndexByte(label, ' '):]
		if n := model.Capacity(cfg.Model); n > cfg.Model.MaxParams {
			problems = append(problems, config.Problem{Msg: fmt.Sprintf("%s: the network has %d learnable parameters, over model.max_params = %d", label, n, cfg.Model.MaxParams)})
		}
		key, err := sameness(cfg)
		if err != nil {
			return nil, err
		}
		if first, ok := seen[key]; ok {
			problems = append(problems, config.Problem{Msg: fmt.Sprintf("%s is the same configuration as %s", label, first)})
			continue
		}
		seen[key] = label
		t.Config.Output = config.Output{Name: t.ID, CheckpointDir: TrialDir(dir, t.ID), ModelsDir: TrialDir(dir, t.ID)}
		trials = append(trials, t)
	}
	if len(problems) > 0 {
		return fail(problems...)
	}
	return trials, nil
}

// sameness returns what makes two trials the same: their configuration
// but its output.
func sameness(cfg config.Config) (string, error) {
	cfg.Output = config.Output{}
	b, err := cfg.Marshal()
	return string(b), err
}

// configProblems turns a configuration error into problems, one per
// problem of the configuration, each prefixed by label.
func configProblems(label string, err error) []config.Problem {
	var list []config.Problem
	var de *config.DecodeError
	var ve *config.ValidationError
	switch {
	case errors.As(err, &de):
		list = de.Problems
	case errors.As(err, &ve):
		list = ve.Problems
	default:
		return []config.Problem{{Msg: label + ": " + err.Error()}}
	}
	problems := make([]config.Problem, len(list))
	for i, p := range list {
		problems[i] = config.Problem{Msg: label + ": " + p.Error()}
	}
	return problems
}

// expand returns the override sets of the trials (without the spec's
// set), or the problems that stop the expansion. key returns what makes
// two sets the same trial ("" for a set that is not valid): a random
// sample that is the same as a trial before it is drawn again.
func (s *Spec) expand(key func([]config.Override) string) ([][]config.Override, []config.Problem) {
	var sets [][]config.Override
	var problems []config.Problem
	if len(s.Grid) > 0 {
		n := 1
		for _, a := range s.Grid {
			n *= len(a.Values)
			if n > maxTrials {
				return nil, []config.Problem{{Msg: fmt.Sprintf("grid: more than %d combinations", maxTrials)}}
			}
		}
		for i := range n {
			set := make([]config.Override, len(s.Grid))
			rest := i
			for j := len(s.Grid) - 1; j >= 0; j-- {
				a := s.Grid[j]
				set[j] = config.Override{Path: a.Key, Value: a.Values[rest%len(a.Values)]}
				rest /= len(a.Values)
			}
			sets = append(sets, set)
		}
	}
	sets = append(sets, s.Trials...)
	if r := s.Random; r != nil {
		drawn, p := r.draw(sets, key)
		sets = append(sets, drawn...)
		problems = append(problems, p...)
	}
	if len(s.Grid) == 0 && len(s.Trials) == 0 && s.Random == nil {
		sets = [][]config.Override{nil}
	}
	if len(s.Seeds) > 0 {
		var seeded [][]config.Override
		for _, set := range sets {
			for _, seed := range s.Seeds {
				x := append(append([]config.Override(nil), set...), config.Override{Path: "seed", Value: strconv.FormatInt(seed, 10)})
				seeded = append(seeded, x)
			}
		}
		sets = seeded
	}
	if len(sets) > maxTrials {
		problems = append(problems, config.Problem{Msg: fmt.Sprintf("the spec makes %d trials, more than %d", len(sets), maxTrials)})
	}
	return sets, problems
}

// draw draws r.Count override sets from r.Choices, none the same trial
// (by key) as another or as a set in taken, with a generator seeded by
// r.Seed.
func (r *Random) draw(taken [][]config.Override, key func([]config.Override) string) ([][]config.Override, []config.Problem) {
	if r.Count <= 0 || len(r.Choices) == 0 {
		return nil, nil // reported when decoding
	}
	seen := map[string]bool{}
	for _, set := range taken {
		seen[strings.Join(overrideStrings(set), "\n")] = true
		if k := key(set); k != "" {
			seen[k] = true
		}
	}
	space := 1
	for _, a := range r.Choices {
		space = min(space*len(a.Values), maxTrials+1)
	}
	rng := rand.New(rand.NewPCG(r.Seed, 0x5eed))
	var drawn [][]config.Override
	for tries := 0; len(drawn) < r.Count && tries < 100*r.Count+1000; tries++ {
		set := make([]config.Override, len(r.Choices))
		for j, a := range r.Choices {
			set[j] = config.Override{Path: a.Key, Value: a.Values[rng.IntN(len(a.Values))]}
		}
		text := strings.Join(overrideStrings(set), "\n")
		k := key(set)
		if seen[text] || k != "" && seen[k] {
			continue
		}
		seen[text] = true
		if k != "" {
			seen[k] = true
		}
		drawn = append(drawn, set)
	}
	if len(drawn) < r.Count {
		return drawn, []config.Problem{{Msg: fmt.Sprintf("random.count: %d trials asked, but the choices make only %d distinct ones (%d drawn)", r.Count, space, len(drawn))}}
	}
	return drawn, nil
}
