package trainer

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/cifar-resnet/trainer/config"
)

// The optimizer tests drive one three-element parameter through three
// steps:
//
//	w0       = [1, -2, 0.5]
//	grad(1)  = [0.5, -1, 2]
//	grad(2)  = [1, 0.25, -0.5]
//	grad(3)  = [-0.5, 0.5, 1]
//
// The SGD cases use learning rates 0.5, 0.5, 0.25 and μ = 0.5, so every
// intermediate value is a short binary fraction: float32 holds them
// exactly and the expected values below are compared with ==.
var (
	optW0    = []float32{1, -2, 0.5}
	optGrads = [][]float32{{0.5, -1, 2}, {1, 0.25, -0.5}, {-0.5, 0.5, 1}}
	sgdLRs   = []float64{0.5, 0.5, 0.25}
	adamLRs  = []float64{0.1, 0.1, 0.05}
)

// newOpt builds an optimizer from cfg or fails the test.
// newOpt builds the optimizer of cfg. The configuration's rules want a
// positive lr and epsilon whatever the optimizer; the tests pass the rate
// to Step and give SGD no epsilon, so zeros there are replaced.
func newOpt(t *testing.T, cfg config.Optimizer) Optimizer {
	t.Helper()
	if cfg.LR == 0 {
		cfg.LR = 0.1
	}
	if cfg.Epsilon == 0 && cfg.Name == "sgd" {
		cfg.Epsilon = 1e-8
	}
	o, err := NewOptimizer(cfg)
	if err != nil {
		t.Fatalf("NewOptimizer(%+v): %v", cfg, err)
	}
	return o
}

// optRunSteps applies the three test gradients with the given rates to a
// fresh copy of w0 and returns the weights after each step.
func optRunSteps(o Optimizer, decay bool, lrs []float64) [][]float32 {
	p := []Param{{Name: "w", Data: append([]float32(nil), optW0...), Grad: make([]float32, 3), Decay: decay}}
	var out [][]float32
	for s, g := range optGrads {
		copy(p[0].Grad, g)
		o.Step(p, lrs[s])
		out = append(out, append([]float32(nil), p[0].Data...))
	}
	return out
}

// optCheckExact compares every step's weights with ==.
func optCheckExact(t *testing.T, got [][]float32, want [][]float32) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("weights after each step:\n got %v\nwant %v", got, want)
	}
}

// optCheckClose compares every step's weights within tol.
func optCheckClose(t *testing.T, got [][]float32, want [][]float64, tol float64) {
	t.Helper()
	for s := range want {
		for j := range want[s] {
			if d := math.Abs(float64(got[s][j]) - want[s][j]); !(d <= tol) {
				t.Errorf("step %d element %d: got %.9g, want %.9g (diff %.3g)", s+1, j, got[s][j], want[s][j], d)
			}
		}
	}
}

func TestSGDPlain(t *testing.T) {
	o := newOpt(t, config.Optimizer{Name: "sgd"})
	// w -= lr·g:
	// step 1: [1, -2, 0.5] - 0.5·[0.5, -1, 2]        = [0.75, -1.5, -0.5]
	// step 2: [0.75, -1.5, -0.5] - 0.5·[1, 0.25, -0.5] = [0.25, -1.625, -0.25]
	// step 3: [0.25, -1.625, -0.25] - 0.25·[-0.5, 0.5, 1] = [0.375, -1.75, -0.5]
	optCheckExact(t, optRunSteps(o, true, sgdLRs), [][]float32{
		{0.75, -1.5, -0.5},
		{0.25, -1.625, -0.25},
		{0.375, -1.75, -0.5},
	})
	if st := o.State(); st.Step != 3 || len(st.Slots) != 0 || !reflect.DeepEqual(st.ParamNames, []string{"w"}) {
		t.Errorf("state = %+v", st)
	}
}

