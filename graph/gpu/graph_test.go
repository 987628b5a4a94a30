package gpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph"
	"github.com/cifar-resnet/trainer/graph/gpu"
)

// net is a small residual network as a Gorgonia graph: conv → BN+ReLU →
// conv → BN, added to the first block's output (so its gradient is a sum
// that Gorgonia computes with the engine's Add) → ReLU → global average
// pool → dense → softmax cross-entropy, with its gradients, or the same
// network in evaluation mode.
type net struct {
	g       *G.ExprGraph
	params  []*G.Node
	cost    *G.Node
	logits  *G.Node
	grads   G.Nodes
	machine G.VM
}

// netValues are the inputs and parameters of net, in the order of
// paramNames after "x" and "targets".
var paramNames = []string{"w1", "g1", "b1", "w2", "g2", "b2", "wd", "bd"}

func netShapes() map[string][]int {
	return map[string][]int{
		"x": {2, 3, 6, 6}, "targets": {2, 10},
		"w1": {4, 3, 3, 3}, "g1": {4}, "b1": {4},
		"w2": {4, 4, 3, 3}, "g2": {4}, "b2": {4},
		"wd": {10, 4}, "bd": {10},
	}
}

// buildNet builds the network over values (host or device tensors) and
// the batch norm states s1, s2, for training or evaluation, on be (nil
// for the CPU).
func buildNet(t *testing.T, values map[string]*tensor.Dense, s1, s2 *graph.BNState, train bool, be *gpu.Backend) *net {
	t.Helper()
	n := &net{g: G.NewGraph()}
	nodes := map[string]*G.Node{}
	for name, v := range values {
		nodes[name] = G.NewTensor(n.g, tensor.Float32, v.Dims(), G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v))
	}
	must := func(x *G.Node, err error) *G.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	var h1, h2 *G.Node
	if train {
		c1 := must(graph.Conv2DNoInputGrad(nodes["x"], nodes["w1"], 1, 1))
		h1 = must(graph.BatchNormReLU(c1, nodes["g1"], nodes["b1"], s1, graph.NewBNBatch(4)))
		c2 := must(graph.Conv2D(h1, nodes["w2"], 1, 1))
		h2 = must(graph.BatchNorm(c2, nodes["g2"], nodes["b2"], s2, graph.NewBNBatch(4)))
		h2 = must(graph.AddReLU(h2, h1))
	} else {
		h1 = must(graph.ConvBNEval(nodes["x"], nodes["w1"], nodes["g1"], nodes["b1"], s1, 1, 1, true))
		h2 = must(graph.ConvBNAddReLUEval(h1, nodes["w2"], nodes["g2"], nodes["b2"], h1, s2, 1, 1))
	}
	p := must(graph.GlobalAvgPool(h2))
	n.logits = must(graph.Dense(p, nodes["wd"], nodes["bd"]))
	n.cost = must(graph.SoftmaxCrossEntropy(n.logits, nodes["targets"]))
	for _, name := range paramNames {
		n.params = append(n.params, nodes[name])
	}
	if train {
		grads, err := G.Grad(n.cost, n.params...)
		if err != nil {
			t.Fatal(err)
		}
		n.grads = grads
	}
	if be != nil {
		graph.UseBackend(n.g, be)
		n.machine = G.NewTapeMachine(n.g, G.WithEngine(be.Engine()))
	} else {
		n.machine = G.NewTapeMachine(n.g)
	}
	t.Cleanup(func() { n.machine.Close() })
	return n
}

// run runs the machine once and returns the loss.
func (n *net) run(t *testing.T) float64 {
	t.Helper()
	if err := n.machine.RunAll(); err != nil {
		t.Fatal(err)
	}
	n.machine.Reset()
	switch v := n.cost.Value().Data().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	t.Fatalf("loss of type %T", n.cost.Value().Data())
	return 0
}

// TestTapeMachineOnDevice runs two training steps and an evaluation pass
// of the network through a TapeMachine on the device and on the CPU, from
// the same values, and compares the losses, the logits, every gradient and
// the running statistics.
func TestTapeMachineOnDevice(t *testing.T) {
	b := device(t)
	ts := newTensors(t, 21)
	rng := rand.New(rand.NewPCG(4, 5))
	pairs := map[string]pair{}
	for name, s := range netShapes() {
		pairs[name] = ts.random(s...)
	}
	// Targets: one-hot rows.
	tg := pairs["targets"].h.Data().([]float32)
	for i := range tg {
		tg[i] = 0
	}
	for r := 0; r < 2; r++ {
		tg[r*10+rng.IntN(10)] = 1
	}
	pairs["targets"] = ts.copy(pairs["targets"].h)

	host, dev := map[string]*tensor.Dense{}, map[string]*tensor.Dense{}
	for name, p := range pairs {
		host[name], dev[name] = p.h, p.d
	}
	hs1, hs2 := graph.NewBNState(4, 0.1, 1e-5), graph.NewBNState(4, 0.1, 1e-5)
	ds1, ds2 := graph.NewBNState(4, 0.1, 1e-5), graph.NewBNState(4, 0.1, 1e-5)
	cpuNet := buildNet(t, host, hs1, hs2, true, nil)
	devNet := buildNet(t, dev, ds1, ds2, true, b)
	for step := 1; step <= 2; step++ {
		want, got := cpuNet.run(t), devNet.run(t)
		if !(math.Abs(got-want) <= 1e-4*math.Abs(want)) {
			t.Errorf("step %d: loss %v on the device, %v on the CPU", step, got, want)
		}
		ts.check(fmt.Sprintf("step %d: logits", step), pair{cpuNet.logits.Value().(*tensor.Dense), devNet.logits.Value().(*tensor.Dense)})
		for i, name := range paramNames {
			ts.check(fmt.Sprintf("step %d: gradient of %s", step, name), pair{cpuNet.grads[i].Value().(*tensor.Dense), devNet.grads[i].Value().(*tensor.Dense)})
		}
	}
	for i, s := range []*graph.BNState{ds1, ds2} {
		if err := s.ToHost(); err != nil {
			t.Fatal(err)
		}
		h := []*graph.BNState{hs1, hs2}[i]
		for j := range h.Mean {
			if math.Abs(float64(s.Mean[j]-h.Mean[j])) > 1e-5 || math.Abs(float64(s.Var[j]-h.Var[j])) > 1e-5 {
				t.Errorf("layer %d channel %d: running mean and variance %v, %v on the device, %v, %v on the CPU", i+1, j, s.Mean[j], s.Var[j], h.Mean[j], h.Var[j])
			}
		}
	}

	cpuEval := buildNet(t, host, hs1, hs2, false, nil)
	devEval := buildNet(t, dev, ds1, ds2, false, b)
	want, got := cpuEval.run(t), devEval.run(t)
	if !(math.Abs(got-want) <= 1e-4*math.Abs(want)) {
		t.Errorf("evaluation: loss %v on the device, %v on the CPU", got, want)
	}
	ts.check("evaluation: logits", pair{cpuEval.logits.Value().(*tensor.Dense), devEval.logits.Value().(*tensor.Dense)})

	// The machine's buffers are the operations' own: more steps allocate
	// no device memory.
	before := b.Engine().Allocated()
	devNet.run(t)
	devEval.run(t)
	if after := b.Engine().Allocated(); after != before {
		t.Errorf("device memory grew from %d to %d bytes in one more step", before, after)
	}
}
