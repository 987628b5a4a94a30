package model

import (
	"errors"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/graph/cpu"
)

// counter is a backend that counts some calls of the CPU backend it wraps.
type counter struct {
	backend.Backend
	conv, convFilter, convBNEval, dense, xent int
}

func (c *counter) Conv2D(x, w, y *tensor.Dense, g backend.ConvGeom) error {
	c.conv++
	return c.Backend.Conv2D(x, w, y, g)
}

func (c *counter) Conv2DBackwardFilter(x, dy, dw *tensor.Dense, g backend.ConvGeom) error {
	c.convFilter++
	return c.Backend.Conv2DBackwardFilter(x, dy, dw, g)
}

func (c *counter) Conv2DBNEval(x, w, gamma, beta, skip, y *tensor.Dense, g backend.ConvGeom, st backend.BNRunning, relu bool) error {
	c.convBNEval++
	return c.Backend.Conv2DBNEval(x, w, gamma, beta, skip, y, g, st, relu)
}

func (c *counter) Dense(x, w, b, y *tensor.Dense) error {
	c.dense++
	return c.Backend.Dense(x, w, b, y)
}

func (c *counter) SoftmaxCrossEntropy(logits, targets *tensor.Dense, t float64, kl bool) (float64, error) {
	c.xent++
	return c.Backend.SoftmaxCrossEntropy(logits, targets, t, kl)
}

// TestModelBackend checks that the nets of a model compute with the
// model's Backend: the reference network's 10 convolutions forward and
// backward, its dense layer and its loss in a training net, and its 10
// fused convolutions in an evaluation net.
func TestModelBackend(t *testing.T) {
	m, err := New(reference(), 1)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{Backend: cpu.New()}
	m.Backend = c
	train, err := m.Build(2, true)
	if err != nil {
		t.Fatal(err)
	}
	defer train.Close()
	if err := train.SetLabels([]int{1, 2}, 0); err != nil {
		t.Fatal(err)
	}
	if err := train.Run(); err != nil {
		t.Fatal(err)
	}
	eval, err := m.Build(2, false)
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()
	if err := eval.Run(); err != nil {
		t.Fatal(err)
	}
	if c.conv != 10 || c.convFilter != 10 || c.dense != 2 || c.xent != 1 || c.convBNEval != 10 {
		t.Errorf("the backend saw %d convolutions, %d filter gradients, %d dense layers, %d losses, %d fused convolutions; want 10, 10, 2, 1, 10",
			c.conv, c.convFilter, c.dense, c.xent, c.convBNEval)
	}
}

// failing is a backend whose Conv2D fails with errFailing.
type failing struct{ backend.Backend }

var errFailing = errors.New("the device is out of memory")

func (failing) Conv2D(x, w, y *tensor.Dense, g backend.ConvGeom) error { return errFailing }

// TestRunErrorUnwraps checks that an error of the backend during Run is
// found by errors.Is through the machine's error, so that the trainer can
// tell a device out of memory from other errors.
func TestRunErrorUnwraps(t *testing.T) {
	m, err := New(testConfig(2, []config.Stage{{Channels: 2, Blocks: 1, Stride: 2}}), 1)
	if err != nil {
		t.Fatal(err)
	}
	m.Backend = failing{cpu.New()}
	n, err := m.Build(1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.SetLabels([]int{1}, 0); err != nil {
		t.Fatal(err)
	}
	err = n.Run()
	if !errors.Is(err, errFailing) {
		t.Errorf("Run: %v, want an error wrapping %v", err, errFailing)
	}
	// The operation's own error, without the machine's program counter.
	if want := "model: run: graph: Conv2D(s=1,p=1): the device is out of memory"; err == nil || err.Error() != want {
		t.Errorf("Run: %q, want %q", err, want)
	}
}

// wrapped is an error in the manner of github.com/pkg/errors, which
// Gorgonia's machine uses: a message before a cause reached by Cause.
type wrapped struct {
	msg   string
	cause error
}

func (w wrapped) Error() string { return w.msg + ": " + w.cause.Error() }
func (w wrapped) Cause() error  { return w.cause }

// machineErr is the shape of the machine's error: the failing node and
// its wrapped error.
type machineErr struct {
	err  error
	node *G.Node
}

func (m machineErr) Error() string { return m.err.Error() }
func (m machineErr) Err() error    { return m.err }
func (m machineErr) Node() *G.Node { return m.node }

// TestMachineError checks the error of a node of Gorgonia's own, whose
// cause does not name the operation: the operation comes first.
func TestMachineError(t *testing.T) {
	g := G.NewGraph()
	a := G.NewScalar(g, tensor.Float32, G.WithName("a"))
	sum, err := G.Add(a, a)
	if err != nil {
		t.Fatal(err)
	}
	err = machineError(machineErr{wrapped{"PC 3. Failed to execute instruction", wrapped{"Failed to carry op.Do()", errFailing}}, sum})
	if !errors.Is(err, errFailing) || err.Error() != "+ false: the device is out of memory" {
		t.Errorf("machineError: %q", err)
	}
	other := errors.New("not the machine's")
	if got := machineError(other); got != other {
		t.Errorf("machineError changed an error of another kind: %v", got)
	}
}