func TestSGDMomentum(t *testing.T) {
	o := newOpt(t, config.Optimizer{Name: "sgd", Momentum: 0.5})
	// v = 0.5·v + g (v = g at step 1); w -= lr·v:
	// step 1: v = [0.5, -1, 2];     w = [1, -2, 0.5] - 0.5·v    = [0.75, -1.5, -0.5]
	// step 2: v = [1.25, -0.25, 0.5]; w = [0.75, -1.5, -0.5] - 0.5·v = [0.125, -1.375, -0.75]
	// step 3: v = [0.125, 0.375, 1.25]; w -= 0.25·v           = [0.09375, -1.46875, -1.0625]
	optCheckExact(t, optRunSteps(o, true, sgdLRs), [][]float32{
		{0.75, -1.5, -0.5},
		{0.125, -1.375, -0.75},
		{0.09375, -1.46875, -1.0625},
	})
	st := o.State()
	if want := [][]float32{{0.125, 0.375, 1.25}}; !reflect.DeepEqual(st.Slots["velocity"], want) {
		t.Errorf("velocity = %v, want %v", st.Slots["velocity"], want)
	}
}

func TestSGDNesterov(t *testing.T) {
	o := newOpt(t, config.Optimizer{Name: "sgd", Momentum: 0.5, Nesterov: true})
	// Same v as TestSGDMomentum; update = g + 0.5·v:
	// step 1: u = [0.5, -1, 2] + [0.25, -0.5, 1] = [0.75, -1.5, 3];
	//         w = [1, -2, 0.5] - 0.5·u = [0.625, -1.25, -1]
	// step 2: u = [1, 0.25, -0.5] + [0.625, -0.125, 0.25] = [1.625, 0.125, -0.25];
	//         w = [0.625, -1.25, -1] - 0.5·u = [-0.1875, -1.3125, -0.875]
	// step 3: u = [-0.5, 0.5, 1] + [0.0625, 0.1875, 0.625] = [-0.4375, 0.6875, 1.625];
	//         w -= 0.25·u = [-0.078125, -1.484375, -1.28125]
	optCheckExact(t, optRunSteps(o, true, sgdLRs), [][]float32{
		{0.625, -1.25, -1},
		{-0.1875, -1.3125, -0.875},
		{-0.078125, -1.484375, -1.28125},
	})
}

func TestSGDWeightDecay(t *testing.T) {
	cfg := config.Optimizer{Name: "sgd", WeightDecay: 0.5}
	// g = grad + 0.5·w; w -= lr·g:
	// step 1: g = [0.5, -1, 2] + [0.5, -1, 0.25] = [1, -2, 2.25];
	//         w = [1, -2, 0.5] - 0.5·g = [0.5, -1, -0.625]
	// step 2: g = [1, 0.25, -0.5] + [0.25, -0.5, -0.3125] = [1.25, -0.25, -0.8125];
	//         w = [0.5, -1, -0.625] - 0.5·g = [-0.125, -0.875, -0.21875]
	// step 3: g = [-0.5, 0.5, 1] + [-0.0625, -0.4375, -0.109375] = [-0.5625, 0.0625, 0.890625];
	//         w -= 0.25·g = [0.015625, -0.890625, -0.44140625]
	optCheckExact(t, optRunSteps(newOpt(t, cfg), true, sgdLRs), [][]float32{
		{0.5, -1, -0.625},
		{-0.125, -0.875, -0.21875},
		{0.015625, -0.890625, -0.44140625},
	})
	// With Decay false the run equals plain SGD (TestSGDPlain).
	optCheckExact(t, optRunSteps(newOpt(t, cfg), false, sgdLRs), [][]float32{
		{0.75, -1.5, -0.5},
		{0.25, -1.625, -0.25},
		{0.375, -1.75, -0.5},
	})
}

