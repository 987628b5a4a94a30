package main

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/emu"
	"github.com/cifar-resnet/trainer/trainer/history"
)

// emulatorEnv names, for a test binary started as the trainer (beMainEnv),
// the CUDA emulator library it loads in place of libcuda.so.1.
const emulatorEnv = "TRAINER_TEST_CUDA_EMULATOR"

// TestCommandsOnDevice runs the trainer's commands with -device cuda as a
// user would, in a process of their own: on the GPU where there is one,
// else on the CPU emulator. Training on the device must give the CPU's
// losses (within float rounding: the emulator's differ from the CPU's by
// about 1e-9), its checkpoint must resume on the CPU, and trainer test
// must give the same accuracy on both devices.
func TestCommandsOnDevice(t *testing.T) {
	env := append(os.Environ(), beMainEnv+"=1")
	// The emulator computes as the CPU does, but for the order of some
	// sums; a GPU also fuses multiply-adds.
	tol := 1e-6
	if dev, err := cuda.Open(0); err == nil {
		dev.Close()
		tol = 1e-3
	} else {
		lib, err := emu.Build()
		emu.Require(t, err)
		env = append(env, emulatorEnv+"="+lib)
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeConfig(t, dir, tinyConfig(tinyData(t, dir), "tiny", 2))
	trainer := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("trainer %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := trainer("-config", "c.yaml", "-device", "cuda", "-set", "output.name=gpu")
	if !strings.Contains(out, "\ndevice: cuda:0 (") {
		t.Errorf("the cuda run does not name its GPU:\n%s", out)
	}
	trainer("-config", "c.yaml", "-device", "cpu", "-set", "output.name=cpu")
	gpu, err := history.Read(filepath.Join(dir, "runs", "gpu", history.File))
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := history.Read(filepath.Join(dir, "runs", "cpu", history.File))
	if err != nil {
		t.Fatal(err)
	}
	if len(gpu.Loss) != 2 || len(cpu.Loss) != 2 {
		t.Fatalf("epochs: %d on the device, %d on the CPU; want 2 each", len(gpu.Loss), len(cpu.Loss))
	}
	for e := range 2 {
		for _, c := range []struct {
			name     string
			gpu, cpu float64
		}{{"loss", gpu.Loss[e], cpu.Loss[e]}, {"val_loss", gpu.ValLoss[e], cpu.ValLoss[e]}} {
			if d := math.Abs(c.gpu-c.cpu) / c.cpu; !(d <= tol) {
				t.Errorf("epoch %d %s: %v on the device, %v on the CPU", e+1, c.name, c.gpu, c.cpu)
			}
		}
	}

	// The device's checkpoint resumes on the CPU for a third epoch.
	out = trainer("-config", "c.yaml", "-device", "cpu", "-set", "output.name=gpu", "-set", "solver.epochs=3",
		"-allow-schedule-change", "-resume", filepath.Join("runs", "gpu", "last.ckpt"))
	if !strings.Contains(out, "resumed from runs/gpu/last.ckpt") || !strings.Contains(out, "epoch 3/3") {
		t.Errorf("resuming the device's run on the CPU:\n%s", out)
	}

	// trainer test gives the same accuracy on both devices.
	best := filepath.Join("models", "gpu.ckpt")
	var acc []string
	for _, d := range []string{"cuda", "cpu"} {
		out := trainer("test", "-checkpoint", best, "-data", "data", "-split", "val", "-device", d)
		i := strings.Index(out, "val accuracy: ")
		if i < 0 {
			t.Fatalf("trainer test -device %s printed no accuracy:\n%s", d, out)
		}
		acc = append(acc, strings.SplitN(out[i:], "\n", 2)[0])
	}
	if acc[0] != acc[1] {
		t.Errorf("trainer test: %q on the device, %q on the CPU", acc[0], acc[1])
	}
}
