package kernels_test

import (
	"fmt"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/trainer"
)

// TestOptimizers runs three steps of each optimizer on the device and with
// package trainer's optimizers on the CPU, with a decaying and a
// non-decaying parameter, and compares parameters and state after every
// step. The emulator, compiled without fused multiply-adds, must agree
// bit for bit; a GPU contracts a·b + c into one rounding, which moves
// results by about an ulp.
func TestOptimizers(t *testing.T) {
	m := module(t)
	tol := 0.0
	if kind == "GPU" {
		tol = 1e-6
	}
	base := config.Optimizer{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
	for _, c := range []config.Optimizer{
		{Name: "sgd", WeightDecay: 5e-4},
		{Name: "sgd", Momentum: 0.9, WeightDecay: 5e-4},
		{Name: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4},
		{Name: "adam", WeightDecay: 1e-2},
		{Name: "adamw", WeightDecay: 1e-2},
	} {
		c.LR, c.Beta1, c.Beta2, c.Epsilon = base.LR, base.Beta1, base.Beta2, base.Epsilon
		name := fmt.Sprintf("%s momentum=%g nesterov=%v", c.Name, c.Momentum, c.Nesterov)
		cpu, err := trainer.NewOptimizer(c)
		if err != nil {
			t.Fatal(err)
		}
		const n = 300
		params := []trainer.Param{
			{Name: "w", Data: randoms(50, n), Grad: make([]float32, n), Decay: true},
			{Name: "b", Data: randoms(51, n), Grad: make([]float32, n), Decay: false},
		}
		type slots struct{ w, g, s1, s2 cuda.Ptr }
		devs := make([]slots, len(params))
		for i, p := range params {
			devs[i] = slots{w: up(t, p.Data), g: buf(t, 4*n), s1: buf(t, 4*n), s2: buf(t, 4*n)}
			check(t, m.Fill(devs[i].s1, 0, n))
			check(t, m.Fill(devs[i].s2, 0, n))
		}
		for step := int64(1); step <= 3; step++ {
			lr := c.LR / float64(step)
			for i := range params {
				copy(params[i].Grad, randoms(uint64(60+10*step)+uint64(i), n))
				check(t, cuda.Upload(dev, devs[i].g, params[i].Grad))
			}
			cpu.Step(params, lr)
			for i, p := range params {
				wd := 0.0
				if p.Decay {
					wd = c.WeightDecay
				}
				d := devs[i]
				switch c.Name {
				case "sgd":
					vel := d.s1
					if c.Momentum == 0 {
						vel = 0
					}
					check(t, m.SGD(d.w, d.g, vel, n, lr, c.Momentum, wd, c.Nesterov))
				default:
					check(t, m.Adam(d.w, d.g, d.s1, d.s2, n, step, lr, c.Beta1, c.Beta2, c.Epsilon, wd, c.Name == "adamw"))
				}
			}
			st := cpu.State()
			for i, p := range params {
				what := fmt.Sprintf("%s step %d %s", name, step, p.Name)
				near(t, what+" weights", down[float32](t, devs[i].w, n), f64(p.Data), tol)
				for k, slot := range map[string]cuda.Ptr{"velocity": devs[i].s1, "m": devs[i].s1, "v": devs[i].s2} {
					if s, ok := st.Slots[k]; ok {
						near(t, what+" "+k, down[float32](t, slot, n), f64(s[i]), tol)
					}
				}
			}
		}
	}
}

func TestOptimizerArguments(t *testing.T) {
	m := module(t)
	if err := m.SGD(1, 1, 0, 10, 0.1, 0.9, 0, false); err == nil || err.Error() != "kernels: sgd_f32: momentum 0.9 needs a velocity buffer" {
		t.Errorf("momentum without a buffer: %v", err)
	}
	if err := m.Adam(1, 1, 1, 1, 10, 0, 0.1, 0.9, 0.999, 1e-8, 0, false); err == nil || err.Error() != "kernels: adam_f32: step 0, want ≥ 1" {
		t.Errorf("step 0: %v", err)
	}
}