// The Adam expectations are float64 evaluations of the textbook formulas
// (m̂ = m/(1-β1^t), v̂ = v/(1-β2^t), w -= lr·m̂/(sqrt(v̂)+eps)) with
// β1 = 0.9, β2 = 0.999, eps = 1e-8 and rates 0.1, 0.1, 0.05. Step 1 can be
// checked by hand: m̂ = g and v̂ = g², so w1 = w0 - lr·g/(|g|+eps), e.g.
// 1 - 0.1·0.5/(0.5+1e-8) = 0.900000002. The float32 results agree to a few
// ulps.
var adamCfg = config.Optimizer{Name: "adam", Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}

// adamSteps are the weights after each step of plain Adam (adamCfg),
// which Adam with weight decay also takes for parameters that do not
// decay.
var adamSteps = [][]float64{
	{0.900000002, -1.900000001, 0.4000000005},
	{0.8034818006385094, -1.8530531845234584, 0.35305318370133487},
	{0.7824773357570436, -1.85068151182318, 0.3227794790041645},
}

func TestAdam(t *testing.T) {
	optCheckClose(t, optRunSteps(newOpt(t, adamCfg), true, adamLRs), adamSteps, 5e-7)
}

func TestAdamL2(t *testing.T) {
	cfg := adamCfg
	cfg.WeightDecay = 0.1
	// g = grad + 0.1·w, then the Adam update. Step 1 by hand:
	// g = [0.6, -1.2, 2.05], w1 = w0 - 0.1·g/(|g|+1e-8)
	//   = [1 - 0.1·(1 - 1e-8/0.6), ...] = [0.9000000016667, ...].
	optCheckClose(t, optRunSteps(newOpt(t, cfg), true, adamLRs), [][]float64{
		{0.9000000016666666, -1.9000000008333333, 0.4000000004878049},
		{0.8025029703202308, -1.8367957569894449, 0.3509218351915271},
		{0.7770153144003134, -1.8213133098911627, 0.3197821202405995},
	}, 5e-7)
	// With Decay false the run equals plain Adam.
	optCheckClose(t, optRunSteps(newOpt(t, cfg), false, adamLRs), adamSteps, 5e-7)
}

func TestAdamW(t *testing.T) {
	cfg := adamCfg
	cfg.Name = "adamw"
	cfg.WeightDecay = 0.1
	// w *= 1 - lr·0.1, then the Adam update with g = grad. Step 1 by hand:
	// w = [0.99, -1.98, 0.495], then -= 0.1·sign(g)·(1 - 1e-8/|g|)
	//   = [0.890000002, -1.880000001, 0.3950000005].
	optCheckClose(t, optRunSteps(newOpt(t, cfg), true, adamLRs), [][]float64{
		{0.890000002, -1.880000001, 0.3950000005},
		{0.7845818006185094, -1.8142531845134584, 0.34410318369633486},
		{0.759654426733951, -1.8028102458906128, 0.3121089630806828},
	}, 5e-7)
	// With Decay false the run equals plain Adam.
	optCheckClose(t, optRunSteps(newOpt(t, cfg), false, adamLRs), adamSteps, 5e-7)
}

// optConfigs are one configuration of each kind, all with weight decay 0.5.
func optConfigs() map[string]config.Optimizer {
	return map[string]config.Optimizer{
		"sgd":          {Name: "sgd", WeightDecay: 0.5},
		"sgd-momentum": {Name: "sgd", Momentum: 0.9, WeightDecay: 0.5},
		"sgd-nesterov": {Name: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 0.5},
		"adam":         {Name: "adam", Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.5},
		"adamw":        {Name: "adamw", Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.5},
	}
}

