package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cuda"
)

// TestDeviceCudaWithoutGPU asks for device cuda, with -device and with
// the configuration key, on a machine without a GPU: training must exit
// with an error naming what is missing before anything else (no run
// folder is created).
func TestDeviceCudaWithoutGPU(t *testing.T) {
	if dev, err := cuda.Open(0); err == nil {
		dev.Close()
		t.Skipf("this machine has a GPU: %v", dev)
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	cfg := writeConfig(t, dir, "data:\n  dir: "+filepath.Join(dir, "data")+"\n  download: false\noutput:\n  checkpoint_dir: "+run+"\n")
	missing := []string{"no NVIDIA driver on this machine", "is installed but finds no GPU"}
	for _, args := range [][]string{
		{"-config", cfg, "-device", "cuda"},
		{"-config", cfg, "-set", "device=cuda"},
	} {
		code, _, errOut := runCmd(args...)
		if code != exitError || !strings.Contains(errOut, "device cuda: ") || !(strings.Contains(errOut, missing[0]) || strings.Contains(errOut, missing[1])) {
			t.Errorf("%v: exit %d, stderr %q: want the missing driver or GPU named", args, code, errOut)
		}
		if _, err := os.Stat(run); !os.IsNotExist(err) {
			t.Errorf("%v: the run folder exists (%v): something ran before the device was opened", args, err)
		}
	}
	if code, _, errOut := runCmd("-config", cfg, "-device", "tpu"); code != exitError || !strings.Contains(errOut, `unknown device "tpu" (want cpu or cuda, or cuda:N for GPU N)`) {
		t.Errorf("-device tpu: exit %d, stderr %q", code, errOut)
	}
}
