package kernels_test

import (
	"fmt"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
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
		// One table for both tensors; without momentum SGD gets no slot.
		opts := make([]kernels.OptParam, len(params))
		for i, p := range params {
			opts[i] = kernels.OptParam{W: up(t, p.Data), Grad: buf(t, 4*n), S0: buf(t, 4*n), S1: buf(t, 4*n), N: n, Decay: p.Decay}
			check(t, m.Fill(opts[i].S0, 0, n))
			check(t, m.Fill(opts[i].S1, 0, n))
			if c.Name == "sgd" && c.Momentum == 0 {
				opts[i].S0, opts[i].S1 = 0, 0
			}
		}
		table, err := m.NewOptTable(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer table.Free()
		for step := int64(1); step <= 3; step++ {
			lr := c.LR / float64(step)
			for i := range params {
				copy(params[i].Grad, randoms(uint64(60+10*step)+uint64(i), n))
				check(t, cuda.Upload(dev, opts[i].Grad, params[i].Grad))
			}
			cpu.Step(params, lr)
			switch c.Name {
			case "sgd":
				check(t, m.SGD(table, lr, c.Momentum, c.WeightDecay, c.Nesterov))
			default:
				check(t, m.Adam(table, step, lr, c.Beta1, c.Beta2, c.Epsilon, c.WeightDecay, c.Name == "adamw"))
			}
			st := cpu.State()
			for i, p := range params {
				what := fmt.Sprintf("%s step %d %s", name, step, p.Name)
				near(t, what+" weights", down[float32](t, opts[i].W, n), f64(p.Data), tol)
				for k, slot := range map[string]cuda.Ptr{"velocity": opts[i].S0, "m": opts[i].S0, "v": opts[i].S1} {
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
	w, g := buf(t, 40), buf(t, 40)
	table, err := m.NewOptTable([]kernels.OptParam{{W: w, Grad: g, S0: buf(t, 40), N: 10}, {W: w, Grad: g, N: 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer table.Free()
	if err := m.SGD(table, 0.1, 0.9, 0, false); err == nil ||
		err.Error() != "kernels: sgd_f32: tensor 1 of the table lacks a state slot (it needs 1): momentum 0.9 needs a velocity buffer" {
		t.Errorf("momentum without a buffer: %v", err)
	}
	if err := m.Adam(table, 1, 0.1, 0.9, 0.999, 1e-8, 0, false); err == nil || err.Error() != "kernels: adam_f32: tensor 0 of the table lacks a state slot (it needs 2)" {
		t.Errorf("Adam without moment buffers: %v", err)
	}
	if err := m.Adam(table, 0, 0.1, 0.9, 0.999, 1e-8, 0, false); err == nil || err.Error() != "kernels: adam_f32: step 0, want ≥ 1" {
		t.Errorf("step 0: %v", err)
	}
	// Empty tensors only: nothing to update, but a valid launch.
	empty, err := m.NewOptTable([]kernels.OptParam{{W: w, Grad: g, N: 0}})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Free()
	check(t, m.SGD(empty, 0.1, 0, 0, false))
	for _, c := range []struct {
		params []kernels.OptParam
		want   string
	}{
		{nil, "kernels: optimizer table of 0 tensors"},
		{[]kernels.OptParam{{W: w, N: 10}}, "kernels: optimizer table: tensor 0 has no values or no gradient"},
		{[]kernels.OptParam{{W: w, Grad: g, N: -1}}, "kernels: optimizer table: size -1 out of range [0, 2147483647]"},
	} {
		if _, err := m.NewOptTable(c.params); err == nil || err.Error() != c.want {
			t.Errorf("NewOptTable(%v): %v, want %q", c.params, err, c.want)
		}
	}
}