// TestDecayExcluded steps a decaying and a non-decaying parameter with zero
// gradients: only weight decay can move them, so the non-decaying one must
// stay exactly as it was.
func TestDecayExcluded(t *testing.T) {
	for name, cfg := range optConfigs() {
		t.Run(name, func(t *testing.T) {
			o := newOpt(t, cfg)
			params := []Param{
				{Name: "conv.w", Data: []float32{1, -2}, Grad: []float32{0, 0}, Decay: true},
				{Name: "bn.gamma", Data: []float32{1, -2}, Grad: []float32{0, 0}, Decay: false},
			}
			for range 3 {
				o.Step(params, 0.5)
			}
			if got := params[1].Data; got[0] != 1 || got[1] != -2 {
				t.Errorf("non-decaying parameter moved to %v", got)
			}
			w := params[0].Data
			if !(math.Abs(float64(w[0])) < 1 && math.Abs(float64(w[1])) < 2) {
				t.Errorf("decaying parameter did not shrink: %v", w)
			}
			switch name {
			case "sgd":
				// w *= 1 - 0.5·0.5 = 0.75 per step: 0.75³ = 0.421875.
				if w[0] != 0.421875 || w[1] != -0.84375 {
					t.Errorf("decayed to %v, want [0.421875 -0.84375]", w)
				}
			case "adamw":
				// Decoupled decay w *= 0.75, then an Adam step with m = v = 0
				// moves nothing: 0.75³.
				if w[0] != 0.421875 || w[1] != -0.84375 {
					t.Errorf("decayed to %v, want [0.421875 -0.84375]", w)
				}
			}
		})
	}
}

// TestStateRoundTrip checks that an optimizer restored from another's
// state (also through msgpack) continues exactly like the original.
func TestStateRoundTrip(t *testing.T) {
	for name, cfg := range optConfigs() {
		t.Run(name, func(t *testing.T) {
			mk := func() []Param {
				return []Param{
					{Name: "a", Data: []float32{1, -2, 0.5}, Grad: make([]float32, 3), Decay: true},
					{Name: "b", Data: []float32{0.25, 3}, Grad: make([]float32, 2), Decay: false},
				}
			}
			grads := [][][]float32{
				{{0.5, -1, 2}, {0.1, -0.2}},
				{{1, 0.25, -0.5}, {-0.3, 0.7}},
				{{-0.5, 0.5, 1}, {0.9, 0.05}},
				{{0.2, 0.2, -0.1}, {-1, 1}},
			}
			set := func(p []Param, s int) {
				for i := range p {
					copy(p[i].Grad, grads[s][i])
				}
			}
			orig := newOpt(t, cfg)
			p := mk()
			for s := range 2 {
				set(p, s)
				orig.Step(p, 0.05)
			}
			st := orig.State()
			if st.Step != 2 || !reflect.DeepEqual(st.ParamNames, []string{"a", "b"}) {
				t.Fatalf("state = %+v", st)
			}
			blob, err := msgpack.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			var decoded OptimizerState
			if err := msgpack.Unmarshal(blob, &decoded); err != nil {
				t.Fatal(err)
			}
			restored := newOpt(t, cfg)
			if err := restored.SetState(decoded); err != nil {
				t.Fatalf("SetState: %v", err)
			}
			if !reflect.DeepEqual(restored.State(), st) {
				t.Fatalf("restored state differs:\n got %+v\nwant %+v", restored.State(), st)
			}
			q := mk()
			for i := range q {
				copy(q[i].Data, p[i].Data)
			}
			for s := 2; s < 4; s++ {
				set(p, s)
				set(q, s)
				orig.Step(p, 0.05)
				restored.Step(q, 0.05)
			}
			for i := range p {
				if !reflect.DeepEqual(p[i].Data, q[i].Data) {
					t.Errorf("param %s: original %v, restored %v", p[i].Name, p[i].Data, q[i].Data)
				}
			}
			if !reflect.DeepEqual(orig.State(), restored.State()) {
				t.Errorf("states diverged")
			}
			// The returned state is a copy: later steps do not change it.
			if st.Step != 2 {
				t.Errorf("earlier State changed to step %d", st.Step)
			}
		})
	}
}

