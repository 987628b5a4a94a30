package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
	"github.com/cifar-resnet/trainer/trainer/leaderboard"
	"github.com/cifar-resnet/trainer/trainer/rundir"
	"github.com/cifar-resnet/trainer/trainer/sweep"
)

// sweepCmd runs "trainer sweep": it checks the spec, lays out the sweep
// folder and runs the trials with the chosen executor, or reports their
// state.
func sweepCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sweep", stderr)
	specPath := fs.String("spec", "", "the sweep spec (YAML): a base configuration and the overrides of each trial")
	jobs := fs.Int("jobs", 1, "local executor: trials run at once, each with its share of the cores (GOMAXPROCS) unless the spec gives cpus_per_trial")
	executor := fs.String("executor", "local", "local (child processes on this machine) or slurm (a job array submitted with sbatch; the sweep folder must be on storage that the nodes share)")
	status := fs.Bool("status", false, "report each trial's state (from the trial folders, and squeue/sacct where present) and rewrite the leaderboard; runs nothing")
	dryRun := fs.Bool("dry-run", false, "check the spec and list its trials; runs nothing")
	bin := fs.String("trainer", "", "the trainer binary the trials run (default: this program; for slurm, a copy of it in sweeps/NAME/slurm/)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *specPath == "" {
		fmt.Fprintln(stderr, "trainer sweep: -spec is required")
		return exitUsage
	}
	if *jobs < 1 {
		fmt.Fprintf(stderr, "trainer sweep: -jobs must be >= 1, got %d\n", *jobs)
		return exitUsage
	}
	if *executor != "local" && *executor != "slurm" {
		fmt.Fprintf(stderr, "trainer sweep: -executor must be local or slurm, got %q\n", *executor)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	spec, err := sweep.LoadSpec(*specPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	dir := spec.Dir()
	if *status {
		if err := sweepStatus(ctx, dir, stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return exitError
		}
		return exitOK
	}
	trials, err := spec.Expand()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	if *dryRun {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "trial\tparams\toverrides\n")
		for _, t := range trials {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", t.ID, model.Capacity(t.Config.Model), strings.Join(t.Strings(), ", "))
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d trials in %s\n", len(trials), dir)
		return exitOK
	}
	if err := sweep.Prepare(dir, spec, trials); err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	if *executor == "slurm" {
		return sweepSlurm(ctx, spec, trials, *bin, *specPath, stdout, stderr)
	}
	return sweepLocal(ctx, spec, trials, *jobs, *bin, *specPath, stdout, stderr)
}

func sweepLocal(ctx context.Context, spec *sweep.Spec, trials []sweep.Trial, jobs int, bin, specPath string, stdout, stderr io.Writer) int {
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			fmt.Fprintf(stderr, "trainer sweep: %v\n", err)
			return exitError
		}
	}
	cpus := spec.CPUsPerTrial
	if cpus == 0 {
		cpus = max(1, runtime.NumCPU()/jobs)
	}
	l := &sweep.Local{Bin: bin, Jobs: jobs, CPUs: cpus, Out: stdout}
	res, err := l.Run(ctx, spec.Dir(), trials)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	table, err := sweep.WriteLeaderboard(spec.Dir())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	fmt.Fprintf(stdout, "\n%s\nleaderboard: %s (and .csv, .json; validation curves: %s)\n", table,
		filepath.Join(spec.Dir(), leaderboard.MarkdownFile), filepath.Join(spec.Dir(), leaderboard.PlotFile))
	fmt.Fprintf(stdout, "sweep %s: %d done now, %d done before, %d failed, %d interrupted, %d busy elsewhere\n",
		spec.Name, res.Done, res.Skipped, len(res.Failed), len(res.Interrupted), len(res.Busy))
	again := invocation + " " + shellJoin(append([]string{"sweep"}, sweepArgs(specPath, jobs, "local")...))
	switch {
	case ctx.Err() != nil || len(res.Interrupted) > 0:
		fmt.Fprintf(stderr, "trainer sweep: interrupted; the running trials saved their state. Resume the sweep with: %s\n", again)
		return exitInterrupted
	case len(res.Failed) > 0:
		fmt.Fprintf(stderr, "trainer sweep: %d trial(s) failed: %s; each trial's log says why (%s). Running the sweep again retries them: %s\n",
			len(res.Failed), strings.Join(res.Failed, ", "), filepath.Join(sweep.TrialDir(spec.Dir(), "ID"), sweep.LogFile), again)
		return exitError
	}
	return exitOK
}

