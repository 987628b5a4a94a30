package graph

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
)

// bnCounter is a backend that counts the batch norm calls of the one it
// wraps, and in params the parameter gradients the sums calls write.
type bnCounter struct {
	backend.Backend
	train, sums, data, params int
}

func (c *bnCounter) BatchNormTrain(x, gamma, beta, y *tensor.Dense, st backend.BNRunning, saved backend.BNSaved, relu bool) error {
	c.train++
	return c.Backend.BatchNormTrain(x, gamma, beta, y, st, saved, relu)
}

func (c *bnCounter) BatchNormBackwardSums(x, dy, y *tensor.Dense, saved backend.BNSaved, sums, dgamma, dbeta *tensor.Dense) error {
	c.sums++
	for _, d := range []*tensor.Dense{dgamma, dbeta} {
		if d != nil {
			c.params++
		}
	}
	return c.Backend.BatchNormBackwardSums(x, dy, y, saved, sums, dgamma, dbeta)
}

func (c *bnCounter) BatchNormBackwardData(x, gamma, dy, y *tensor.Dense, saved backend.BNSaved, sums, dx *tensor.Dense) error {
	c.data++
	return c.Backend.BatchNormBackwardData(x, gamma, dy, y, saved, sums, dx)
}

// TestBatchNormBackwardSharesSums checks that the operations go through
// the backend, and that the backward pass of a training batch norm
// computes its per-channel sums once per run, in a node of the graph that
// the three gradients read.
func TestBatchNormBackwardSharesSums(t *testing.T) {
	c := &bnCounter{Backend: defaultBackend}
	defaultBackend = c
	defer func() { defaultBackend = c.Backend }()
	checkBatchNormCalls(t, c, func(*G.ExprGraph) {})
}

// TestUseBackend checks that UseBackend hands every operation of a graph,
// the gradients' included, to the given backend.
func TestUseBackend(t *testing.T) {
	c := &bnCounter{Backend: defaultBackend}
	checkBatchNormCalls(t, c, func(g *G.ExprGraph) { UseBackend(g, c) })
}

// checkBatchNormCalls builds a batch norm and its gradients, calls bind
// on the graph and checks that c sees every batch norm call of two runs,
// with one sums node shared by the three gradients.
func checkBatchNormCalls(t *testing.T, c *bnCounter, bind func(*G.ExprGraph)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(31, 32))
	g := G.NewGraph()
	x := node(g, "x", randTensor(rng, 2, 3, 2, 2))
	gamma, beta := node(g, "gamma", randTensor(rng, 3)), node(g, "beta", randTensor(rng, 3))
	y, err := BatchNormReLU(x, gamma, beta, NewBNState(3, 0.1, 1e-5), NewBNBatch(3))
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, node(g, "r", randTensor(rng, 2, 3, 2, 2))))))
	grads, err := G.Grad(cost, x, gamma, beta)
	if err != nil {
		t.Fatal(err)
	}
	sums := 0
	for _, n := range g.AllNodes() {
		if _, ok := n.Op().(*bnSumsOp); ok {
			sums++
			for _, gr := range grads {
				if !dependsOn(gr, n) {
					t.Errorf("gradient %v does not read the sums node", gr)
				}
			}
		}
	}
	if sums != 1 {
		t.Fatalf("%d sums nodes, want 1", sums)
	}
	bind(g)
	m := G.NewTapeMachine(g)
	defer m.Close()
	for run := 1; run <= 2; run++ {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		if c.train != run || c.sums != run || c.data != run || c.params != 2*run {
			t.Fatalf("after run %d: %d forward, %d sums, %d input gradient calls and %d parameter gradients, want %d, %d, %d, %d",
				run, c.train, c.sums, c.data, c.params, run, run, run, 2*run)
		}
	}
}

// dependsOn reports whether n is dep or is computed from it.
func dependsOn(n, dep *G.Node) bool {
	if n == dep {
		return true
	}
	for it := n.Graph().From(n.ID()); it.Next(); {
		if dependsOn(it.Node().(*G.Node), dep) {
			return true
		}
	}
	return false
}
