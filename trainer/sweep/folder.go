package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer/history"
	"github.com/cifar-resnet/trainer/trainer/leaderboard"
)

// File names in a sweep folder and in its trial folders.
const (
	// ManifestFile lists the sweep's trials (Manifest).
	ManifestFile = "sweep.json"
	// SpecFile is a copy of the spec the sweep was last started with.
	SpecFile = "spec.yaml"
	// TrialFile is a trial's whole configuration, which it trains.
	TrialFile = "trial.yaml"
	// StateFile is a trial's state (State).
	StateFile = "state.json"
	// LogFile receives a trial's output.
	LogFile = "train.log"
)

// Manifest lists the trials of a sweep, in the spec's order.
type Manifest struct {
	Name   string          `json:"name"`
	Spec   string          `json:"spec"`
	Base   string          `json:"base"`
	Set    []string        `json:"set"`
	Trials []ManifestTrial `json:"trials"`
}

// ManifestTrial is a trial in the manifest.
type ManifestTrial struct {
	ID        string   `json:"id"`
	Overrides []string `json:"overrides"`
}

// Prepare lays out the sweep folder dir for the trials of spec: the
// manifest, a copy of the spec, and every trial's folder with its whole
// configuration in trial.yaml. A trial folder that already holds a
// trial.yaml is kept as it is when that configuration is the trial's, so
// that finished trials stay finished and interrupted ones resume; when it
// differs (the base or the spec's set changed since the trial started)
// Prepare changes nothing and returns an *Error listing every such trial.
func Prepare(dir string, spec *Spec, trials []Trial) error {
	var problems []config.Problem
	for _, t := range trials {
		path := filepath.Join(TrialDir(dir, t.ID), TrialFile)
		old, err := config.Load(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			problems = append(problems, config.Problem{Msg: fmt.Sprintf("trial %s: %v", t.ID, err)})
			continue
		}
		var changes []config.Change
		for _, c := range config.Diff(old, t.Config) {
			if c.Kind != config.Free {
				changes = append(changes, c)
			}
		}
		if len(changes) > 0 {
			problems = append(problems, config.Problem{Msg: fmt.Sprintf("trial %s (%s) was started with another configuration (%s): the base or the spec's set changed; give the sweep another name, or delete %s to start that trial afresh",
				t.ID, strings.Join(t.Strings(), ", "), oneLine(config.FormatChanges(changes)), TrialDir(dir, t.ID))})
		}
	}
	if len(problems) > 0 {
		return &Error{File: spec.Path, Problems: problems}
	}
	for _, t := range trials {
		yml, err := t.Config.Marshal()
		if err != nil {
			return err
		}
		head := fmt.Sprintf("# Trial %s of sweep %s: %s with %s\n", t.ID, spec.Name, spec.BasePath(), strings.Join(append(overrideStrings(spec.Set), t.Strings()...), ", "))
		if err := writeFile(filepath.Join(TrialDir(dir, t.ID), TrialFile), append([]byte(head), yml...)); err != nil {
			return err
		}
	}
	m := Manifest{Name: spec.Name, Spec: spec.Path, Base: spec.BasePath(), Set: overrideStrings(spec.Set)}
	for _, t := range trials {
		m.Trials = append(m.Trials, ManifestTrial{ID: t.ID, Overrides: t.Strings()})
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if err := writeFile(filepath.Join(dir, ManifestFile), append(data, '\n')); err != nil {
		return err
	}
	src, err := os.ReadFile(spec.Path)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return writeFile(filepath.Join(dir, SpecFile), src)
}

// ReadManifest reads the manifest of the sweep folder dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("sweep: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("sweep: %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

// writeFile writes data to path atomically, creating its folder.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	err := checkpoint.WriteBytesAtomic(path, data)
	if err != nil {
		return fmt.Errorf("sweep: %s: %w", path, err)
	}
	return nil
}

// States of a trial.
const (
	// Pending: the trial has not started.
	Pending = "pending"
	// Running: a trainer is training the trial (or was killed without
	// a chance to say so; see Stopped).
	Running = "running"
	// Interrupted: the trial was stopped and saved its state; it resumes
	// from its last.ckpt when run again.
	Interrupted = "interrupted"
	// Stopped: the trial's trainer on this machine died without saving
	// its state; it resumes from its last.ckpt when run again.
	Stopped = "stopped"
	// Failed: training failed (State.Error says why).
	Failed = "failed"
	// Done: the trial trained all its epochs.
	Done = "done"
)

// State is what a trial's state.json holds: written by the trial's runner
// when it starts and when it ends.
type State struct {
	State string `json:"state"`
	// Error is why the trial failed.
	Error string `json:"error,omitempty"`
	// Host and PID are the machine and process of the last runner.
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Job is the Slurm job and array task of the last runner
	// ("1234_5"), if any.
	Job string `json:"job,omitempty"`
	// Starts counts the runs of the trial, the first included.
	Starts  int       `json:"starts"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
}

// ReadState reads the state of the trial in folder dir; a trial that has
// no state.json is Pending.
func ReadState(dir string) (State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return State{State: Pending}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("sweep: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, fmt.Errorf("sweep: %s: %w", filepath.Join(dir, StateFile), err)
	}
	if s.State == Running && !alive(s.Host, s.PID) {
		s.State = Stopped
	}
	return s, nil
}

// alive reports whether process pid on host may still be running: false
// only when host is this machine and no process pid exists.
func alive(host string, pid int) bool {
	me, err := os.Hostname()
	if err != nil || host != me || pid <= 0 {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// WriteState writes the state of the trial in folder dir atomically.
func WriteState(dir string, s State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return writeFile(filepath.Join(dir, StateFile), append(data, '\n'))
}

// Entries reads the trials of the sweep folder dir, in the manifest's
// order, for its leaderboard: each trial's configuration (trial.yaml),
// history and state.
func Entries(dir string) ([]leaderboard.Entry, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	entries := make([]leaderboard.Entry, 0, len(m.Trials))
	for _, t := range m.Trials {
		td := TrialDir(dir, t.ID)
		cfg, err := config.Load(filepath.Join(td, TrialFile))
		if err != nil {
			return nil, err
		}
		h, err := history.Read(filepath.Join(td, history.File))
		if errors.Is(err, fs.ErrNotExist) {
			h, err = checkpoint.History{}, nil
		}
		if err != nil {
			return nil, err
		}
		st, err := ReadState(td)
		if err != nil {
			return nil, err
		}
		entries = append(entries, leaderboard.Entry{Name: t.ID, Overrides: t.Overrides, State: st.State, Config: cfg, History: h})
	}
	return entries, nil
}

// WriteLeaderboard writes the leaderboard of the sweep folder dir into it
// (see leaderboard.Write) and returns it as a Markdown table.
func WriteLeaderboard(dir string) (string, error) {
	entries, err := Entries(dir)
	if err != nil {
		return "", err
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return "", err
	}
	title := "sweep " + m.Name
	if len(m.Set) > 0 {
		title += " (" + strings.Join(m.Set, ", ") + ")"
	}
	if err := leaderboard.Write(dir, title, entries); err != nil {
		return "", err
	}
	leaderboard.Rank(entries)
	return leaderboard.Markdown(entries, leaderboard.Columns), nil
}

// oneLine joins the lines of s, trimmed, with "; ".
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "; ")
}