// sweepArgs returns the flags that rerun a sweep.
func sweepArgs(specPath string, jobs int, executor string) []string {
	args := []string{"-spec", specPath}
	if executor == "slurm" {
		return append(args, "-executor", "slurm")
	}
	if jobs != 1 {
		args = append(args, "-jobs", fmt.Sprint(jobs))
	}
	return args
}

func sweepSlurm(ctx context.Context, spec *sweep.Spec, trials []sweep.Trial, bin, specPath string, stdout, stderr io.Writer) int {
	if _, err := exec.LookPath("sbatch"); err != nil {
		fmt.Fprintln(stderr, "trainer sweep: sbatch not found: the slurm executor runs where Slurm's commands are (a cluster's login node)")
		return exitError
	}
	dir, err := filepath.Abs(spec.Dir())
	if err != nil {
		fmt.Fprintf(stderr, "trainer sweep: %v\n", err)
		return exitError
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "trainer sweep: %v\n", err)
		return exitError
	}
	queued, err := sweep.SlurmStates(ctx, dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	var ids, skipped []string
	for _, t := range trials {
		st, err := sweep.ReadState(sweep.TrialDir(dir, t.ID))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitError
		}
		switch {
		case st.State == sweep.Done:
		case slurmActive(queued[t.ID]):
			skipped = append(skipped, t.ID+" ("+queued[t.ID]+")")
		default:
			ids = append(ids, t.ID)
		}
	}
	status := invocation + " " + shellJoin(append([]string{"sweep"}, "-spec", specPath, "-status"))
	if len(skipped) > 0 {
		fmt.Fprintf(stdout, "already in Slurm's queue, not submitted again: %s\n", strings.Join(skipped, ", "))
	}
	if len(ids) == 0 {
		fmt.Fprintf(stdout, "sweep %s: no trial to submit (%d trials); follow them with: %s\n", spec.Name, len(trials), status)
		return exitOK
	}
	if bin == "" {
		if bin, err = copyTrainer(dir); err != nil {
			fmt.Fprintf(stderr, "trainer sweep: %v\n", err)
			return exitError
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		fmt.Fprintf(stderr, "trainer sweep: %v\n", err)
		return exitError
	}
	cpus := spec.CPUsPerTrial
	if cpus == 0 {
		cpus = sweep.DefaultSlurmCPUs
	}
	a := sweep.SlurmArray{Name: spec.Name, Dir: dir, WorkDir: wd, Bin: bin, IDs: ids, CPUs: cpus, Options: spec.Slurm}
	job, script, err := a.Submit(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	limit := "no limit on how many run at once"
	if spec.Slurm.MaxRunning > 0 {
		limit = fmt.Sprintf("at most %d at once", spec.Slurm.MaxRunning)
	}
	fmt.Fprintf(stdout, "submitted job array %s (%s): %d of %d trials, %s, %d core(s) and %s each\n", job, script, len(ids), len(trials), limit, cpus, spec.Slurm.Time)
	fmt.Fprintf(stdout, "each trial writes to %s; follow them with: %s\n", filepath.Join(sweep.TrialDir(spec.Dir(), "ID"), sweep.LogFile), status)
	return exitOK
}

// slurmActive reports whether a state of SlurmStates ("JOB_TASK STATE")
// is one of a task that will still run.
func slurmActive(state string) bool {
	_, s, _ := strings.Cut(state, " ")
	switch s {
	case "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING":
		return true
	}
	return false
}

// copyTrainer copies this program into the sweep folder's slurm/ folder,
// which the nodes share, and returns the copy's path: the jobs run it
// after this process has exited (a "go run" binary is deleted then).
func copyTrainer(dir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	src, err := os.Open(self)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst := filepath.Join(dir, sweep.SlurmDir, "trainer")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := checkpoint.WriteFileAtomic(dst, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	}); err != nil {
		return "", err
	}
	return dst, os.Chmod(dst, 0o755)
}

