package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
)

// randomProbs returns n rows of NumClasses random probabilities.
func randomProbs(rng *rand.Rand, n int) []float32 {
	p := make([]float32, n*dataset.NumClasses)
	for r := range n {
		row := p[r*dataset.NumClasses : (r+1)*dataset.NumClasses]
		var sum float32
		for i := range row {
			row[i] = float32(rng.Float64() + 0.01)
			sum += row[i]
		}
		for i := range row {
			row[i] /= sum
		}
	}
	return p
}

// tinyConfig is the network of TestGradientProjectionBlock, whose plain
// gradient check passes (with other small shapes some ReLU input lies
// within the finite difference step of its kink).
func tinyConfig() config.Model {
	return testConfig(2, []config.Stage{{Channels: 4, Blocks: 1, Stride: 2}})
}

// TestDistillationLoss checks the loss of a distillation net against the
// formula evaluated on its own logits.
func TestDistillationLoss(t *testing.T) {
	m, err := newModel(tinyConfig(), 3, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	m.size = 8
	const weight, temp, eps = 0.7, 3.0, 0.1
	net, err := m.BuildDistillation(4, weight, temp)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	fill(rng, net.x.Data().([]float64))
	labels := []int{1, 7, 3, 1}
	probs := randomProbs(rng, 4)
	if err := net.SetLabels(labels, eps); err != nil {
		t.Fatal(err)
	}
	if err := net.SetTeacherProbs(probs); err != nil {
		t.Fatal(err)
	}
	if err := net.Run(); err != nil {
		t.Fatal(err)
	}
	z := net.Logits.Value().Data().([]float64)
	// logSoftmax returns log softmax(row/temp).
	logSoftmax := func(row []float64, temp float64) []float64 {
		var sum float64
		for _, v := range row {
			sum += math.Exp(v / temp)
		}
		out := make([]float64, len(row))
		for i, v := range row {
			out[i] = v/temp - math.Log(sum)
		}
		return out
	}
	var want float64
	for n, l := range labels {
		row := z[n*dataset.NumClasses : (n+1)*dataset.NumClasses]
		hard, soft := logSoftmax(row, 1), logSoftmax(row, temp)
		for k := range dataset.NumClasses {
			target := eps / dataset.NumClasses
			if k == l {
				target += 1 - eps
			}
			q := float64(probs[n*dataset.NumClasses+k])
			want += -(1-weight)*target*hard[k] + weight*temp*temp*q*(math.Log(q)-soft[k])
		}
	}
	want /= 4
	if got := net.LossValue(); math.Abs(got-want) > 1e-6*math.Abs(want) {
		t.Errorf("loss = %.10g, want %.10g", got, want)
	}
}

func TestDistillationGradient(t *testing.T) {
	checkNetGradientDistill(t, tinyConfig(), 0.7, 3)
}

func TestDistillationErrors(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ weight, temp float64 }{{-0.1, 4}, {1.5, 4}, {0.5, 0}, {0.5, math.Inf(1)}, {math.NaN(), 4}} {
		if _, err := m.BuildDistillation(2, c.weight, c.temp); err == nil {
			t.Errorf("weight %g, temperature %g: no error", c.weight, c.temp)
		}
	}
	plain, err := m.Build(2, true)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.SetTeacherProbs(make([]float32, 2*dataset.NumClasses)); err == nil {
		t.Error("SetTeacherProbs on a net without distillation: no error")
	}
	d, err := m.BuildDistillation(2, 0.5, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SetTeacherProbs(make([]float32, dataset.NumClasses)); err == nil {
		t.Error("SetTeacherProbs with one row for a batch of 2: no error")
	}
}
