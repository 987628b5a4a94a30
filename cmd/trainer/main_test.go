package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer/rundir"
)

// writeBatch writes a CIFAR-10 binary file of n records whose class is
// their colour (as in the trainer's tests), so a tiny network learns it.
func writeBatch(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	colours := [10][3]int{{200, 40, 40}, {40, 200, 40}, {40, 40, 200}, {200, 200, 40}, {200, 40, 200},
		{40, 200, 200}, {120, 120, 120}, {230, 230, 230}, {20, 20, 20}, {200, 120, 40}}
	var b bytes.Buffer
	for i := range n {
		k := i % 10
		b.WriteByte(byte(k))
		for c := range 3 {
			for range 1024 {
				b.WriteByte(byte(min(255, max(0, colours[k][c]+rng.IntN(81)-40))))
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tinyData writes 200 training images (5 batch files of 40) and 100 test
// images under dir/data and returns that folder.
func tinyData(t *testing.T, dir string) string {
	t.Helper()
	data := filepath.Join(dir, "data")
	batches := filepath.Join(data, "cifar-10-batches-bin")
	for i := 1; i <= 5; i++ {
		writeBatch(t, filepath.Join(batches, "data_batch_"+string(rune('0'+i))+".bin"), 40, uint64(i))
	}
	writeBatch(t, filepath.Join(batches, "test_batch.bin"), 100, 9)
	return data
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSummaryReference(t *testing.T) {
	code, out, errOut := runCmd("summary", "-config", "../../config.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := lastLine(out); got != "total learnable parameters: 43226" {
		t.Fatalf("last line %q", got)
	}
	for _, want := range []string{"3·3·3·16 = 432", "stage2.block1.skip.conv", "1·1·16·32 = 512", "(32+1)·10 = 330"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// TestSummaryOverBudget asks for the summary of a network over the
// parameter budget: the whole table is printed, then the error with the
// count and the limit, and the exit code says it failed.
func TestSummaryOverBudget(t *testing.T) {
	cfg := writeConfig(t, t.TempDir(), `
model:
  stem_channels: 16
  stages:
    - {channels: 16, blocks: 2, stride: 1}
    - {channels: 48, blocks: 2, stride: 2}
`)
	code, out, errOut := runCmd("summary", "-config", cfg)
	if code != exitError {
		t.Fatalf("exit %d, want %d", code, exitError)
	}
	// stem 432+32, stage 1 2·(2304+32+2304+32), stage 2 block 1
	// 6912+96+20736+96 + skip 768+96, block 2 2·(20736+96), fc 49·10.
	const total = 464 + 9344 + 28704 + 41664 + 490
	for _, want := range []string{"stem.conv", "3·3·16·48 = 6912", "stage2.block2.conv2", "1·1·16·48 = 768", "(48+1)·10 = 490"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if got, want := lastLine(out), fmt.Sprintf("total learnable parameters: %d", total); got != want {
		t.Errorf("last line %q, want %q", got, want)
	}
	want := fmt.Sprintf("trainer: %s: the network has %d learnable parameters, %d over the limit model.max_params = 50000\n", cfg, total, total-50000)
	if errOut != want {
		t.Errorf("stderr %q\nwant   %q", errOut, want)
	}
}

func TestBadConfigAndUsage(t *testing.T) {
	cfg := writeConfig(t, t.TempDir(), "solver:\n  epochz: 3\n")
	code, _, errOut := runCmd("-config", cfg)
	if code != exitError || !strings.Contains(errOut, `"epochz"`) || !strings.Contains(errOut, ":2:") {
		t.Errorf("exit %d, stderr %q: want the unknown key and its line", code, errOut)
	}
	if code, _, _ := runCmd("frobnicate"); code != exitUsage {
		t.Errorf("unknown command: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runCmd("test", "-data", "x"); code != exitUsage {
		t.Errorf("test without -checkpoint: exit %d, want %d", code, exitUsage)
	}
	if code, _, errOut := runCmd("-config", filepath.Join(t.TempDir(), "missing.yaml")); code != exitError || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing config: exit %d, stderr %q", code, errOut)
	}
}

// TestTrainTestPlot runs the main job on generated data, then evaluates the
// saved model and redraws the plot.
func TestTrainTestPlot(t *testing.T) {
	dir := t.TempDir()
	data := tinyData(t, dir)
	cfg := writeConfig(t, dir, `
data:
  dir: `+data+`
  val_size: 50
model:
  stem_channels: 4
  stages:
    - {channels: 8, blocks: 1, stride: 2}
solver:
  batch_size: 15
  epochs: 3
  num_train_samples: 50
  optimizer: {name: adam, lr: 0.01, momentum: 0, nesterov: false}
  scheduler: {name: cosine}
output:
  name: tiny
  checkpoint_dir: `+filepath.Join(dir, "run")+`
  models_dir: `+filepath.Join(dir, "models")+`
  plots_dir: ""
`)
	code, out, errOut := runCmd("-config", cfg)
	if code != 0 {
		t.Fatalf("train: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := "data: 150 training and 50 validation images from " + data + "\n"; !strings.Contains(out, want) {
		t.Errorf("no line %q:\n%s", want, out)
	}
	if n := strings.Count(out, "epoch "); n < 3 || !strings.Contains(out, "epoch 3/3") {
		t.Errorf("expected one line per epoch:\n%s", out)
	}
	// Training again with the same config and -resume has nothing to do,
	// except writing a best model that is missing.
	best := filepath.Join(dir, "models", "tiny.ckpt")
	want, err := os.ReadFile(best)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(best); err != nil {
		t.Fatal(err)
	}
	// The temporary file of a save killed half-way is removed too.
	stale := filepath.Join(dir, "run", ".last.ckpt.tmp-12345")
	if err := os.WriteFile(stale, []byte("half a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd("-config", cfg, "-resume", filepath.Join(dir, "run", "last.ckpt"))
	if code != 0 || !strings.Contains(out, "nothing to do") || !strings.Contains(out, "saved to "+best) {
		t.Errorf("resume of a finished run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file %s: %v, want it removed", stale, err)
	}
	if got, err := os.ReadFile(best); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the best model written again differs from the first (%v)", err)
	}

	// A second trainer on the same run folder is refused while the first
	// holds it.
	lock, err := rundir.Acquire(filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd("-config", cfg, "-resume", filepath.Join(dir, "run", "last.ckpt"))
	lock.Release()
	if code != exitError || !strings.Contains(errOut, "in use by another trainer (PID ") {
		t.Errorf("second trainer on a held run folder: exit %d, stderr %q", code, errOut)
	}

	code, out, errOut = runCmd("test", "-checkpoint", filepath.Join(dir, "models", "tiny.ckpt"), "-data", data)
	if code != 0 {
		t.Fatalf("test: exit %d: %s", code, errOut)
	}
	last := lastLine(out)
	if !strings.HasPrefix(last, "test accuracy: ") || !strings.HasSuffix(last, "%") || len(last) != len("test accuracy: 00.00%") && len(last) != len("test accuracy: 100.00%") && len(last) != len("test accuracy: 0.00%") {
		t.Errorf("last line %q, want test accuracy: NN.NN%%", last)
	}
	if !strings.Contains(out, "airplane") || !strings.Contains(out, "true \\ predicted") {
		t.Errorf("no confusion matrix:\n%s", out)
	}
	code, out, errOut = runCmd("test", "-checkpoint", filepath.Join(dir, "models", "tiny.ckpt"), "-data", data, "-split", "val")
	if code != 0 || !strings.HasPrefix(lastLine(out), "val accuracy: ") || !strings.Contains(out, "50 val images") {
		t.Errorf("test -split val: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "the mean of 18 views") {
		t.Errorf("test: the default views are not described as 18 views:\n%s", out)
	}
	// The single-view accuracy printed with the averaged views is the
	// accuracy of -flip=false -shift 0.
	_, single, found := strings.Cut(out, "val accuracy, single view: ")
	code, out, errOut = runCmd("test", "-checkpoint", filepath.Join(dir, "models", "tiny.ckpt"), "-data", data, "-split", "val", "-flip=false", "-shift", "0")
	if single, _, _ = strings.Cut(single, "\n"); !found || code != 0 || lastLine(out) != "val accuracy: "+single || strings.Contains(out, "single view:") {
		t.Errorf("test -flip=false -shift 0: exit %d, want last line \"val accuracy: %s\"\n%s%s", code, single, out, errOut)
	}
	// A model trained without flips or crops is tested on the single view
	// unless asked otherwise.
	f, err := checkpoint.Load(filepath.Join(dir, "models", "tiny.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	f.Config.Data.Augment.HorizontalFlip, f.Config.Data.Augment.CropPadding = false, 0
	plain := filepath.Join(dir, "plain.ckpt")
	if err := checkpoint.Save(plain, f); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd("test", "-checkpoint", plain, "-data", data, "-split", "val")
	if code != 0 || lastLine(out) != "val accuracy: "+single || !strings.Contains(out, "; single view") {
		t.Errorf("test of a model trained without augmentation: exit %d, want the single view and last line \"val accuracy: %s\"\n%s%s", code, single, out, errOut)
	}
	code, out, errOut = runCmd("test", "-checkpoint", plain, "-data", data, "-split", "val", "-flip", "-shift", "2")
	if code != 0 || !strings.Contains(out, "the mean of 50 views") {
		t.Errorf("test -flip -shift 2: exit %d, want 50 views\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCmd("test", "-checkpoint", filepath.Join(dir, "models", "tiny.ckpt"), "-data", data, "-shift", "-1")
	if code != 2 || !strings.Contains(errOut, "-shift must be 0 to 8 pixels, got -1") {
		t.Errorf("test -shift -1: exit %d, stderr:\n%s", code, errOut)
	}

	if err := os.Remove(filepath.Join(dir, "run", "training.png")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd("plot", "-run", filepath.Join(dir, "run"))
	if code != 0 {
		t.Fatalf("plot: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "training.png")); err != nil {
		t.Error(err)
	}

	// A checkpoint of format version 1 (no checksum) is read, with a note.
	f, err = checkpoint.Load(filepath.Join(dir, "models", "tiny.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := msgpack.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	v1 := filepath.Join(dir, "v1.ckpt")
	if err := os.WriteFile(v1, append([]byte(checkpoint.Magic+"\x00\x00\x00\x01"), body...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd("test", "-checkpoint", v1, "-data", data, "-split", "val", "-flip=false", "-shift", "0")
	if code != 0 || lastLine(out) != "val accuracy: "+single || !strings.Contains(errOut, v1+" is a checkpoint of format version 1, which has no checksum") {
		t.Errorf("test of a version-1 checkpoint: exit %d\n%s%s", code, out, errOut)
	}

	// A corrupt checkpoint is refused with its name, without a panic.
	bad := filepath.Join(dir, "bad.ckpt")
	if err := os.WriteFile(bad, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd("test", "-checkpoint", bad, "-data", data)
	if code != exitError || !strings.Contains(errOut, "bad.ckpt") {
		t.Errorf("corrupt checkpoint: exit %d, stderr %q", code, errOut)
	}

	// Resuming with more epochs is refused unless asked for, and then
	// recorded.
	body, err = os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	more := writeConfig(t, t.TempDir(), strings.Replace(string(body), "epochs: 3", "epochs: 4", 1))
	code, _, errOut = runCmd("-config", more, "-resume", filepath.Join(dir, "run", "last.ckpt"))
	if code != exitError || !strings.Contains(errOut, "solver.epochs: 3 -> 4") || !strings.Contains(errOut, "-allow-schedule-change") {
		t.Errorf("resume with more epochs: exit %d, stderr:\n%s", code, errOut)
	}
	code, out, errOut = runCmd("-config", more, "-resume", filepath.Join(dir, "run", "last.ckpt"), "-allow-schedule-change")
	if code != 0 || !strings.Contains(out, "changed on resume after epoch 3: solver.epochs: 3 -> 4") || !strings.Contains(out, "epoch 4/4") {
		t.Errorf("resume with more epochs, allowed: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCmd("-config", more, "-allow-schedule-change")
	if code != exitUsage || !strings.Contains(errOut, "needs -resume") {
		t.Errorf("-allow-schedule-change without -resume: exit %d, stderr %q", code, errOut)
	}
}

// TestTrainEarlyStopping trains on generated data with early stopping that
// no epoch after the first satisfies: the log says where and why it
// stopped, each line of the display has a timestamp, metrics.jsonl has a
// line per epoch, and a resume has nothing to do.
func TestTrainEarlyStopping(t *testing.T) {
	dir := t.TempDir()
	data := tinyData(t, dir)
	cfg := writeConfig(t, dir, `
data:
  dir: `+data+`
  val_size: 50
model:
  stem_channels: 4
  stages:
    - {channels: 8, blocks: 1, stride: 2}
solver:
  batch_size: 15
  epochs: 6
  optimizer: {name: adam, lr: 0.01, momentum: 0, nesterov: false}
  early_stopping: {patience: 2, min_delta: 1}
output:
  name: tiny
  checkpoint_dir: `+filepath.Join(dir, "run")+`
  models_dir: `+filepath.Join(dir, "models")+`
`)
	code, out, errOut := runCmd("-config", cfg)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out, errOut)
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d `)
	var epochs []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " epoch ") || strings.Contains(line, "early stopping") {
			if !stamp.MatchString(line) {
				t.Errorf("line without a timestamp: %q", line)
			}
		}
		if _, rest, ok := strings.Cut(line, " epoch "); ok && strings.Contains(rest, "val loss") {
			epochs = append(epochs, rest)
		}
	}
	if len(epochs) != 3 || !strings.HasPrefix(epochs[2], "3/6  loss ") {
		t.Errorf("epoch lines %q, want 3 of 6", epochs)
	}
	if !strings.Contains(out, "early stopping after epoch 3: the validation accuracy has not improved on epoch 1's") ||
		!strings.Contains(out, "for 2 epochs (solver.early_stopping.patience = 2)") || !strings.Contains(out, "* marks a new best") {
		t.Errorf("no early stopping or legend in the output:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "run", "metrics.jsonl"))
	if err != nil || strings.Count(string(b), "\n") != 3 {
		t.Errorf("metrics.jsonl: %v\n%s", err, b)
	}
	code, out, errOut = runCmd("-config", cfg, "-resume", filepath.Join(dir, "run", "last.ckpt"))
	if code != 0 || !strings.Contains(out, "nothing to do: early stopping ended the run after epoch 3") {
		t.Errorf("resume of a stopped run: exit %d\n%s%s", code, out, errOut)
	}
}
