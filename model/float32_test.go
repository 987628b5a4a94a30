package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/dataset"
)

// TestFloat32MatchesFloat64 runs the reference network at full size in
// float32, where the convolutions take the fast paths (Winograd, gathered
// products, the filter-gradient kernel, the fused evaluation ops), and in
// float64, where they are plain im2col products checked against finite
// differences, with the same weights, statistics and images, and compares
// the loss, every gradient and the evaluation logits.
func TestFloat32MatchesFloat64(t *testing.T) {
	cfg := reference()
	m32, err := newModel(cfg, 11, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	m64, err := newModel(cfg, 11, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(12, 13))
	for i, p := range m32.Params {
		d32, d64 := p.Value.Data().([]float32), m64.Params[i].Value.Data().([]float64)
		for j := range d32 {
			if !p.Decay { // random γ and β
				d32[j] = float32(2*rng.Float64() - 1)
			}
			d64[j] = float64(d32[j])
		}
	}
	for i, bn := range m32.BNs {
		for c := range bn.State.Mean {
			bn.State.Mean[c] = float32(rng.NormFloat64() * 0.1)
			bn.State.Var[c] = float32(0.5 + rng.Float64())
		}
		copy(m64.BNs[i].State.Mean, bn.State.Mean)
		copy(m64.BNs[i].State.Var, bn.State.Var)
	}
	const batch = 4
	x := make([]float64, batch*dataset.ImageSize)
	fill(rng, x)
	labels := []int{3, 0, 9, 3}

	run := func(m *Model, training bool) *Net {
		t.Helper()
		net, err := m.Build(batch, training)
		if err != nil {
			t.Fatal(err)
		}
		switch in := net.x.Data().(type) {
		case []float32:
			for i, v := range x {
				in[i] = float32(v)
			}
		case []float64:
			copy(in, x)
		}
		if training {
			if err := net.SetLabels(labels, 0.1); err != nil {
				t.Fatal(err)
			}
		}
		if err := net.Run(); err != nil {
			t.Fatal(err)
		}
		return net
	}
	t32, t64 := run(m32, true), run(m64, true)
	defer t32.Close()
	defer t64.Close()
	if l32, l64 := t32.LossValue(), t64.LossValue(); math.Abs(l32-l64) > 1e-5*math.Abs(l64) {
		t.Errorf("loss: float32 %.8g, float64 %.8g", l32, l64)
	}
	for i, p := range m32.Params {
		g32, g64 := t32.Gradient(i), t64.Grads[i].Value().Data().([]float64)
		scale := 0.0
		for _, v := range g64 {
			scale = math.Max(scale, math.Abs(v))
		}
		for j, v := range g64 {
			if d := math.Abs(float64(g32[j]) - v); d > 1e-4*scale {
				t.Errorf("gradient of %s[%d]: float32 %.8g, float64 %.8g (max |g| %.3g)", p.Name, j, g32[j], v, scale)
				break
			}
		}
	}
	e32, e64 := run(m32, false), run(m64, false)
	defer e32.Close()
	defer e64.Close()
	l32, l64 := e32.LogitsValue(), e64.Logits.Value().Data().([]float64)
	for i, v := range l64 {
		if math.Abs(float64(l32[i])-v) > 1e-4*(1+math.Abs(v)) {
			t.Errorf("logit %d: float32 %.8g, float64 %.8g", i, l32[i], v)
		}
	}
}
