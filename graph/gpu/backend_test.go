package gpu_test

// Every Backend method is run on random data on the device emu.OpenDevice
// picks (a GPU where there is one, else the CPU emulator) and compared
// with the CPU backend of package graph/cpu on the same data.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/graph/cpu"
	"github.com/cifar-resnet/trainer/graph/cuda/emu"
	"github.com/cifar-resnet/trainer/graph/gpu"
)

var (
	be      *gpu.Backend
	kind    string // "GPU" or "CPU emulator"
	openErr error
)

func TestMain(m *testing.M) {
	if os.Getenv(openChild) != "" {
		// TestOpenWithoutDriver's child: Open with only the machine's own
		// driver, if any.
		b, err := gpu.Open(0)
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		fmt.Println(b.Device())
		os.Exit(0)
	}
	dev, k, err := emu.OpenDevice()
	kind = k
	if err == nil {
		be, err = gpu.New(dev)
	}
	openErr = err
	code := m.Run()
	if be != nil {
		if err := be.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// openChild names the environment variable that makes the test binary
// call gpu.Open and exit.
const openChild = "GPU_TEST_OPEN_CHILD"

// TestOpenWithoutGPU runs gpu.Open in a child process, where the emulator
// is not installed: on a machine without the NVIDIA driver, or with the
// driver but no GPU, it must fail with an error that says which and how to
// go on.
func TestOpenWithoutGPU(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), openChild+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Skipf("this machine has a GPU: %s", out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("child: %v, output %q", err, out)
	}
	noDriver := "device cuda: cuda: libcuda.so.1 not found: no NVIDIA driver on this machine (device: cuda needs one); use device: cpu\n"
	noGPU := "device cuda: cuda: the NVIDIA driver (libcuda.so.1) is installed but finds no GPU (cuda: cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected); use device: cpu\n"
	if got := string(out); got != noDriver && got != noGPU {
		t.Errorf("Open without a GPU: %q, want %q or %q", got, noDriver, noGPU)
	}
}

// device returns the backend, skipping the test when the machine has
// neither a GPU nor a compiler for the emulator.
func device(tb testing.TB) *gpu.Backend {
	tb.Helper()
	emu.Require(tb, openErr)
	return be
}

// pair is a tensor on the host and its copy on the device.
type pair struct{ h, d *tensor.Dense }

// tensors makes host/device pairs of one backend under test.
type tensors struct {
	t   *testing.T
	e   *gpu.Engine
	rng *rand.Rand
}

// random returns a pair of float32 tensors of shape with values in
// [-1, 1).
func (ts tensors) random(shape ...int) pair {
	h := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	for i := range h.Data().([]float32) {
		h.Data().([]float32)[i] = ts.rng.Float32()*2 - 1
	}
	return ts.copy(h)
}

// positive returns a pair of float32 tensors with values in [0.5, 1.5).
func (ts tensors) positive(shape ...int) pair {
	p := ts.random(shape...)
	for i, v := range p.h.Data().([]float32) {
		p.h.Data().([]float32)[i] = 1 + v/2
	}
	return ts.copy(p.h)
}

// zeros returns a pair of tensors of dtype dt holding zeros (the device
// one filled with NaN, so that an element a kernel leaves unwritten shows).
func (ts tensors) zeros(dt tensor.Dtype, shape ...int) pair {
	h := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	d, err := ts.e.NewTensor(dt, shape...)
	if err != nil {
		ts.t.Fatal(err)
	}
	nan := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	switch v := nan.Data().(type) {
	case []float32:
		for i := range v {
			v[i] = float32(math.NaN())
		}
	case []float64:
		for i := range v {
			v[i] = math.NaN()
		}
	}
	if err := ts.e.Upload(d, nan.Data()); err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { ts.e.Release(d) })
	return pair{h, d}
}

// copy returns h and a device copy of it.
func (ts tensors) copy(h *tensor.Dense) pair {
	d, err := ts.e.ToDevice(h)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { ts.e.Release(d) })
	return pair{h, d}
}

