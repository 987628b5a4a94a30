package trainer

import (
	"reflect"
	"testing"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph/gpu"
	"github.com/cifar-resnet/trainer/graph/gpu/gputest"
)

// deviceBackend returns the backend the tests share (gputest.Backend): a
// GPU where there is one, else the CPU emulator.
func deviceBackend(t *testing.T) *gpu.Backend {
	t.Helper()
	be, _ := gputest.Backend(t)
	return be
}

// toDevice returns a device copy of v.
func toDevice(t *testing.T, be *gpu.Backend, v []float32) *tensor.Dense {
	t.Helper()
	d, err := be.Engine().ToDevice(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float32(nil), v...))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Engine().Release(d) })
	return d
}

// TestDeviceOptimizerMatchesHost steps two parameters, one decaying, three
// times with each optimizer on the device and on the host and requires
// bit-identical weights and state. After the second step both are
// rewound to the state of the first, which the device optimizer must then
// report, and the third step must still agree.
func TestDeviceOptimizerMatchesHost(t *testing.T) {
	be := deviceBackend(t)
	cfgs := []config.Optimizer{
		{Name: "sgd", WeightDecay: 0.1},
		{Name: "sgd", Momentum: 0.9, WeightDecay: 0.1},
		{Name: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 0.1},
		{Name: "adam", Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.1},
		{Name: "adamw", Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.1},
	}
	w := [][]float32{{1, -2, 0.5, 0.25, 3}, {0.125, -0.75}}
	grads := [][][]float32{
		{{0.5, -1, 2, 0.1, -0.3}, {1, -0.5}},
		{{1, 0.25, -0.5, 0.7, 0.2}, {-0.25, 0.5}},
		{{-0.5, 0.5, 1, -0.1, 0.9}, {0.75, 0.125}},
	}
	lrs := []float64{0.1, 0.05, 0.025}
	for _, cfg := range cfgs {
		t.Run(cfg.Name, func(t *testing.T) {
			hostOpt := newOpt(t, cfg)
			cfg.LR = 0.1
			if cfg.Epsilon == 0 {
				cfg.Epsilon = 1e-8
			}
			devOpt, err := NewDeviceOptimizer(cfg, be)
			if err != nil {
				t.Fatal(err)
			}
			defer devOpt.Close()
			hp := []Param{{Name: "a", Data: append([]float32(nil), w[0]...), Decay: true}, {Name: "b", Data: append([]float32(nil), w[1]...)}}
			dp := []DeviceParam{{Name: "a", Data: toDevice(t, be, w[0]), Decay: true}, {Name: "b", Data: toDevice(t, be, w[1])}}
			var first OptimizerState
			for s, g := range grads {
				for i := range hp {
					hp[i].Grad = g[i]
					dp[i].Grad = toDevice(t, be, g[i])
				}
				hostOpt.Step(hp, lrs[s])
				if err := devOpt.Step(dp, lrs[s]); err != nil {
					t.Fatal(err)
				}
				for i := range hp {
					got := make([]float32, len(hp[i].Data))
					if err := be.Engine().Download(got, dp[i].Data); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, hp[i].Data) {
						t.Errorf("step %d, %s: %v on the device, %v on the host", s+1, hp[i].Name, got, hp[i].Data)
					}
				}
				ds, err := devOpt.State()
				if err != nil {
					t.Fatal(err)
				}
				if hs := hostOpt.State(); !reflect.DeepEqual(ds, hs) {
					t.Errorf("step %d: state %+v on the device, %+v on the host", s+1, ds, hs)
				}
				switch s {
				case 0:
					first = hostOpt.State()
				case 1:
					// Rewind both optimizers to the state of the first step.
					if err := devOpt.SetState(first); err != nil {
						t.Fatal(err)
					}
					if got := ds1(t, devOpt); !reflect.DeepEqual(got, first) {
						t.Errorf("state %+v after SetState(%+v)", got, first)
					}
					if err := hostOpt.SetState(first); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// ds1 returns the device optimizer's state.
func ds1(t *testing.T, o *DeviceOptimizer) OptimizerState {
	t.Helper()
	s, err := o.State()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDeviceOptimizerRejects checks the errors for parameters that are
// not device tensors and for a layout other than the state's.
func TestDeviceOptimizerRejects(t *testing.T) {
	be := deviceBackend(t)
	o, err := NewDeviceOptimizer(config.Optimizer{Name: "sgd", LR: 0.1, Momentum: 0.9, Epsilon: 1e-8}, be)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	host := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, 2}))
	err = o.Step([]DeviceParam{{Name: "w", Data: host, Grad: host}}, 0.1)
	if err == nil || err.Error() != `optimizer sgd: parameter "w": values and gradient must be float32 tensors of the device` {
		t.Errorf("host parameter: error %v", err)
	}
	p := []DeviceParam{{Name: "w", Data: toDevice(t, be, []float32{1, 2}), Grad: toDevice(t, be, []float32{1, 2})}}
	if err := o.Step(p, 0.1); err != nil {
		t.Fatal(err)
	}
	p[0].Name = "v"
	err = o.Step(p, 0.1)
	if err == nil || err.Error() != `optimizer sgd: parameter 0 is "v" of length 2, state has "w" of length 2` {
		t.Errorf("renamed parameter: error %v", err)
	}
}

// TestDeviceOptimizerKeepsTable checks that steps over the same tensors
// reuse the kernels' table, that new gradient tensors get a new one, and
// that Close frees it.
func TestDeviceOptimizerKeepsTable(t *testing.T) {
	be := deviceBackend(t)
	o, err := NewDeviceOptimizer(config.Optimizer{Name: "sgd", LR: 0.1, Momentum: 0.9, Epsilon: 1e-8}, be)
	if err != nil {
		t.Fatal(err)
	}
	p := []DeviceParam{{Name: "w", Data: toDevice(t, be, []float32{1, 2}), Grad: toDevice(t, be, []float32{1, 2})}}
	if err := o.Step(p, 0.1); err != nil {
		t.Fatal(err)
	}
	first := o.table
	if err := o.Step(p, 0.1); err != nil {
		t.Fatal(err)
	}
	if o.table != first {
		t.Error("a second step over the same tensors made a new table")
	}
	p[0].Grad = toDevice(t, be, []float32{3, 4})
	if err := o.Step(p, 0.1); err != nil {
		t.Fatal(err)
	}
	if o.table == first {
		t.Error("a step over a new gradient tensor kept the old table")
	}
	if got := o.table.Params()[0].Grad; got != devPtr(p[0].Grad) {
		t.Errorf("the table's gradient is at %#x, want %#x", got, devPtr(p[0].Grad))
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if o.table != nil || o.slots != nil {
		t.Error("Close kept the table or the slots")
	}
}