// sweepStatus prints the state of every trial of the sweep folder dir
// and rewrites its leaderboard.
func sweepStatus(ctx context.Context, dir string, stdout io.Writer) error {
	entries, err := sweep.Entries(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("trainer sweep: %s: the sweep has not started (no %s)", dir, sweep.ManifestFile)
		}
		return err
	}
	queued, err := sweep.SlurmStates(ctx, dir)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trial\tstate\tslurm\tepochs\tbest val acc (epoch)\toverrides")
	for _, e := range entries {
		counts[e.State]++
		q := queued[e.Name]
		if q == "" {
			q = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.State, q, leaderboard.EpochsCell(e), leaderboard.BestCell(e), strings.Join(e.Overrides, ", "))
	}
	tw.Flush()
	var parts []string
	for _, s := range []string{sweep.Done, sweep.Running, sweep.Pending, sweep.Interrupted, sweep.Stopped, sweep.Failed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if _, err := sweep.WriteLeaderboard(dir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d trials: %s; leaderboard: %s\n", len(entries), strings.Join(parts, ", "), filepath.Join(dir, leaderboard.MarkdownFile))
	return nil
}

// sweepTrial runs "trainer sweep-trial -dir DIR": it trains the trial in
// DIR (resuming from its last.ckpt if there is one) and records its state
// in DIR/state.json, then rewrites the sweep's leaderboard.
func sweepTrial(args []string, stdout, stderr io.Writer) int {
	fs := newFlags(sweep.TrialCommand, stderr)
	dir := fs.String("dir", "", "the trial's folder, holding "+sweep.TrialFile)
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *dir == "" {
		fmt.Fprintf(stderr, "trainer %s: -dir is required\n", sweep.TrialCommand)
		return exitUsage
	}
	// Another runner of this trial (a second sweep on the same folder)
	// holds its folder: leave its state alone.
	lock, err := rundir.Acquire(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "trainer %s: %v\n", sweep.TrialCommand, err)
		if errors.Is(err, rundir.ErrLocked) {
			return sweep.ExitBusy
		}
		return exitError
	}
	lock.Release()
	prev, err := sweep.ReadState(*dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	host, _ := os.Hostname()
	st := sweep.State{State: sweep.Running, Host: host, PID: os.Getpid(), Starts: prev.Starts + 1, Started: time.Now().UTC()}
	if j, t := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); j != "" {
		st.Job = j + "_" + t
	}
	if err := sweep.WriteState(*dir, st); err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	fmt.Fprintf(stdout, "trainer %s: run %d of trial %s on %s (pid %d%s, GOMAXPROCS=%d) at %s\n", sweep.TrialCommand, st.Starts, filepath.Base(*dir), host, st.PID, slurmNote(st.Job), runtime.GOMAXPROCS(0), st.Started.Format(time.RFC3339))
	opts := trainOptions{cfgPath: filepath.Join(*dir, sweep.TrialFile), args: []string{"-config", filepath.Join(*dir, sweep.TrialFile)}}
	if _, err := os.Stat(filepath.Join(*dir, trainer.LastCheckpoint)); err == nil {
		opts.resume = filepath.Join(*dir, trainer.LastCheckpoint)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = trainRun(ctx, opts, stdout, stderr)
	stop()
	st.Ended = time.Now().UTC()
	code := exitOK
	switch {
	case errors.Is(err, trainer.ErrInterrupted):
		st.State = sweep.Interrupted
		code = exitInterrupted
		fmt.Fprintf(stderr, "trainer %s: interrupted; the trial's state is saved in %s and it resumes from there when run again (a requeued Slurm task does so by itself)\n", sweep.TrialCommand, filepath.Join(*dir, trainer.LastCheckpoint))
	case err != nil:
		st.State, st.Error = sweep.Failed, err.Error()
		code = exitError
		fmt.Fprintln(stderr, err)
	default:
		st.State = sweep.Done
	}
	if err := sweep.WriteState(*dir, st); err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	// The leaderboard of the whole sweep, as far as it has come; the
	// sweep command rewrites it at the end.
	if _, err := sweep.WriteLeaderboard(filepath.Dir(filepath.Dir(*dir))); err != nil {
		fmt.Fprintf(stderr, "trainer %s: note: the leaderboard was not updated: %v\n", sweep.TrialCommand, err)
	}
	return code
}

func slurmNote(job string) string {
	if job == "" {
		return ""
	}
	return ", Slurm job " + job
}