// check compares the device tensor of p with its host tensor: relative
// error ≤ 1e-4 of the largest magnitude of the host values.
func (ts tensors) check(name string, p pair) {
	ts.t.Helper()
	got, err := ts.e.ToHost(p.d)
	if err != nil {
		ts.t.Fatal(err)
	}
	want, have := float64s(p.h), float64s(got)
	scale := 1e-30
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	worst, at := 0.0, 0
	for i := range want {
		if e := math.Abs(have[i]-want[i]) / scale; e > worst || math.IsNaN(e) {
			worst, at = e, i
			if math.IsNaN(e) {
				break
			}
		}
	}
	if worst > 1e-4 || math.IsNaN(worst) {
		ts.t.Errorf("%s: element %d is %v on the device, %v on the CPU (relative error %.3g > 1e-4)", name, at, have[at], want[at], worst)
	}
}

func float64s(d *tensor.Dense) []float64 {
	switch v := d.Data().(type) {
	case []float32:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), v...)
	}
	panic(fmt.Sprintf("dtype %v", d.Dtype()))
}

func newTensors(t *testing.T, seed uint64) tensors {
	return tensors{t: t, e: device(t).Engine(), rng: rand.New(rand.NewPCG(seed, 7))}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestConv(t *testing.T) {
	b, c := device(t), cpu.New()
	for _, g := range []backend.ConvGeom{
		backend.NewConvGeom(2, 3, 5, 5, 4, 3, 1, 1),
		backend.NewConvGeom(2, 3, 6, 6, 5, 3, 2, 1),
		backend.NewConvGeom(2, 4, 5, 5, 3, 1, 2, 0),
		// 2,048 output positions: the filter gradient is summed in two slices.
		backend.NewConvGeom(2, 2, 32, 32, 2, 3, 1, 1),
		// 16 channels on 16×16 images: the direct 3×3 kernel computes the
		// forward pass and the data gradient.
		backend.NewConvGeom(2, 16, 16, 16, 16, 3, 1, 1),
	} {
		t.Run(fmt.Sprintf("%+v", g), func(t *testing.T) {
			ts := newTensors(t, uint64(g.N*100+g.C*10+g.K))
			x, w := ts.random(g.N, g.C, g.H, g.W), ts.random(g.K, g.C, g.R, g.R)
			dy := ts.random(g.N, g.K, g.OH, g.OW)
			y := ts.zeros(tensor.Float32, g.N, g.K, g.OH, g.OW)
			must(t, "cpu", c.Conv2D(x.h, w.h, y.h, g))
			must(t, "gpu", b.Conv2D(x.d, w.d, y.d, g))
			ts.check("Conv2D", y)
			dx := ts.zeros(tensor.Float32, g.N, g.C, g.H, g.W)
			must(t, "cpu", c.Conv2DBackwardData(w.h, dy.h, dx.h, g))
			must(t, "gpu", b.Conv2DBackwardData(w.d, dy.d, dx.d, g))
			ts.check("Conv2DBackwardData", dx)
			dw := ts.zeros(tensor.Float32, g.K, g.C, g.R, g.R)
			must(t, "cpu", c.Conv2DBackwardFilter(x.h, dy.h, dw.h, g))
			must(t, "gpu", b.Conv2DBackwardFilter(x.d, dy.d, dw.d, g))
			ts.check("Conv2DBackwardFilter", dw)

			gamma, beta := ts.random(g.K), ts.random(g.K)
			mean, vr := ts.random(g.K), ts.positive(g.K)
			for _, skip := range []bool{false, true} {
				var sk pair
				if skip {
					sk = ts.random(g.N, g.K, g.OH, g.OW)
				}
				relu := skip
				y := ts.zeros(tensor.Float32, g.N, g.K, g.OH, g.OW)
				must(t, "cpu", c.Conv2DBNEval(x.h, w.h, gamma.h, beta.h, sk.h, y.h, g, backend.BNRunning{Mean: mean.h, Var: vr.h, Momentum: 0.1, Epsilon: 1e-5}, relu))
				must(t, "gpu", b.Conv2DBNEval(x.d, w.d, gamma.d, beta.d, sk.d, y.d, g, backend.BNRunning{Mean: mean.d, Var: vr.d, Momentum: 0.1, Epsilon: 1e-5}, relu))
				ts.check(fmt.Sprintf("Conv2DBNEval (skip %v)", skip), y)
			}
		})
	}
}

func TestBatchNorm(t *testing.T) {
	b, c := device(t), cpu.New()
	const n, ch, h, w = 3, 4, 3, 5
	for _, relu := range []bool{false, true} {
		t.Run(fmt.Sprint("relu=", relu), func(t *testing.T) {
			ts := newTensors(t, 11)
			x, gamma, beta, dy := ts.random(n, ch, h, w), ts.random(ch), ts.random(ch), ts.random(n, ch, h, w)
			mean, vr := ts.random(ch), ts.positive(ch)
			st := func(m, v pair, dev bool) backend.BNRunning {
				if dev {
					return backend.BNRunning{Mean: m.d, Var: v.d, Momentum: 0.1, Epsilon: 1e-5}
				}
				return backend.BNRunning{Mean: m.h, Var: v.h, Momentum: 0.1, Epsilon: 1e-5}
			}
			y := ts.zeros(tensor.Float32, n, ch, h, w)
			must(t, "cpu", c.BatchNormEval(x.h, gamma.h, beta.h, y.h, st(mean, vr, false), relu))
			must(t, "gpu", b.BatchNormEval(x.d, gamma.d, beta.d, y.d, st(mean, vr, true), relu))
			ts.check("BatchNormEval", y)

			sm, si := ts.zeros(tensor.Float64, ch), ts.zeros(tensor.Float64, ch)
			must(t, "cpu", c.BatchNormTrain(x.h, gamma.h, beta.h, y.h, st(mean, vr, false), backend.BNSaved{Mean: sm.h, InvStd: si.h}, relu))
			must(t, "gpu", b.BatchNormTrain(x.d, gamma.d, beta.d, y.d, st(mean, vr, true), backend.BNSaved{Mean: sm.d, InvStd: si.d}, relu))
			ts.check("BatchNormTrain y", y)
			ts.check("BatchNormTrain saved mean", sm)
			ts.check("BatchNormTrain saved invstd", si)
			ts.check("BatchNormTrain running mean", mean)
			ts.check("BatchNormTrain running variance", vr)

			var yr pair
			if relu {
				yr = y
			}
			sums := ts.zeros(tensor.Float64, 2, ch)
			dg, db := ts.zeros(tensor.Float32, ch), ts.zeros(tensor.Float32, ch)
			must(t, "cpu", c.BatchNormBackwardSums(x.h, dy.h, yr.h, backend.BNSaved{Mean: sm.h, InvStd: si.h}, sums.h, dg.h, db.h))
			must(t, "gpu", b.BatchNormBackwardSums(x.d, dy.d, yr.d, backend.BNSaved{Mean: sm.d, InvStd: si.d}, sums.d, dg.d, db.d))
			ts.check("BatchNormBackwardSums", sums)
			ts.check("BatchNormBackwardSums dgamma", dg)
			ts.check("BatchNormBackwardSums dbeta", db)
			dx := ts.zeros(tensor.Float32, n, ch, h, w)
			must(t, "cpu", c.BatchNormBackwardData(x.h, gamma.h, dy.h, yr.h, backend.BNSaved{Mean: sm.h, InvStd: si.h}, sums.h, dx.h))
			must(t, "gpu", b.BatchNormBackwardData(x.d, gamma.d, dy.d, yr.d, backend.BNSaved{Mean: sm.d, InvStd: si.d}, sums.d, dx.d))
			ts.check("BatchNormBackwardData", dx)
		})
	}
}

func TestElementwiseAndPool(t *testing.T) {
	b, c := device(t), cpu.New()
	ts := newTensors(t, 3)
	a, bb, dy := ts.random(2, 3, 4, 5), ts.random(2, 3, 4, 5), ts.random(2, 3, 4, 5)
	y := ts.zeros(tensor.Float32, 2, 3, 4, 5)
	must(t, "cpu", c.AddReLU(a.h, nil, y.h))
	must(t, "gpu", b.AddReLU(a.d, nil, y.d))
	ts.check("AddReLU (no b)", y)
	must(t, "cpu", c.AddReLU(a.h, bb.h, y.h))
	must(t, "gpu", b.AddReLU(a.d, bb.d, y.d))
	ts.check("AddReLU", y)
	dx := ts.zeros(tensor.Float32, 2, 3, 4, 5)
	must(t, "cpu", c.ReLUBackward(y.h, dy.h, dx.h))
	must(t, "gpu", b.ReLUBackward(y.d, dy.d, dx.d))
	ts.check("ReLUBackward", dx)

	p := ts.zeros(tensor.Float32, 2, 3)
	must(t, "cpu", c.GlobalAvgPool(a.h, p.h))
	must(t, "gpu", b.GlobalAvgPool(a.d, p.d))
	ts.check("GlobalAvgPool", p)
	dp := ts.random(2, 3)
	must(t, "cpu", c.GlobalAvgPoolBackward(dp.h, dx.h))
	must(t, "gpu", b.GlobalAvgPoolBackward(dp.d, dx.d))
	ts.check("GlobalAvgPoolBackward", dx)
}

func TestDenseAndLoss(t *testing.T) {
	b, c := device(t), cpu.New()
	ts := newTensors(t, 5)
	const n, in, out = 5, 7, 10
	x, w, bias, dy := ts.random(n, in), ts.random(out, in), ts.random(out), ts.random(n, out)
	y := ts.zeros(tensor.Float32, n, out)
	must(t, "cpu", c.Dense(x.h, w.h, bias.h, y.h))
	must(t, "gpu", b.Dense(x.d, w.d, bias.d, y.d))
	ts.check("Dense", y)
	dx, dw, db := ts.zeros(tensor.Float32, n, in), ts.zeros(tensor.Float32, out, in), ts.zeros(tensor.Float32, out)
	must(t, "cpu", c.DenseBackward(x.h, w.h, dy.h, dx.h, dw.h, db.h))
	must(t, "gpu", b.DenseBackward(x.d, w.d, dy.d, dx.d, dw.d, db.d))
	ts.check("DenseBackward dx", dx)
	ts.check("DenseBackward dw", dw)
	ts.check("DenseBackward db", db)

	targets := ts.positive(n, out)
	for _, tc := range []struct {
		temp float64
		kl   bool
	}{{1, false}, {3, true}} {
		want, err := c.SoftmaxCrossEntropy(y.h, targets.h, tc.temp, tc.kl)
		must(t, "cpu", err)
		got, err := b.SoftmaxCrossEntropy(y.d, targets.d, tc.temp, tc.kl)
		must(t, "gpu", err)
		if !(math.Abs(got-want) <= 1e-4*math.Abs(want)) {
			t.Errorf("SoftmaxCrossEntropy(t=%v, kl=%v) = %v on the device, %v on the CPU", tc.temp, tc.kl, got, want)
		}
		d := ts.zeros(tensor.Float32, n, out)
		must(t, "cpu", c.SoftmaxCrossEntropyBackward(y.h, targets.h, 0.5, tc.temp, d.h))
		must(t, "gpu", b.SoftmaxCrossEntropyBackward(y.d, targets.d, 0.5, tc.temp, d.d))
		ts.check(fmt.Sprintf("SoftmaxCrossEntropyBackward(t=%v)", tc.temp), d)
	}
}

// TestHostTensorRejected checks that a host tensor given to the device
// backend is an error naming the argument, not a crash.
func TestHostTensorRejected(t *testing.T) {
	b := device(t)
	ts := newTensors(t, 9)
	a := ts.random(2, 3)
	y := ts.zeros(tensor.Float32, 2, 3)
	err := b.AddReLU(a.h, nil, y.d)
	if err == nil || err.Error() != "gpu: a (shape (2, 3)) is not a tensor of this device" {
		t.Errorf("AddReLU with a host input: error %v", err)
	}
	x64 := ts.zeros(tensor.Float64, 2, 3)
	err = b.AddReLU(x64.d, nil, y.d)
	if err == nil || err.Error() != "gpu: a has dtype float64, want float32" {
		t.Errorf("AddReLU with a float64 input: error %v", err)
	}
}

// TestHostTensors checks the page-locked host tensors: zeroed, of the
// dtype and shape asked for, copied to and from device tensors, counted by
// HostAllocated until released, and ReleaseHost refusing other tensors.
func TestHostTensors(t *testing.T) {
	b := device(t)
	e := b.Engine()
	before := e.HostAllocated()
	h, err := b.NewHostTensor(tensor.Float32, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.HostAllocated() - before; got != 24 {
		t.Errorf("HostAllocated grew by %d bytes for 6 float32s, want 24", got)
	}
	if h.Dtype() != tensor.Float32 || !h.Shape().Eq(tensor.Shape{2, 3}) || b.Holds(h) {
		t.Errorf("host tensor: dtype %v, shape %v, device tensor %v", h.Dtype(), h.Shape(), b.Holds(h))
	}
	data := h.Data().([]float32)
	if want := make([]float32, 6); !slices.Equal(data, want) {
		t.Errorf("fresh host tensor: %v, want zeros", data)
	}
	d, err := b.NewTensor(tensor.Float32, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	stages := gpu.Stages(e)
	// Uploads from a host tensor go through a staging buffer of d, made
	// once; each must land in order with the kernels.
	for _, c := range []struct{ in, want []float32 }{
		{[]float32{1, -2, 3, 4, 5.5, 6}, []float32{1, 0, 3, 4, 5.5, 6}},
		{[]float32{-1, 2, -3, 0.5, -5.5, 7}, []float32{0, 2, 0, 0.5, 0, 7}},
	} {
		copy(data, c.in)
		must(t, "upload", b.Upload(d, data))
		must(t, "relu", b.AddReLU(d, nil, d))
		must(t, "download", b.Download(data, d))
		if !slices.Equal(data, c.want) {
			t.Errorf("ReLU of %v through a host tensor: %v, want %v", c.in, data, c.want)
		}
		if got := gpu.Stages(e) - stages; got != 1 {
			t.Errorf("%d staging buffers made for uploads from a host tensor into one tensor, want 1", got)
		}
	}
	// An upload from Go memory needs none.
	must(t, "upload", b.Upload(d, []float32{1, 2, 3, 4, 5, 6}))
	must(t, "download", b.Download(data, d))
	if want := []float32{1, 2, 3, 4, 5, 6}; !slices.Equal(data, want) {
		t.Errorf("upload from Go memory: %v, want %v", data, want)
	}
	must(t, "release", b.Release(d))
	if got := gpu.Stages(e); got != stages {
		t.Errorf("%d staging buffers after releasing the tensor, want %d", got, stages)
	}
	must(t, "release", b.ReleaseHost(h))
	if got := e.HostAllocated(); got != before {
		t.Errorf("HostAllocated %d after release, want %d", got, before)
	}
	want := "gpu: tensor (shape (2, 3)) is not a host tensor of this device"
	if err := b.ReleaseHost(h); err == nil || err.Error() != want {
		t.Errorf("second ReleaseHost: %v, want %q", err, want)
	}
	if err := b.ReleaseHost(tensor.New(tensor.WithShape(2, 3), tensor.Of(tensor.Float32))); err == nil || err.Error() != want {
		t.Errorf("ReleaseHost of a Go tensor: %v, want %q", err, want)
	}
	if _, err := b.NewHostTensor(tensor.Uint8, 4); err == nil || err.Error() != "gpu: host tensor of dtype uint8: want float32, float64 or int32" {
		t.Errorf("NewHostTensor(uint8): %v", err)
	}
}
