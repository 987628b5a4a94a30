package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cifar-resnet/trainer/trainer/sweep"
)

// requireSlurmEnv, set to 1 (as .ci/run does after starting Slurm),
// makes TestSweepOnSlurm fail instead of skipping when Slurm does not
// answer.
const requireSlurmEnv = "TRAINER_REQUIRE_SLURM"

// slurmReachable returns "" when a Slurm cluster answers sinfo with an
// idle node, or why not.
func slurmReachable() string {
	if _, err := exec.LookPath("sbatch"); err != nil {
		return "no sbatch"
	}
	conf := os.Getenv("SLURM_CONF")
	if conf == "" {
		conf = "/etc/slurm/slurm.conf"
	}
	if _, err := os.Stat(conf); err != nil {
		return "no Slurm configuration (" + conf + ")"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sinfo", "-h", "-o", "%T").Output()
	if err != nil {
		return "sinfo: " + err.Error()
	}
	if !strings.Contains(string(out), "idle") && !strings.Contains(string(out), "mixed") {
		return "no idle node: sinfo says " + strings.TrimSpace(string(out))
	}
	return ""
}

// run runs a command in dir, failing the test when it fails.
func runIn(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitFor polls cond every 50 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSweepOnSlurm submits a sweep of three tiny trials as a job array to
// a real Slurm cluster (.ci/slurm starts one on this machine), requeues
// one trial once while it trains, as a preemption would, and checks that
// it resumed from its checkpoint, that -status reports every trial, and
// that the leaderboard is the one the local executor gives with the same
// cores per trial.
func TestSweepOnSlurm(t *testing.T) {
	if why := slurmReachable(); why != "" {
		if os.Getenv(requireSlurmEnv) == "1" {
			t.Fatalf("Slurm is not reachable (%s), and %s=1 requires it", why, requireSlurmEnv)
		}
		t.Skip("Slurm is not reachable (" + why + "); .ci/run starts a single-node cluster with .ci/slurm start")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "trainer")
	runIn(t, ".", "go", "build", "-o", bin, ".")
	data := tinyData(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "base.yaml"), []byte(tinyConfig(data, "base", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The third trial is long enough (three epochs of a wider network,
	// two images a batch: seconds) to be requeued while it trains.
	spec := `base: base.yaml
trials:
  - {solver.optimizer.lr: 0.01}
  - {solver.optimizer.lr: 0.02}
  - {solver.epochs: 3, model.stem_channels: 24, model.stages: [{channels: 24, blocks: 3, stride: 1}], solver.batch_size: 2}
cpus_per_trial: 1
slurm: {max_running: 2, time: "00:10:00"}
`
	for _, name := range []string{"onslurm", "onlocal"} {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := runIn(t, dir, bin, "sweep", "-spec", "onslurm.yaml", "-executor", "slurm")
	m := regexp.MustCompile(`submitted job array (\d+) \(`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "3 of 3 trials, at most 2 at once, 1 core(s) and 00:10:00 each") {
		t.Fatalf("submission:\n%s", out)
	}
	job := m[1]
	sweepDir := filepath.Join(dir, "sweeps", "onslurm")
	t.Cleanup(func() { exec.Command("scancel", job).Run() })
	man, err := sweep.ReadManifest(sweepDir)
	if err != nil {
		t.Fatal(err)
	}
	victim := man.Trials[2].ID
	task := job + "_2"
	victimLog := filepath.Join(sweepDir, "trials", victim, sweep.LogFile)
	readLog := func() string {
		b, _ := os.ReadFile(victimLog)
		return string(b)
	}
	waitFor(t, "the third trial to train", 2*time.Minute, func() bool { return strings.Contains(readLog(), "training 3 epochs") })
	// Requeue it, as a preemption would: Slurm sends SIGTERM, then
	// queues the task again. A requeued task waits two minutes before it
	// is eligible; let it start now.
	runIn(t, dir, "scontrol", "requeue", task)
	waitFor(t, "the requeued trial to start again", 2*time.Minute, func() bool {
		exec.Command("scontrol", "update", "jobid="+task, "StartTime=now").Run()
		return strings.Contains(readLog(), "run 2 of trial "+victim)
	})
	waitFor(t, "the job array to finish", 3*time.Minute, func() bool {
		q, err := exec.Command("squeue", "-h", "-r", "-j", job, "-o", "%T").Output()
		return err == nil && len(bytes.TrimSpace(q)) == 0
	})

	log := readLog()
	for _, want := range []string{
		"(pid ", ", Slurm job " + task + ", GOMAXPROCS=1)",
		"trainer sweep-trial: interrupted; the trial's state is saved in " + filepath.Join(sweepDir, "trials", victim, "last.ckpt"),
		"run 2 of trial " + victim,
		"resumed from " + filepath.Join(sweepDir, "trials", victim, "last.ckpt") + " after epoch ",
		"epoch 3/3",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the requeued trial's log lacks %q:\n%s", want, log)
		}
	}
	if m := regexp.MustCompile(`after epoch (\d+) \(step (\d+)\)`).FindStringSubmatch(log); m == nil || m[2] == "0" {
		t.Errorf("the trial did not resume from a checkpoint written while it trained:\n%s", log)
	}
	st, err := sweep.ReadState(filepath.Join(sweepDir, "trials", victim))
	if err != nil || st.State != sweep.Done || st.Starts != 2 || st.Job != task {
		t.Errorf("the requeued trial's state: %+v, %v", st, err)
	}
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(sweepDir, "slurm", "logs", job+"_"+string(rune('0'+i))+".out")); err != nil {
			t.Error(err)
		}
	}

	status := runIn(t, dir, bin, "sweep", "-spec", "onslurm.yaml", "-status")
	if !strings.Contains(status, "3 trials: 3 done; leaderboard: ") || !strings.Contains(status, task+" COMPLETED") {
		t.Errorf("-status:\n%s", status)
	}
	// Submitting again submits nothing: every trial is done.
	if again := runIn(t, dir, bin, "sweep", "-spec", "onslurm.yaml", "-executor", "slurm"); !strings.Contains(again, "no trial to submit (3 trials)") {
		t.Errorf("second submission:\n%s", again)
	}

	// The local executor, one core per trial, gives the same leaderboard:
	// same ids, accuracies, epochs and final losses (the requeued trial's
	// resume is exact).
	runIn(t, dir, bin, "sweep", "-spec", "onlocal.yaml", "-jobs", "2")
	slurm := readCSV(t, filepath.Join(sweepDir, "leaderboard.csv"))
	local := readCSV(t, filepath.Join(dir, "sweeps", "onlocal", "leaderboard.csv"))
	if len(slurm) != 4 || len(local) != 4 {
		t.Fatalf("leaderboards:\n%v\n%v", slurm, local)
	}
	for i := range slurm {
		// Every column but the wall time.
		if !slices.Equal(slurm[i][:9], local[i][:9]) {
			t.Errorf("row %d: Slurm %v, local %v", i, slurm[i], local[i])
		}
	}
}
