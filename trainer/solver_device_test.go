package trainer

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
)

// deviceConfig is a network 2 channels wide and one epoch of 4 batches of
// 4 images, small enough for the emulator.
func deviceConfig(dir, name string) config.Config {
	cfg := tinyConfig(dir)
	cfg.Model.StemChannels = 2
	cfg.Model.Stages = []config.Stage{{Channels: 2, Blocks: 1, Stride: 2}}
	cfg.Solver.BatchSize = 4
	cfg.Solver.Epochs = 2
	cfg.Solver.NumTrainSamples = 8
	cfg.Output.Name = name
	cfg.Output.CheckpointDir = filepath.Join(dir, name)
	cfg.Output.ModelsDir = filepath.Join(dir, name+"-models")
	return cfg
}

// deviceSolver returns a solver of cfg on the device (gpu) or the CPU.
func deviceSolver(t *testing.T, cfg config.Config, gpu bool) *Solver {
	t.Helper()
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if gpu {
		m.Backend = deviceBackend(t)
	}
	s, err := NewSolver(cfg, m, colourSet(16, 1), colourSet(10, 2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestSolverOnDevice trains the same run on the CPU and on the device (the
// emulator without a GPU) and compares the epochs' losses and accuracies;
// then a checkpoint written on the device resumes on the CPU, and one
// written on the CPU resumes on the device, each finishing as the
// uninterrupted CPU run does.
func TestSolverOnDevice(t *testing.T) {
	deviceBackend(t)
	dir := t.TempDir()
	ctx := context.Background()
	cpu := deviceSolver(t, deviceConfig(dir, "cpu"), false)
	if err := cpu.Train(ctx, 2); err != nil {
		t.Fatal(err)
	}
	dev := deviceSolver(t, deviceConfig(dir, "dev"), true)
	if err := dev.Train(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cpu1 := deviceSolver(t, deviceConfig(dir, "cpu1"), false)
	if err := cpu1.Train(ctx, 1); err != nil {
		t.Fatal(err)
	}
	close := func(what string, got, want float64) {
		t.Helper()
		if !(math.Abs(got-want) <= 1e-3*math.Abs(want)+1e-9) {
			t.Errorf("%s: %v, want %v (the CPU run's)", what, got, want)
		}
	}
	close("device epoch 1 loss", dev.History.Loss[0], cpu.History.Loss[0])
	close("device epoch 1 validation loss", dev.History.ValLoss[0], cpu.History.ValLoss[0])
	close("device epoch 1 validation accuracy", dev.History.ValAcc[0], cpu.History.ValAcc[0])

	// Across devices: device → CPU and CPU → device.
	for _, c := range []struct {
		name, from string
		gpu        bool
	}{{"dev-to-cpu", "dev", false}, {"cpu-to-dev", "cpu1", true}} {
		cfg := deviceConfig(dir, c.name)
		s := deviceSolver(t, cfg, c.gpu)
		if err := s.Resume(filepath.Join(dir, c.from, "last.ckpt")); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := s.Train(ctx, 1); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if s.Epoch != 2 {
			t.Fatalf("%s: at epoch %d after resuming and training one epoch", c.name, s.Epoch)
		}
		close(c.name+": epoch 2 loss", s.History.Loss[1], cpu.History.Loss[1])
		close(c.name+": epoch 2 validation loss", s.History.ValLoss[1], cpu.History.ValLoss[1])
	}
}
