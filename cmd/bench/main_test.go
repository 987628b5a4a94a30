package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/cmd/internal/exitcode"
	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/gpu/gputest"
)

// TestOutput runs a tiny benchmark and checks the lines that
// bench/compare.sh reads.
func TestOutput(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-batch", "2", "-iters", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "params=43226") {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, key := range []string{"peak_rss_mib", "train_img_per_s", "infer_img_per_s"} {
		f := strings.Fields(lines[i+1])
		if len(f) != 2 || f[0] != key {
			t.Fatalf("line %d = %q, want %q N", i+2, lines[i+1], key)
		}
		if v, err := strconv.ParseFloat(f[1], 64); err != nil || v <= 0 {
			t.Errorf("%s = %q, want a positive number", key, f[1])
		}
	}
	if err := run([]string{"-iters", "0"}, &out); err == nil {
		t.Error("-iters 0 accepted")
	}
}

func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := exitcode.Of("bench", run([]string{"-h"}, &out), &errOut); code != 0 || errOut.Len() != 0 {
		t.Errorf("-h: exit %d, printed %q", code, errOut.String())
	}
	if code := exitcode.Of("bench", run([]string{"-nosuchflag"}, &out), &errOut); code != 1 || !strings.HasPrefix(errOut.String(), "bench: ") {
		t.Errorf("-nosuchflag: exit %d, printed %q", code, errOut.String())
	}
}

// TestDeviceOutput runs a tiny benchmark (a network 2 channels wide, one
// image a step, so that the emulator is quick) with -device cuda on the
// device gputest.Backend picks (a GPU, else the CPU emulator): it reports
// the device and the device memory after 10 steps.
func TestDeviceOutput(t *testing.T) {
	device(t)
	cfg := tinyConfig(t)
	var out bytes.Buffer
	if err := run([]string{"-config", cfg, "-device", "cuda", "-batch", "1", "-iters", "8"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[0], "device=cuda:0") {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, key := range []string{"peak_rss_mib", "device_mem_after_10_steps_mib", "train_img_per_s", "infer_img_per_s"} {
		f := strings.Fields(lines[i+1])
		if len(f) != 2 || f[0] != key {
			t.Fatalf("line %d = %q, want %q N", i+2, lines[i+1], key)
		}
		if v, err := strconv.ParseFloat(f[1], 64); err != nil || v <= 0 {
			t.Errorf("%s = %q, want a positive number", key, f[1])
		}
	}
}

// device returns the kind of the device the tests share
// (gputest.Backend), skipping the test when the machine has neither a GPU
// nor a compiler for the emulator.
func device(t *testing.T) string {
	t.Helper()
	_, kind := gputest.Backend(t)
	return kind
}

// tinyConfig writes the configuration of a network 2 channels wide, so
// that the emulator is quick, and returns its path.
func tinyConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "tiny.yaml")
	tiny := "model:\n  stem_channels: 2\n  stages:\n    - {channels: 2, blocks: 1, stride: 2}\n"
	if err := os.WriteFile(cfg, []byte(tiny), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDeviceOutOfMemory asks the emulator (1 GiB of device memory) for a
// batch that does not fit: bench must fail with an error that names the
// batch size and -batch, not crash.
func TestDeviceOutOfMemory(t *testing.T) {
	if device(t) != "CPU emulator" {
		t.Skip("a GPU has more memory than this test can fill quickly")
	}
	var out bytes.Buffer
	err := run([]string{"-device", "cuda", "-batch", "100000", "-iters", "1"}, &out)
	want := "out of device memory on cuda:0 (CUDA emulator (CPU), compute 9.0, 1.0 GiB) at batch size 100000; lower -batch: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, cuda.ErrorOutOfMemory) {
		t.Fatalf("batch 100000 on the emulator: got %v, want an error starting %q", err, want)
	}
}

// TestDeviceProfile runs the tiny benchmark of TestDeviceOutput with
// -profile: one line per kernel, every kernel of a training step there,
// the shares adding up to 100 %.
func TestDeviceProfile(t *testing.T) {
	device(t)
	cfg := tinyConfig(t)
	var out bytes.Buffer
	if err := run([]string{"-config", cfg, "-device", "cuda", "-batch", "1", "-iters", "1", "-profile"}, &out); err != nil {
		t.Fatal(err)
	}
	kernels := map[string]float64{}
	share := 0.0
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "kernel" {
			continue
		}
		// kernel NAME L launches T ms per training step P %
		if len(f) != 11 || f[3] != "launches" || f[10] != "%" {
			t.Fatalf("line %q", l)
		}
		n, err1 := strconv.ParseFloat(f[2], 64)
		p, err2 := strconv.ParseFloat(f[9], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("line %q: %v, %v", l, err1, err2)
		}
		kernels[f[1]] = n
		share += p
	}
	// The stem, then one block of two 3×3 convolutions and a 1×1
	// projection: 4 forward convolutions and 3 data gradients (the stem
	// has none) per step, all with 16-row tiles (2 channels).
	if kernels["conv_forward_m16_f32"] != 4 || kernels["conv_backward_data_m16_f32"] != 3 || kernels["sgd_f32"] == 0 {
		t.Errorf("launches per step: %v", kernels)
	}
	if share < 99.5 || share > 100.5 {
		t.Errorf("the shares add up to %.1f %%", share)
	}
	if err := run([]string{"-profile"}, &out); err == nil || err.Error() != "-profile times the kernels of -device cuda, not of cpu" {
		t.Errorf("-profile on the CPU: %v", err)
	}
}
