// Command bench measures training and inference throughput of the network
// on random data, the way ../shared/bench/torch_ref.py measures PyTorch's:
// a few warm-up steps, then -iters timed steps at batch size -batch.
//
// Its last two lines are exactly
//
//	train_img_per_s N
//	infer_img_per_s N
//
// after a line with the peak resident memory of the process and, with
// -device cuda, two lines with the device memory in use after 10 and
// after 200 training steps (device_mem_after_10_steps_mib,
// device_mem_after_200_steps_mib; the second only when that many steps
// ran: 3 warm-up steps plus -iters), and with -profile one line per kernel,
// "kernel NAME L launches T ms per training step P %", the longest first:
// each kernel timed alone (the device idle before and after it) over 10
// training steps, after the timed ones.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"github.com/cifar-resnet/trainer/cmd/internal/exitcode"
	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/trainer"
)

func main() {
	os.Exit(exitcode.Of("bench", run(os.Args[1:], os.Stdout), os.Stderr))
}

func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "take the model from this configuration (default: the reference network)")
	batch := fs.Int("batch", 128, "images per step")
	iters := fs.Int("iters", 20, "timed steps")
	devName := fs.String("device", "cpu", "where to compute: "+config.DeviceUsage)
	profile := fs.Bool("profile", false, "with -device cuda, also time each kernel on the GPU over 10 training steps (an event recorded before and after each launch) and print the times per step")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	if *batch <= 0 || *iters <= 0 {
		return fmt.Errorf("-batch and -iters must be positive")
	}
	dev, err := trainer.OpenDevice(*devName)
	if err != nil {
		return err
	}
	defer dev.Close()
	if *profile && dev.GPU == nil {
		return fmt.Errorf("-profile times the kernels of -device cuda, not of %s", *devName)
	}
	m, err := model.New(cfg.Model, 0)
	if err != nil {
		return err
	}
	m.Backend = dev.Backend()
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := m.Build(*batch, true)
	if err != nil {
		return dev.OutOfMemory(err, *batch, "-batch")
	}
	defer net.Close()
	x := net.Input()
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, *batch)
	for i := range labels {
		labels[i] = rng.IntN(dataset.NumClasses)
	}
	if err := net.SetLabels(labels, 0); err != nil {
		return err
	}
	// SGD with Nesterov momentum 0.9 and weight decay 5e-4, the default.
	optCfg := config.Default().Solver.Optimizer
	optCfg.LR = 0.05
	step, err := trainStep(dev, m, net, optCfg)
	if err != nil {
		return err
	}
	var mem []string
	steps := 0
	counted := func() error {
		if err := step(); err != nil {
			return dev.OutOfMemory(err, *batch, "-batch")
		}
		steps++
		if dev.GPU != nil && (steps == 10 || steps == 200) {
			if err := dev.GPU.Device().Synchronize(); err != nil {
				return err
			}
			free, total, err := dev.GPU.Device().MemInfo()
			if err != nil {
				return err
			}
			mem = append(mem, fmt.Sprintf("device_mem_after_%d_steps_mib %.1f", steps, float64(total-free)/(1<<20)))
		}
		return nil
	}
	trainRate, err := timeIt(3, *iters, *batch, counted, dev)
	if err != nil {
		return err
	}
	eval, err := m.Build(*batch, false)
	if err != nil {
		return dev.OutOfMemory(err, *batch, "-batch")
	}
	defer eval.Close()
	copy(eval.Input(), x)
	inferRate, err := timeIt(3, *iters, *batch, func() error { return dev.OutOfMemory(eval.Run(), *batch, "-batch") }, dev)
	if err != nil {
		return err
	}
	var prof []kernels.KernelTime
	const profSteps = 10
	if *profile && dev.GPU != nil {
		dev.GPU.Kernels().StartProfile()
		for range profSteps {
			if err := step(); err != nil {
				dev.GPU.Kernels().StopProfile()
				return dev.OutOfMemory(err, *batch, "-batch")
			}
		}
		if prof, err = dev.GPU.Kernels().StopProfile(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "go %s GOMAXPROCS=%d device=%s arch=%s params=%d batch=%d iters=%d\n",
		runtime.Version(), runtime.GOMAXPROCS(0), dev, model.TorchArch(cfg.Model), m.Capacity(), *batch, *iters)
	fmt.Fprintf(w, "peak_rss_mib %.1f\n", peakRSS())
	for _, l := range mem {
		fmt.Fprintln(w, l)
	}
	var total time.Duration
	for _, k := range prof {
		total += k.Time
	}
	for _, k := range prof {
		fmt.Fprintf(w, "kernel %-32s %5.1f launches %8.3f ms per training step %5.1f %%\n",
			k.Name, float64(k.Launches)/profSteps, k.Time.Seconds()*1000/profSteps, 100*k.Time.Seconds()/total.Seconds())
	}
	fmt.Fprintf(w, "train_img_per_s %.1f\n", trainRate)
	fmt.Fprintf(w, "infer_img_per_s %.1f\n", inferRate)
	return nil
}

// timeIt runs f warm times, then n timed times, and returns images/s;
// the timed steps end when the device's queued work has finished.
func timeIt(warm, n, batch int, f func() error, dev *trainer.Device) (float64, error) {
	for range warm {
		if err := f(); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for range n {
		if err := f(); err != nil {
			return 0, err
		}
	}
	if dev.GPU != nil {
		if err := dev.GPU.Device().Synchronize(); err != nil {
			return 0, err
		}
	}
	return float64(n*batch) / time.Since(start).Seconds(), nil
}

// trainStep returns one training step of net: a run, then the optimizer of
// optCfg at learning rate optCfg.LR, on the host or on the device.
func trainStep(dev *trainer.Device, m *model.Model, net *model.Net, optCfg config.Optimizer) (func() error, error) {
	params := trainer.ModelParams(m, optCfg)
	if dev.GPU != nil {
		opt, err := trainer.NewDeviceOptimizer(optCfg, dev.GPU)
		if err != nil {
			return nil, err
		}
		dp := make([]trainer.DeviceParam, len(params))
		return func() error {
			if err := net.Run(); err != nil {
				return err
			}
			trainer.DeviceParams(dp, params, m, net)
			return opt.Step(dp, optCfg.LR)
		}, nil
	}
	opt, err := trainer.NewOptimizer(optCfg)
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := net.Run(); err != nil {
			return err
		}
		for i := range params {
			params[i].Grad = net.Gradient(i)
		}
		opt.Step(params, optCfg.LR)
		return nil
	}, nil
}

// peakRSS returns the peak resident set size of the process in MiB, from
// /proc/self/status (0 where that is unavailable).
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb float64
		if _, err := fmt.Sscanf(sc.Text(), "VmHWM: %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}
