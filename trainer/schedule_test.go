package trainer

import (
	"math"
	"testing"

	"github.com/cifar-resnet/trainer/config"
)

// newSched builds a schedule or fails the test.
func newSched(t *testing.T, cfg config.Scheduler, lr float64, epochs, steps int) Schedule {
	t.Helper()
	s, err := NewSchedule(cfg, lr, epochs, steps)
	if err != nil {
		t.Fatalf("NewSchedule(%+v, %v, %d, %d): %v", cfg, lr, epochs, steps, err)
	}
	return s
}

// schedNear reports whether got is within a relative 1e-12 of want, which
// allows for the last-bit differences between libm's and Go's cos and pow.
func schedNear(got, want float64) bool {
	return math.Abs(got-want) <= 1e-12*math.Max(math.Abs(want), 1e-300)
}

// schedCheckEpochs compares LR at the given epochs; the batch index must not
// matter for per-epoch schedules, so it is set to something arbitrary.
func schedCheckEpochs(t *testing.T, s Schedule, want map[int]float64) {
	t.Helper()
	for e, w := range want {
		if got := s.LR(e, 12345); !schedNear(got, w) {
			t.Errorf("LR(epoch %d) = %.17g, want %.17g", e, got, w)
		}
	}
}

// schedCheckSteps compares LR at the given batch indices; the epoch must not
// matter for per-batch schedules.
func schedCheckSteps(t *testing.T, s Schedule, want map[int]float64) {
	t.Helper()
	for n, w := range want {
		if got := s.LR(-7, n); !schedNear(got, w) {
			t.Errorf("LR(step %d) = %.17g, want %.17g", n, got, w)
		}
	}
}

func TestScheduleNone(t *testing.T) {
	s := newSched(t, config.Scheduler{Name: "none"}, 0.1, 20, 10)
	schedCheckEpochs(t, s, map[int]float64{0: 0.1, 9: 0.1, 19: 0.1, 100: 0.1})
	if s.PerBatch() {
		t.Error("none is per batch")
	}
}

func TestScheduleStep(t *testing.T) {
	s := newSched(t, config.Scheduler{Name: "step", StepSize: 10, Gamma: 0.1}, 0.1, 30, 10)
	// 0.1·0.1^⌊e/10⌋: epochs 0-9 → 0.1, 10-19 → 0.01, 20-29 → 0.001.
	schedCheckEpochs(t, s, map[int]float64{0: 0.1, 9: 0.1, 10: 0.01, 19: 0.01, 25: 0.001, -1: 0.1})
	if s.PerBatch() {
		t.Error("step is per batch")
	}
}

func TestScheduleMultiStep(t *testing.T) {
	cfg := config.Scheduler{Name: "multistep", Milestones: []int{5, 15, 16}, Gamma: 0.5}
	s := newSched(t, cfg, 0.8, 20, 10)
	// 0.8·0.5^(milestones ≤ e): e < 5 → 0.8; 5 ≤ e < 15 → 0.4; e = 15 → 0.2; e ≥ 16 → 0.8·0.5³ = 0.1.
	schedCheckEpochs(t, s, map[int]float64{0: 0.8, 4: 0.8, 5: 0.4, 14: 0.4, 15: 0.2, 16: 0.1, 19: 0.1})
	cfg.Milestones[0] = 0
	if s.LR(0, 0) != 0.8 {
		t.Error("the schedule shares the caller's milestones")
	}
	if s.PerBatch() {
		t.Error("multistep is per batch")
	}
}

func TestScheduleExponential(t *testing.T) {
	s := newSched(t, config.Scheduler{Name: "exponential", Gamma: 0.5}, 0.1, 20, 10)
	// 0.1·0.5^e.
	schedCheckEpochs(t, s, map[int]float64{0: 0.1, 1: 0.05, 3: 0.0125, 10: 0.1 / 1024})
	if s.PerBatch() {
		t.Error("exponential is per batch")
	}
}

