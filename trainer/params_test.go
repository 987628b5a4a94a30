package trainer

import (
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
)

// TestModelParams checks the optimizer's view of a model's parameters:
// their names and host values in order, with weight decay on the
// convolution and dense weights only, or on everything with
// decay_bn_and_bias.
func TestModelParams(t *testing.T) {
	m, err := model.New(config.Default().Model, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, all := range []bool{false, true} {
		ps := ModelParams(m, config.Optimizer{DecayBNAndBias: all})
		if len(ps) != len(m.Params) {
			t.Fatalf("%d parameters, want %d", len(ps), len(m.Params))
		}
		decayed := 0
		for i, p := range ps {
			mp := m.Params[i]
			if p.Name != mp.Name || &p.Data[0] != &mp.Data()[0] {
				t.Errorf("parameter %d is %q, want %q and its values", i, p.Name, mp.Name)
			}
			if want := mp.Decay || all; p.Decay != want {
				t.Errorf("decay_bn_and_bias %v: %s decays %v, want %v", all, p.Name, p.Decay, want)
			}
			if p.Decay {
				decayed++
			}
		}
		// The default network: 10 convolutions and the dense layer's
		// weights decay; its 10 batch norms' γ and β and the dense bias
		// only with decay_bn_and_bias.
		if want := map[bool]int{false: 11, true: 32}[all]; decayed != want {
			t.Errorf("decay_bn_and_bias %v: %d of %d parameters decay, want %d", all, decayed, len(ps), want)
		}
	}
}