func TestStateFresh(t *testing.T) {
	o := newOpt(t, optConfigs()["adam"])
	st := o.State()
	if st.Name != "adam" || st.Step != 0 || len(st.Slots) != 0 || len(st.ParamNames) != 0 {
		t.Fatalf("fresh state = %+v", st)
	}
	// Restoring a fresh state into a stepped optimizer resets it.
	p := []Param{{Name: "a", Data: []float32{1}, Grad: []float32{1}}}
	o.Step(p, 0.1)
	if err := o.SetState(st); err != nil {
		t.Fatal(err)
	}
	if got := o.State(); got.Step != 0 || len(got.ParamNames) != 0 {
		t.Fatalf("after reset: %+v", got)
	}
	p = []Param{{Name: "other", Data: []float32{1, 2}, Grad: []float32{1, 1}}}
	o.Step(p, 0.1) // a reset optimizer takes any parameters
}

func TestSetStateMismatch(t *testing.T) {
	twoParams := func() []Param {
		return []Param{
			{Name: "a", Data: []float32{1, 2, 3}, Grad: []float32{1, 1, 1}, Decay: true},
			{Name: "b", Data: []float32{1, 2}, Grad: []float32{1, 1}},
		}
	}
	src := newOpt(t, optConfigs()["adam"])
	src.Step(twoParams(), 0.1)
	good := src.State()

	mutate := func(f func(*OptimizerState)) OptimizerState {
		st := src.State()
		f(&st)
		return st
	}
	cases := map[string]struct {
		opt   string
		state OptimizerState
		want  string
	}{
		"other optimizer":   {"adamw", good, "adam"},
		"sgd into adam":     {"adam", newOpt(t, optConfigs()["sgd-momentum"]).State(), "sgd"},
		"missing slot":      {"adam", mutate(func(s *OptimizerState) { delete(s.Slots, "v") }), "missing"},
		"unknown slot":      {"adam", mutate(func(s *OptimizerState) { s.Slots["velocity"] = s.Slots["m"] }), "unexpected"},
		"slot count":        {"adam", mutate(func(s *OptimizerState) { s.Slots["m"] = s.Slots["m"][:1] }), "entries"},
		"slot lengths":      {"adam", mutate(func(s *OptimizerState) { s.Slots["v"][1] = s.Slots["v"][1][:1] }), "length"},
		"names vs slots":    {"adam", mutate(func(s *OptimizerState) { s.ParamNames = s.ParamNames[:1] }), "entries"},
		"negative step":     {"adam", mutate(func(s *OptimizerState) { s.Step = -1 }), "negative"},
		"momentum vs plain": {"sgd", newOpt(t, optConfigs()["sgd-momentum"]).State(), ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o := newOpt(t, optConfigs()[c.opt])
			err := o.SetState(c.state)
			if name == "momentum vs plain" {
				// A fresh momentum state has no slots yet and is accepted; a
				// stepped one carries "velocity", which plain SGD rejects.
				if err != nil {
					t.Fatalf("fresh state rejected: %v", err)
				}
				m := newOpt(t, optConfigs()["sgd-momentum"])
				m.Step(twoParams(), 0.1)
				err = o.SetState(m.State())
				c.want = "unexpected"
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("SetState error = %v, want one mentioning %q", err, c.want)
			}
		})
	}

	// Against an optimizer already stepped with other parameters.
	stepped := func(params []Param) Optimizer {
		o := newOpt(t, optConfigs()["adam"])
		o.Step(params, 0.1)
		return o
	}
	renamed := twoParams()
	renamed[1].Name = "c"
	if err := stepped(renamed).SetState(good); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("renamed parameter: error = %v", err)
	}
	resized := twoParams()
	resized[1].Data, resized[1].Grad = []float32{1, 2, 3}, []float32{1, 1, 1}
	o := stepped(resized)
	before := o.State()
	if err := o.SetState(good); err == nil || !strings.Contains(err.Error(), "length") {
		t.Errorf("resized parameter: error = %v", err)
	}
	if !reflect.DeepEqual(o.State(), before) {
		t.Errorf("failed SetState changed the optimizer")
	}
	if err := stepped(twoParams()[:1]).SetState(good); err == nil {
		t.Errorf("fewer parameters: no error")
	}
	if err := stepped(twoParams()).SetState(good); err != nil {
		t.Errorf("matching parameters: %v", err)
	}

	// Check and Step on a restored but unstepped optimizer.
	if err := CheckState(good, twoParams()); err != nil {
		t.Errorf("CheckState(matching) = %v", err)
	}
	if err := CheckState(good, renamed); err == nil {
		t.Errorf("CheckState(renamed) = nil")
	}
	if err := CheckState(good, resized); err == nil {
		t.Errorf("CheckState(resized) = nil")
	}
	if err := CheckState(newOpt(t, adamCfg).State(), resized); err != nil {
		t.Errorf("fresh Check = %v", err)
	}
	r := newOpt(t, optConfigs()["adam"])
	if err := r.SetState(good); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Step with resized parameters did not panic")
			}
		}()
		r.Step(resized, 0.1)
	}()
}