func TestScheduleCosine(t *testing.T) {
	// lr 0.1, min 0.001, 10 epochs of 4 batches, 2 warm-up epochs: W = 8
	// warm-up batches, then T = 32 annealing batches.
	cfg := config.Scheduler{Name: "cosine", WarmupEpochs: 2, MinLR: 0.001}
	s := newSched(t, cfg, 0.1, 10, 4)
	if !s.PerBatch() {
		t.Error("cosine is not per batch")
	}
	schedCheckSteps(t, s, map[int]float64{
		0: 0.0125, // 0.1·1/8
		3: 0.05,   // 0.1·4/8
		7: 0.1,    // 0.1·8/8
		8: 0.1,    // t = 0: cos 0 = 1
		// t = 1: 0.001 + 0.099·(1+cos(π/32))/2
		9: 0.09976164397027375,
		// t = 16: cos(π/2) = 0, (0.1+0.001)/2
		24: 0.0505,
		// t = 31, the last batch: 0.001 + 0.099·(1+cos(31π/32))/2
		39: 0.0012383560297262576,
		// Beyond the run the last rate holds; before it the first.
		40:  0.0012383560297262576,
		1e6: 0.0012383560297262576,
		-3:  0.0125,
	})
	// Without warm-up the first batch gets the full rate.
	s = newSched(t, config.Scheduler{Name: "cosine"}, 0.1, 10, 4)
	schedCheckSteps(t, s, map[int]float64{0: 0.1, 20: 0.05})
}

func TestScheduleOneCycle(t *testing.T) {
	// The default configuration: max 0.1, 20 epochs of 10 batches
	// (total 200), pct_start 0.25, div 25, final div 1e4. Phase 1 ends at
	// step 0.25·200 - 1 = 49; initial = 0.004, min = 4e-7. The values are
	// those of PyTorch's get_lr, evaluated in float64.
	cfg := config.Default().Solver.Scheduler
	s := newSched(t, cfg, 0.1, 20, 10)
	if !s.PerBatch() {
		t.Error("onecycle is not per batch")
	}
	schedCheckSteps(t, s, map[int]float64{
		// pct 0: 0.1 + (0.004-0.1)/2·2 (= max/div up to rounding)
		0: 0.0040000000000000036,
		// pct 10/49: 0.1 + (0.004-0.1)/2·(cos(10π/49)+1)
		10: 0.013532146150338084,
		49: 0.1, // end of phase 1: max
		// phase 2, pct 1/150
		50: 0.09998903421760559,
		// pct 75/150 = 0.5: (0.1 + 4e-7)/2
		124: 0.0500002,
		199: 4e-07, // last step: max/div/final_div
		500: 4e-07,
	})
	if got := s.LR(0, 0); math.Abs(got-0.1/25) > 1e-15 {
		t.Errorf("first rate %v, want max/div = 0.004", got)
	}

	// A phase boundary between two steps: 7 epochs of 3 batches, pct 0.3,
	// so phase 1 ends at 0.3·21 - 1 = 5.3 and phase 2 starts from 5.3 (not
	// from 6) as in PyTorch. max 1, div 10, final div 100.
	cfg = config.Scheduler{Name: "onecycle", PctStart: 0.3, DivFactor: 10, FinalDivFactor: 100}
	s = newSched(t, cfg, 1, 7, 3)
	schedCheckSteps(t, s, map[int]float64{
		0:  0.09999999999999998,
		1:  0.1767674415474091,
		5:  0.9929037600764186, // pct 5/5.3
		6:  0.9944209976994517, // phase 2, pct 0.7/14.7
		13: 0.4631723182535811,
		19: 0.012363626767958272,
		20: 0.001, // 1/10/100
	})
	// The rate rises through step 6 (the peak 5.3 lies between steps 5 and
	// 6) and falls from there.
	prev := 0.0
	for n := 0; n <= 6; n++ {
		if lr := s.LR(0, n); !(lr > prev) {
			t.Errorf("phase 1 not increasing at step %d: %v after %v", n, lr, prev)
		} else {
			prev = lr
		}
	}
	for n := 7; n <= 20; n++ {
		if lr := s.LR(0, n); !(lr < prev) {
			t.Errorf("phase 2 not decreasing at step %d: %v after %v", n, lr, prev)
		} else {
			prev = lr
		}
	}
}

