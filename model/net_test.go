package model

import "testing"

// TestTrainingNetHasNoInputGradient checks that a training net computes no
// gradient with respect to its images: besides the input itself, no node
// of the graph has the input's shape (the stem's input gradient would).
func TestTrainingNetHasNoInputGradient(t *testing.T) {
	m, err := New(reference(), 1)
	if err != nil {
		t.Fatal(err)
	}
	net, err := m.Build(2, true)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	for _, n := range net.Graph.AllNodes() {
		if n != net.X && n.Shape().Eq(net.X.Shape()) {
			t.Errorf("node %v has the shape of the input, %v", n, net.X.Shape())
		}
	}
	if err := net.Run(); err != nil {
		t.Fatal(err)
	}
}
