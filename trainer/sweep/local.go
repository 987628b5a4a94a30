package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cifar-resnet/trainer/trainer"
	"github.com/cifar-resnet/trainer/trainer/history"
	"github.com/cifar-resnet/trainer/trainer/leaderboard"
)

// TrialCommand is the trainer's subcommand that trains one trial:
// "trainer sweep-trial -dir sweeps/NAME/trials/ID". Both executors start
// it; it records the trial's state in the folder.
const TrialCommand = "sweep-trial"

// ExitBusy is the exit status of TrialCommand when another process is
// training the trial.
const ExitBusy = 3

// TrialArgs returns the arguments of the trainer that trains the trial in
// folder dir.
func TrialArgs(dir string) []string { return []string{TrialCommand, "-dir", dir} }

// Local runs the trials of a sweep on this machine, as child processes
// of the trainer binary, Jobs at a time.
type Local struct {
	// Bin is the trainer binary.
	Bin string
	// Jobs is the number of trials run at once, >= 1.
	Jobs int
	// CPUs is each trial's GOMAXPROCS, >= 1.
	CPUs int
	// Env is added to this process's environment for the children.
	Env []string
	// Out receives a line when a trial starts and when it ends.
	Out io.Writer
}

// Result counts the trials of a run of an executor by outcome.
type Result struct {
	// Done counts the trials that finished, Skipped those that had
	// finished before.
	Done, Skipped int
	// Failed lists the trials that failed, Interrupted those stopped
	// by an interruption (they resume on the next run), Busy those that
	// another process was training.
	Failed, Interrupted, Busy []string
}

// Run trains every trial of the sweep folder dir that is not done, Jobs
// at a time, in order; each child's output goes to its trial's train.log.
// A trial that failed does not stop the others. A trial with a
// last.ckpt resumes from it. When ctx is cancelled, Run starts no more
// trials, interrupts the running ones (each saves its last.ckpt) and
// waits for them.
func (l *Local) Run(ctx context.Context, dir string, trials []Trial) (Result, error) {
	var res Result
	var todo []Trial
	for _, t := range trials {
		st, err := ReadState(TrialDir(dir, t.ID))
		if err != nil {
			return res, err
		}
		if st.State == Done {
			res.Skipped++
			continue
		}
		todo = append(todo, t)
	}
	jobs := max(1, min(l.Jobs, len(todo)))
	l.printf("sweep %s: %d trials, %d done before, %d to run, %d at a time with %d core(s) each; each trial's output goes to %s\n",
		filepath.Base(dir), len(trials), res.Skipped, len(todo), jobs, l.CPUs, filepath.Join(TrialDir(dir, "ID"), LogFile))
	queue := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				t := todo[i]
				outcome, msg := l.runTrial(ctx, dir, t, fmt.Sprintf("[%d/%d]", i+1, len(todo)))
				mu.Lock()
				switch outcome {
				case Done:
					res.Done++
				case Interrupted:
					res.Interrupted = append(res.Interrupted, t.ID)
				case Running:
					res.Busy = append(res.Busy, t.ID)
				default:
					res.Failed = append(res.Failed, t.ID)
				}
				l.printf("%s\n", msg)
				mu.Unlock()
			}
		}()
	}
	for i := range todo {
		if ctx.Err() != nil {
			break
		}
		select {
		case queue <- i:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	return res, nil
}

func (l *Local) printf(format string, args ...any) {
	if l.Out != nil {
		fmt.Fprintf(l.Out, format, args...)
	}
}

// runTrial trains one trial as a child process and returns its outcome
// (a state; Running when another process holds the trial) and a line
// that reports it.
func (l *Local) runTrial(ctx context.Context, dir string, t Trial, tag string) (string, string) {
	td := TrialDir(dir, t.ID)
	what := strings.Join(t.Strings(), ", ")
	if what == "" {
		what = "the base configuration"
	}
	if ctx.Err() != nil {
		return Interrupted, fmt.Sprintf("%s not started %s: interrupted", tag, t.ID)
	}
	log, err := os.OpenFile(filepath.Join(td, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return Failed, fmt.Sprintf("%s failed %s: %v", tag, t.ID, err)
	}
	defer log.Close()
	cmd := exec.Command(l.Bin, TrialArgs(td)...)
	cmd.Env = append(append(os.Environ(), l.Env...), "GOMAXPROCS="+strconv.Itoa(l.CPUs))
	cmd.Stdout, cmd.Stderr = log, log
	verb := "started"
	if _, err := os.Stat(filepath.Join(td, trainer.LastCheckpoint)); err == nil {
		verb = "resuming"
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Failed, fmt.Sprintf("%s failed %s: %v", tag, t.ID, err)
	}
	l.printf("%s %s %s (%s)\n", tag, verb, t.ID, what)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		// The child saves its state on SIGINT, as on Ctrl-C.
		cmd.Process.Signal(os.Interrupt)
		werr = <-waited
	}
	elapsed := time.Since(start).Round(time.Second)
	var ee *exec.ExitError
	if errors.As(werr, &ee) && ee.ExitCode() == ExitBusy {
		return Running, fmt.Sprintf("%s skipped %s: another process is training it", tag, t.ID)
	}
	st, err := ReadState(td)
	if err != nil {
		return Failed, fmt.Sprintf("%s failed %s: %v", tag, t.ID, err)
	}
	logPath := filepath.Join(td, LogFile)
	switch {
	case werr == nil && st.State == Done:
		return Done, fmt.Sprintf("%s done %s in %s%s", tag, t.ID, elapsed, bestOf(td))
	case st.State == Interrupted:
		return Interrupted, fmt.Sprintf("%s interrupted %s after %s; its state is saved, and it resumes when the sweep runs again", tag, t.ID, elapsed)
	case st.State == Failed:
		return Failed, fmt.Sprintf("%s failed %s: %s (log: %s)", tag, t.ID, firstLine(st.Error), logPath)
	}
	if werr == nil {
		werr = fmt.Errorf("the trial ended in state %q", st.State)
	}
	return Failed, fmt.Sprintf("%s failed %s: %v (log: %s)", tag, t.ID, werr, logPath)
}

// bestOf describes the best validation accuracy of the trial in folder
// dir, or "" when it has none.
func bestOf(dir string) string {
	h, err := history.Read(filepath.Join(dir, history.File))
	if err != nil {
		return ""
	}
	acc, epoch, ok := leaderboard.Entry{History: h}.Best()
	if !ok {
		return ""
	}
	return fmt.Sprintf(": best validation accuracy %.2f%% (epoch %d)", 100*acc, epoch)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
