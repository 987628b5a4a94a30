package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cifar-resnet/trainer/trainer"
	"github.com/cifar-resnet/trainer/trainer/sweep"
)

// sweepSetup writes tiny data, base.yaml (1 epoch of the tiny network)
// and the spec s.yaml in a new working folder.
func sweepSetup(t *testing.T, epochs int, spec string) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	data := tinyData(t, dir)
	if err := os.WriteFile("base.yaml", []byte(tinyConfig(data, "base", epochs)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("s.yaml", []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readCSV reads a leaderboard.csv.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// manifestIDs returns the trial ids of a sweep folder by their overrides.
func manifestIDs(t *testing.T, dir string) map[string]string {
	t.Helper()
	m, err := sweep.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, tr := range m.Trials {
		ids[strings.Join(tr.Overrides, ", ")] = tr.ID
	}
	return ids
}

// TestSweepLocal runs a sweep of four tiny trials two at a time, two of
// which fail (a batch larger than the training set; a loss that becomes
// infinite) without stopping the others, then runs it again: the
// finished trials are skipped.
func TestSweepLocal(t *testing.T) {
	sweepSetup(t, 1, `name: tiny
base: base.yaml
grid:
  solver.optimizer.lr: [0.01, 0.02]
trials:
  - {solver.batch_size: 500}
  - {solver.optimizer.lr: 1e30}
`)
	t.Setenv(beMainEnv, "1")
	code, out, errOut := runCmd("sweep", "-spec", "s.yaml", "-jobs", "2")
	if code != exitError {
		t.Fatalf("sweep: exit %d, want %d\n%s%s", code, exitError, out, errOut)
	}
	dir := filepath.Join("sweeps", "tiny")
	ids := manifestIDs(t, dir)
	good1, good2 := ids["solver.optimizer.lr=0.01"], ids["solver.optimizer.lr=0.02"]
	big, inf := ids["solver.batch_size=500"], ids["solver.optimizer.lr=1e+30"]
	for _, want := range []string{
		"sweep tiny: 4 trials, 0 done before, 4 to run, 2 at a time",
		"failed " + big + ": trainer: the training set has 150 images, fewer than solver.batch_size = 500 (log: " + filepath.Join(dir, "trials", big, "train.log") + ")",
		"failed " + inf + ": trainer: the loss became ",
		"done " + good1 + " in ", "done " + good2 + " in ",
		"sweep tiny: 2 done now, 0 done before, 2 failed, 0 interrupted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sweep output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "2 trial(s) failed: ") || !strings.Contains(errOut, "Running the sweep again retries them: trainer sweep -spec s.yaml -jobs 2") {
		t.Errorf("stderr: %s", errOut)
	}
	recs := readCSV(t, filepath.Join(dir, "leaderboard.csv"))
	if len(recs) != 5 {
		t.Fatalf("leaderboard.csv: %v", recs)
	}
	for i, r := range recs[1:] {
		done := i < 2
		if (r[2] == sweep.Done) != done || (r[6] != "") != done || r[0] != fmt.Sprint(i+1) || done && r[5] != "1" {
			t.Errorf("leaderboard row %d: %v", i+1, r)
		}
	}
	if recs[1][6] < recs[2][6] && len(recs[1][6]) == len(recs[2][6]) {
		t.Errorf("not ranked by accuracy: %v", recs)
	}
	// Each child had its share of the cores.
	cores := max(1, runtime.NumCPU()/2)
	for _, id := range []string{good1, good2, big, inf} {
		log, err := os.ReadFile(filepath.Join(dir, "trials", id, "train.log"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), fmt.Sprintf("run 1 of trial %s on ", id)) || !strings.Contains(string(log), fmt.Sprintf("GOMAXPROCS=%d)", cores)) {
			t.Errorf("%s's log:\n%s", id, log)
		}
	}
	for _, f := range []string{"leaderboard.md", "leaderboard.json", "validation.png", "spec.yaml", "trials/" + good1 + "/history.csv", "trials/" + good1 + "/" + good1 + ".ckpt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	// Again: the finished trials are skipped, the failed ones retried.
	code, out, _ = runCmd("sweep", "-spec", "s.yaml", "-jobs", "2")
	if code != exitError || !strings.Contains(out, "4 trials, 2 done before, 2 to run") || strings.Contains(out, "started "+good1) {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "trials", good1, "train.log")); strings.Contains(string(log), "run 2 of trial") {
		t.Errorf("a finished trial ran again:\n%s", log)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "trials", big, "train.log")); !strings.Contains(string(log), "run 2 of trial") {
		t.Errorf("a failed trial was not retried:\n%s", log)
	}

	// -status reports every trial from the folders.
	code, out, errOut = runCmd("sweep", "-spec", "s.yaml", "-status")
	if code != 0 || !strings.Contains(out, "4 trials: 2 done, 2 failed; leaderboard: "+filepath.Join(dir, "leaderboard.md")) || !strings.Contains(out, good1+"  done") {
		t.Errorf("-status: exit %d\n%s%s", code, out, errOut)
	}
}

// TestSweepBadSpecStartsNothing checks that a spec with problems is
// refused with all of them before any folder is made.
func TestSweepBadSpecStartsNothing(t *testing.T) {
	sweepSetup(t, 1, `base: base.yaml
grid:
  model.bn_momentum: [0.1, 2]
  model.stages:
    - [{channels: 4, blocks: 1, stride: 1}]
    - [{channels: 400, blocks: 1, stride: 1}]
trials:
  - {}
  - {}
`)
	code, out, errOut := runCmd("sweep", "-spec", "s.yaml")
	if code != exitError || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		"sweep: 4 problems in s.yaml:\n",
		"-set model.bn_momentum=2: model.bn_momentum: must be in (0, 1], got 2",
		"(model.bn_momentum=0.1, model.stages=[{channels: 400, blocks: 1, stride: 1}]): the network has 1462526 learnable parameters, over model.max_params = 50000",
		"#6 (the base configuration) is the same configuration as trial ",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat("sweeps"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sweeps/: %v, want nothing made", err)
	}
	if code, _, errOut := runCmd("sweep", "-spec", "s.yaml", "-executor", "pbs"); code != exitUsage || !strings.Contains(errOut, "-executor must be local or slurm") {
		t.Errorf("-executor pbs: exit %d, %q", code, errOut)
	}
}

// TestSweepInterruptAndResume interrupts a running sweep: its children
// save their state, and running the sweep again resumes them from it.
func TestSweepInterruptAndResume(t *testing.T) {
	dir := sweepSetup(t, 40, "name: long\nbase: base.yaml\nseeds: [1, 2]\n")
	cmd, bin, stdout, stderr := startMain(t, dir, "sweep", "-spec", "s.yaml", "-jobs", "2")
	sc := bufio.NewScanner(stdout)
	started := 0
	for started < 2 && sc.Scan() {
		if strings.Contains(sc.Text(), "] started ") {
			started++
		}
	}
	// Wait until both trials train, then interrupt the sweep alone.
	ids := manifestIDs(t, filepath.Join("sweeps", "long"))
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for {
			log, _ := os.ReadFile(filepath.Join("sweeps", "long", "trials", id, "train.log"))
			if bytes.Contains(log, []byte("epoch 1/40")) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted sweep: %v, want exit %d\n%s\n%s", err, exitInterrupted, rest, stderr.String())
	}
	if want := "trainer sweep: interrupted; the running trials saved their state. Resume the sweep with: " + bin + " sweep -spec s.yaml -jobs 2\n"; !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("stderr:\n%s\nwant it to end with\n%s", stderr.String(), want)
	}
	for _, id := range ids {
		st, err := sweep.ReadState(filepath.Join("sweeps", "long", "trials", id))
		if err != nil || st.State != sweep.Interrupted {
			t.Errorf("trial %s: state %+v, %v; want interrupted", id, st, err)
		}
		if _, err := os.Stat(filepath.Join("sweeps", "long", "trials", id, trainer.LastCheckpoint)); err != nil {
			t.Error(err)
		}
	}

	again := exec.Command(bin, "sweep", "-spec", "s.yaml", "-jobs", "2")
	again.Dir, again.Env = dir, cmd.Env
	out, err := again.CombinedOutput()
	if err != nil || strings.Count(string(out), "] resuming ") != 2 || !strings.Contains(string(out), "2 done now, 0 done before") {
		t.Fatalf("resumed sweep: %v\n%s", err, out)
	}
	for _, id := range ids {
		log, _ := os.ReadFile(filepath.Join("sweeps", "long", "trials", id, "train.log"))
		if !bytes.Contains(log, []byte("resumed from "+filepath.Join("sweeps", "long", "trials", id, "last.ckpt"))) || !bytes.Contains(log, []byte("epoch 40/40")) {
			t.Errorf("trial %s's log:\n%s", id, log)
		}
	}
}