func TestStepPanicsOnLayoutChange(t *testing.T) {
	o := newOpt(t, optConfigs()["sgd"]) // plain SGD: no slots, names still checked
	o.Step([]Param{{Name: "a", Data: []float32{1}, Grad: []float32{1}}}, 0.1)
	defer func() {
		if recover() == nil {
			t.Errorf("Step with another parameter did not panic")
		}
	}()
	o.Step([]Param{{Name: "b", Data: []float32{1}, Grad: []float32{1}}}, 0.1)
}

func TestNewOptimizerErrors(t *testing.T) {
	base := config.Default().Solver.Optimizer
	bad := map[string]func(*config.Optimizer){
		"name":           func(c *config.Optimizer) { c.Name = "rmsprop" },
		"empty name":     func(c *config.Optimizer) { c.Name = "" },
		"negative lr":    func(c *config.Optimizer) { c.LR = -0.1 },
		"nan lr":         func(c *config.Optimizer) { c.LR = math.NaN() },
		"negative wd":    func(c *config.Optimizer) { c.WeightDecay = -1 },
		"momentum < 0":   func(c *config.Optimizer) { c.Momentum = -0.5 },
		"momentum 1":     func(c *config.Optimizer) { c.Momentum = 1 },
		"nesterov no mu": func(c *config.Optimizer) { c.Momentum = 0 },
		"nesterov adam":  func(c *config.Optimizer) { c.Name = "adam" },
		"zero lr":        func(c *config.Optimizer) { c.LR = 0 },
		"sgd eps":        func(c *config.Optimizer) { c.Epsilon = 0 },
		"adam beta1":     func(c *config.Optimizer) { c.Name = "adam"; c.Beta1 = 1 },
		"adamw beta2":    func(c *config.Optimizer) { c.Name = "adamw"; c.Beta2 = -0.1 },
		"adam eps":       func(c *config.Optimizer) { c.Name = "adam"; c.Epsilon = 0 },
	}
	for name, f := range bad {
		cfg := base
		f(&cfg)
		if _, err := NewOptimizer(cfg); err == nil {
			t.Errorf("%s: no error for %+v", name, cfg)
		}
	}
	// The default configuration works, and switching it to Adam(W) works
	// although its SGD momentum remains set; Nesterov momentum needs SGD.
	for _, name := range []string{"sgd", "adam", "adamw"} {
		cfg := base
		cfg.Name, cfg.Nesterov = name, name == "sgd"
		if _, err := NewOptimizer(cfg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestStepDoesNotAllocate(t *testing.T) {
	for name, cfg := range optConfigs() {
		t.Run(name, func(t *testing.T) {
			o := newOpt(t, cfg)
			params := []Param{
				{Name: "a", Data: make([]float32, 100), Grad: make([]float32, 100), Decay: true},
				{Name: "b", Data: make([]float32, 10), Grad: make([]float32, 10)},
			}
			for i := range params[0].Grad {
				params[0].Grad[i] = float32(i%7) - 3
			}
			o.Step(params, 0.01) // allocates the state
			if n := testing.AllocsPerRun(100, func() { o.Step(params, 0.01) }); n != 0 {
				t.Errorf("Step allocates %v times per call", n)
			}
		})
	}
}
