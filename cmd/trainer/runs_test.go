package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/trainer/sweep"
)

// beMainEnv makes the test binary run main instead of the tests, so that
// tests can start it as the trainer (and the sweep can start trials with
// it, as it starts the trainer binary).
const beMainEnv = "TRAINER_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMainEnv) == "1" {
		if lib := os.Getenv(emulatorEnv); lib != "" {
			if err := cuda.SetDriverLibrary(lib); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// startMain starts the test binary, at path bin, as the trainer (main) in
// the folder dir with args, its standard output piped to stdout and its
// standard error collected in stderr. The process is killed when the test
// ends if it has not been waited for.
func startMain(t *testing.T, dir string, args ...string) (cmd *exec.Cmd, bin string, stdout io.ReadCloser, stderr *bytes.Buffer) {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), beMainEnv+"=1")
	if stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, bin, stdout, stderr
}

// tinyConfig is a configuration of a 4-channel network trained on the
// data of tinyData (150 training, 50 validation images) that names no
// output path but output.name.
func tinyConfig(data, name string, epochs int) string {
	return `
data:
  dir: ` + data + `
  val_size: 50
model:
  stem_channels: 4
  stages:
    - {channels: 4, blocks: 1, stride: 2}
solver:
  batch_size: 15
  epochs: ` + itoa(epochs) + `
  num_train_samples: 50
  optimizer: {name: adam, lr: 0.01, momentum: 0, nesterov: false}
  scheduler: {name: cosine}
output:
  name: ` + name + `
`
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestHelpExitsZero(t *testing.T) {
	code, _, errOut := runCmd("-h")
	if code != exitOK {
		t.Errorf("trainer -h: exit %d", code)
	}
	for _, want := range []string{"trainer summary", "trainer test", "trainer plot", "trainer sweep", "-set", "-force", "flags of training:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("trainer -h lacks %q:\n%s", want, errOut)
		}
	}
	for _, cmd := range []string{"summary", "test", "plot", "sweep", sweep.TrialCommand} {
		if code, _, errOut := runCmd(cmd, "-h"); code != exitOK || !strings.Contains(errOut, "-") {
			t.Errorf("trainer %s -h: exit %d, stderr %q", cmd, code, errOut)
		}
	}
	if code, out, _ := runCmd("help"); code != exitOK || !strings.Contains(out, "trainer sweep") {
		t.Errorf("trainer help: exit %d\n%s", code, out)
	}
}

func TestInvocationOf(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bi := &debug.BuildInfo{Path: "github.com/cifar-resnet/trainer/cmd/trainer"}
	bi.Main.Path = "github.com/cifar-resnet/trainer"
	goRun := "/tmp/go-build2740132/b001/exe/trainer"
	for _, tc := range []struct {
		argv0, cwd, want string
	}{
		{goRun, root, "go run ./cmd/trainer"},
		{goRun, filepath.Join(root, "cmd", "trainer"), "go run ."},
		{goRun, filepath.Join(root, "experiments"), "go run ../cmd/trainer"},
		{goRun, "/", "go run github.com/cifar-resnet/trainer/cmd/trainer"},
		// Go 1.24 and later keep go run's executables in the build cache.
		{"/root/.cache/go-build/27/278c7447345c6eb4c29291299a739d850579b7c30d9ebdb6b618e6e5d13e8bb4-d/trainer", root, "go run ./cmd/trainer"},
		{"bin/trainer", root, "bin/trainer"},
		{"trainer", root, "trainer"},
		{"/opt/my tools/trainer", root, "'/opt/my tools/trainer'"},
		{"/tmp/go-build1/b001/trainer.test", root, "/tmp/go-build1/b001/trainer.test"},
	} {
		if got := invocationOf(tc.argv0, bi, tc.cwd); got != tc.want {
			t.Errorf("invocationOf(%q, %q) = %q, want %q", tc.argv0, tc.cwd, got, tc.want)
		}
	}
}

func TestResumeCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "trainer -resume runs/default/last.ckpt"},
		{[]string{"-config", "e1.yaml", "-set", "model.stages=[{channels: 4, blocks: 1, stride: 1}]", "-force", "-cpuprofile", "p"},
			"trainer -config e1.yaml -set 'model.stages=[{channels: 4, blocks: 1, stride: 1}]' -cpuprofile p -resume runs/default/last.ckpt"},
		{[]string{"-resume", "old.ckpt", "-config=e1.yaml", "--resume=x", "-set", "output.name=it's"},
			`trainer -config=e1.yaml -set 'output.name=it'\''s' -resume runs/default/last.ckpt`},
	} {
		if got := resumeCommand("trainer", tc.args, "runs/default/last.ckpt"); got != tc.want {
			t.Errorf("resumeCommand(%q) =\n%s\nwant\n%s", tc.args, got, tc.want)
		}
	}
}

// TestSafeRunsAndOverrides trains a run named by its configuration alone,
// refuses to start it again over its folder, starts it afresh with
// -force, and trains a variant with -set.
func TestSafeRunsAndOverrides(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	data := tinyData(t, dir)
	cfg := writeConfig(t, dir, tinyConfig(data, "tiny", 2))
	code, out, errOut := runCmd("-config", "c.yaml")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []string{"runs/tiny/last.ckpt", "runs/tiny/best.ckpt", "runs/tiny/history.csv", "runs/tiny/training.png", "runs/tiny/config.yaml", "models/tiny.ckpt"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after training: %v", err)
		}
	}
	if _, err := os.Stat("runs/default"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("runs/default: %v, want nothing written there", err)
	}

	// Starting again over the run is refused, with the commands that
	// resume it or start afresh, and changes nothing.
	history, err := os.ReadFile("runs/tiny/history.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer func(old string) { invocation = old }(invocation)
	invocation = "go run ./cmd/trainer"
	code, _, errOut = runCmd("-config", "c.yaml", "-set", "seed=0")
	want := "trainer: runs/tiny already holds a run (2 of 2 epochs done); nothing was changed.\n" +
		"resume it with: go run ./cmd/trainer -config c.yaml -set seed=0 -resume runs/tiny/last.ckpt\n" +
		"or start afresh: add -force (which deletes that run's checkpoints, history, plot and best model), or give this run another name (output.name, e.g. -set output.name=tiny-2)\n"
	if code != exitError || errOut != want {
		t.Errorf("second start: exit %d, stderr\n%s\nwant\n%s", code, errOut, want)
	}
	if got, _ := os.ReadFile("runs/tiny/history.csv"); !bytes.Equal(got, history) {
		t.Errorf("the refused start changed history.csv:\n%s", got)
	}
	// The printed resume command works (nothing to do: the run is done).
	if code, out, errOut := runCmd("-config", "c.yaml", "-set", "seed=0", "-resume", "runs/tiny/last.ckpt"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("the printed resume command: exit %d\n%s%s", code, out, errOut)
	}

	// -force starts afresh: the old run's files are replaced.
	if err := os.WriteFile("runs/tiny/history.csv", []byte("epoch,loss,train_acc,val_acc,lr,seconds\n1,9,0,0,0,0\n2,9,0,0,0,0\n3,9,0,0,0,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd("-config", cfg, "-force")
	if code != 0 || !strings.Contains(out, "training 2 epochs") {
		t.Fatalf("-force: exit %d\n%s%s", code, out, errOut)
	}
	if got, _ := os.ReadFile("runs/tiny/history.csv"); bytes.Count(got, []byte("\n")) != 3 {
		t.Errorf("history after -force:\n%s", got)
	}
	if code, _, errOut := runCmd("-config", cfg, "-force", "-resume", "runs/tiny/last.ckpt"); code != exitUsage || !strings.Contains(errOut, "-force starts afresh") {
		t.Errorf("-force -resume: exit %d, %q", code, errOut)
	}

	// -set: a variant under its own name, recorded in its config.yaml.
	code, out, errOut = runCmd("-config", cfg, "-set", "output.name=variant", "-set", "solver.epochs=1",
		"-set", "model.stages=[{channels: 4, blocks: 1, stride: 1}, {channels: 6, blocks: 1, stride: 2}]")
	if code != 0 || !strings.Contains(out, "training 1 epochs") {
		t.Fatalf("-set: exit %d\n%s%s", code, out, errOut)
	}
	saved, err := os.ReadFile("runs/variant/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"# The configuration file with these overrides applied:\n#   -set output.name=variant\n#   -set solver.epochs=1\n#   -set 'model.stages=[{channels: 4, blocks: 1, stride: 1}, {channels: 6, blocks: 1, stride: 2}]'\n",
		"  epochs: 1\n", "    - channels: 6\n", "  name: variant\n  checkpoint_dir: runs/variant\n",
	} {
		if !bytes.Contains(saved, []byte(w)) {
			t.Errorf("runs/variant/config.yaml lacks %q:\n%s", w, saved)
		}
	}
	if _, err := os.Stat("models/variant.ckpt"); err != nil {
		t.Error(err)
	}

	// A bad value is refused as the file's would be, naming the flag; a
	// malformed flag is a usage error.
	code, _, errOut = runCmd("-config", cfg, "-set", "solver.epochs=0", "-set", "model.stages[0].stride=3")
	if want := "config: 2 problems in " + cfg + ":\n\t-set model.stages[0].stride=3: model.stages[0].stride: must be 1 or 2, got 3\n\t-set solver.epochs=0: solver.epochs: must be > 0, got 0\n"; code != exitError || errOut != want {
		t.Errorf("bad -set: exit %d, stderr\n%s\nwant\n%s", code, errOut, want)
	}
	code, _, errOut = runCmd("-config", cfg, "-set", "solver.epochs")
	if code != exitUsage || !strings.Contains(errOut, `invalid value "solver.epochs" for flag -set: want key=value`) {
		t.Errorf("malformed -set: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = runCmd("summary", "-config", cfg, "-set", "model.stem_channels=8")
	if code != 0 || !strings.Contains(out, "stem.conv") || !strings.Contains(out, "3·3·3·8 = 216") {
		t.Errorf("summary -set: exit %d\n%s", code, out)
	}
}

// TestInterruptPrintsTheCommandRun interrupts a trainer started as a
// binary and checks that the resume command it prints is the command that
// was run plus -resume, and that running it finishes the run.
func TestInterruptPrintsTheCommandRun(t *testing.T) {
	dir := t.TempDir()
	data := tinyData(t, dir)
	writeConfig(t, dir, tinyConfig(data, "long", 40))
	cmd, bin, stdout, stderr := startMain(t, dir, "-config", "c.yaml", "-set", "seed=3")
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "epoch 1/40") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stdout)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted trainer: %v, want exit %d\n%s", err, exitInterrupted, stderr.String())
	}
	want := "resume with: " + bin + " -config c.yaml -set seed=3 -resume runs/long/last.ckpt\n"
	if !strings.HasSuffix(stderr.String(), want) {
		t.Fatalf("stderr\n%s\nwant it to end with\n%s", stderr.String(), want)
	}
	line := strings.TrimPrefix(strings.TrimSuffix(want, "\n"), "resume with: ")
	resume := exec.Command("sh", "-c", line)
	resume.Dir = dir
	resume.Env = cmd.Env
	done := make(chan struct{})
	timer := time.AfterFunc(2*time.Minute, func() {
		select {
		case <-done:
		default:
			resume.Process.Kill()
		}
	})
	out, err := resume.CombinedOutput()
	close(done)
	timer.Stop()
	if err != nil || !strings.Contains(string(out), "resumed from runs/long/last.ckpt") || !strings.Contains(string(out), "epoch 40/40") {
		t.Errorf("%s: %v\n%s", line, err, out)
	}
}
