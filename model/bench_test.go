package model

import (
	"math/rand/v2"
	"testing"

	"github.com/cifar-resnet/trainer/dataset"
)

// benchNet builds the reference network at batch 128 on random input.
func benchNet(b *testing.B, training bool) *Net {
	m, err := New(reference(), 1)
	if err != nil {
		b.Fatal(err)
	}
	net, err := m.Build(128, training)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, x := 0, net.Input(); i < len(x); i++ {
		x[i] = float32(rng.NormFloat64())
	}
	if training {
		labels := make([]int, 128)
		for i := range labels {
			labels[i] = rng.IntN(dataset.NumClasses)
		}
		if err := net.SetLabels(labels, 0); err != nil {
			b.Fatal(err)
		}
	}
	return net
}

// BenchmarkTrainStep is forward and backward of the reference network at
// batch 128 (the optimizer step is in package trainer).
func BenchmarkTrainStep(b *testing.B) {
	net := benchNet(b, true)
	defer net.Close()
	for b.Loop() {
		if err := net.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*128)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkInference is the reference network in evaluation mode at batch
// 128.
func BenchmarkInference(b *testing.B) {
	net := benchNet(b, false)
	defer net.Close()
	for b.Loop() {
		if err := net.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*128)/b.Elapsed().Seconds(), "img/s")
}
