package model

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/graph"
)

// TestFoldMatchesTrainingFormInEvalMode checks the rewrite of fold: an
// evaluation net (the folded form) gives the logits of the training form
// built with evaluation-mode batch norms, on a network with identity and
// projection blocks, random weights and running statistics; and the folded
// graph holds no batch norm, no separate residual addition, and one fused
// addition per block.
func TestFoldMatchesTrainingFormInEvalMode(t *testing.T) {
	cfg := testConfig(3, []config.Stage{{Channels: 3, Blocks: 1, Stride: 1}, {Channels: 4, Blocks: 1, Stride: 2}})
	m := smallModel(t, cfg, 7)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range m.Params {
		fill(rng, p.Value.Data().([]float64))
	}
	randomStats(rng, m)
	net, err := m.Build(2, false)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	fill(rng, net.x.Data().([]float64))
	if err := net.Run(); err != nil {
		t.Fatal(err)
	}
	folded := net.Logits.Value().Data().([]float64)
	counts := map[string]int{}
	for _, n := range net.Graph.AllNodes() {
		if n.Op() != nil {
			counts[n.Op().String()]++
		}
	}
	fusedAdds := 0
	for name, c := range counts {
		switch {
		case len(name) >= 9 && name[:9] == "BatchNorm", name == "AddReLU":
			t.Errorf("the evaluation graph holds %d %s", c, name)
		case len(name) >= 17 && name[:17] == "ConvBNAddReLUEval":
			fusedAdds += c
		}
	}
	if fusedAdds != 2 {
		t.Errorf("%d fused residual additions, want 2 (one per block)", fusedAdds)
	}

	// The training form in evaluation mode, on the same input.
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, dataset.Channels, 8, 8), G.WithValue(net.x), G.WithName("x"))
	b := &builder{nodes: map[*Param]*G.Node{}}
	for _, p := range m.Params {
		b.nodes[p] = G.NewTensor(g, tensor.Float64, p.Value.Dims(), G.WithShape(p.Value.Shape()...), G.WithValue(p.Value), G.WithName(p.Name))
	}
	logits, err := b.forward(x, &m.w)
	if err != nil {
		t.Fatal(err)
	}
	graph.UseBackend(g, nil)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for i, want := range logits.Value().Data().([]float64) {
		if math.Abs(folded[i]-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Fatalf("logit %d: %v folded, %v in the training form", i, folded[i], want)
		}
	}
}