func TestNewScheduleErrors(t *testing.T) {
	type args struct {
		cfg           config.Scheduler
		lr            float64
		epochs, steps int
	}
	ok := config.Default().Solver.Scheduler
	with := func(f func(*config.Scheduler)) config.Scheduler {
		c := ok
		f(&c)
		return c
	}
	bad := map[string]args{
		"unknown name":       {with(func(c *config.Scheduler) { c.Name = "linear" }), 0.1, 20, 10},
		"negative lr":        {ok, -0.1, 20, 10},
		"zero lr":            {ok, 0, 20, 10},
		"nan lr":             {ok, math.NaN(), 20, 10},
		"zero epochs":        {ok, 0.1, 0, 10},
		"zero steps":         {ok, 0.1, 20, 0},
		"step size 0":        {with(func(c *config.Scheduler) { c.Name = "step"; c.StepSize = 0 }), 0.1, 20, 10},
		"step gamma 0":       {with(func(c *config.Scheduler) { c.Name = "step"; c.Gamma = 0 }), 0.1, 20, 10},
		"exp gamma negative": {with(func(c *config.Scheduler) { c.Name = "exponential"; c.Gamma = -0.5 }), 0.1, 20, 10},
		"multistep none":     {with(func(c *config.Scheduler) { c.Name = "multistep"; c.Milestones = nil }), 0.1, 20, 10},
		"multistep negative": {with(func(c *config.Scheduler) { c.Name = "multistep"; c.Milestones = []int{5, -1} }), 0.1, 20, 10},
		"multistep unsorted": {with(func(c *config.Scheduler) { c.Name = "multistep"; c.Milestones = []int{15, 5} }), 0.1, 20, 10},
		"multistep repeated": {with(func(c *config.Scheduler) { c.Name = "multistep"; c.Milestones = []int{5, 5} }), 0.1, 20, 10},
		"multistep zero":     {with(func(c *config.Scheduler) { c.Name = "multistep"; c.Milestones = []int{0, 5} }), 0.1, 20, 10},
		"multistep gamma":    {with(func(c *config.Scheduler) { c.Name = "multistep"; c.Milestones = []int{5}; c.Gamma = math.Inf(1) }), 0.1, 20, 10},
		"cosine warmup all":  {with(func(c *config.Scheduler) { c.Name = "cosine"; c.WarmupEpochs = 20 }), 0.1, 20, 10},
		"cosine warmup < 0":  {with(func(c *config.Scheduler) { c.Name = "cosine"; c.WarmupEpochs = -1 }), 0.1, 20, 10},
		"cosine min > lr":    {with(func(c *config.Scheduler) { c.Name = "cosine"; c.MinLR = 0.2 }), 0.1, 20, 10},
		"cosine min < 0":     {with(func(c *config.Scheduler) { c.Name = "cosine"; c.MinLR = -1e-3 }), 0.1, 20, 10},
		"onecycle pct > 1":   {with(func(c *config.Scheduler) { c.PctStart = 1.5 }), 0.1, 20, 10},
		"onecycle pct < 0":   {with(func(c *config.Scheduler) { c.PctStart = -0.1 }), 0.1, 20, 10},
		"onecycle div 0":     {with(func(c *config.Scheduler) { c.DivFactor = 0 }), 0.1, 20, 10},
		"onecycle final 0":   {with(func(c *config.Scheduler) { c.FinalDivFactor = 0 }), 0.1, 20, 10},
		// pct·total = 1: phase 1 has zero length (PyTorch divides by zero).
		"onecycle one step": {with(func(c *config.Scheduler) { c.PctStart = 0.005 }), 0.1, 20, 10},
	}
	for name, a := range bad {
		if _, err := NewSchedule(a.cfg, a.lr, a.epochs, a.steps); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Edge cases that are valid.
	good := map[string]args{
		"default":          {ok, 0.1, 20, 10},
		"onecycle pct 0":   {with(func(c *config.Scheduler) { c.PctStart = 0 }), 0.1, 20, 10},
		"onecycle pct 1":   {with(func(c *config.Scheduler) { c.PctStart = 1 }), 0.1, 20, 10},
		"cosine min == lr": {with(func(c *config.Scheduler) { c.Name = "cosine"; c.MinLR = 0.1 }), 0.1, 20, 10},
		"step gamma > 1":   {with(func(c *config.Scheduler) { c.Name = "step"; c.Gamma = 2 }), 0.1, 20, 10},
		"none":             {with(func(c *config.Scheduler) { c.Name = "none" }), 0.1, 1, 1},
		"empty name":       {with(func(c *config.Scheduler) { c.Name = "" }), 0.1, 20, 10},
	}
	for name, a := range good {
		s, err := NewSchedule(a.cfg, a.lr, a.epochs, a.steps)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for n := 0; n < a.epochs*a.steps; n++ {
			if lr := s.LR(n/a.steps, n); math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
				t.Errorf("%s: LR(%d) = %v", name, n, lr)
				break
			}
		}
	}
	// pct 0: phase 1 ends at step -1, so step 0 is already in phase 2, at
	// pct (0+1)/(199+1): 4e-7 + (0.1-4e-7)/2·(cos(π/200)+1).
	s := newSched(t, with(func(c *config.Scheduler) { c.PctStart = 0 }), 0.1, 20, 10)
	schedCheckSteps(t, s, map[int]float64{0: 0.09999383164875654, 199: 4e-7})
	// pct 1: phase 1 covers the run, the last step reaches the maximum.
	s = newSched(t, with(func(c *config.Scheduler) { c.PctStart = 1 }), 0.1, 20, 10)
	schedCheckSteps(t, s, map[int]float64{0: 0.0040000000000000036, 199: 0.1})
}
