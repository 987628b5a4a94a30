package trainer

import (
	"math"
	"slices"
	"testing"

	"github.com/cifar-resnet/trainer/config"
)

// TestRegistriesMatchConfig pins the names of the optimizers and
// schedules to config, which owns them: every name config accepts has a
// builder here, and there is no builder config does not know of.
func TestRegistriesMatchConfig(t *testing.T) {
	for _, r := range []struct {
		what  string
		names []string
		keys  []string
	}{
		{"optimizers", config.OptimizerNames(), mapKeys(optimizers)},
		{"schedules", config.SchedulerNames(), mapKeys(schedules)},
	} {
		want := slices.Sorted(slices.Values(r.names))
		if !slices.Equal(r.keys, want) {
			t.Errorf("%s: builders for %v, config accepts %v", r.what, r.keys, want)
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestScheduleRulesAgreeWithConfig builds schedules at the edges of the
// rules and checks that NewSchedule accepts exactly what config
// validation accepts, the rules being stated once, in config.
func TestScheduleRulesAgreeWithConfig(t *testing.T) {
	onecycle := config.Default().Solver.Scheduler
	with := func(f func(*config.Scheduler)) config.Scheduler {
		c := onecycle
		c.Milestones = nil
		f(&c)
		return c
	}
	multistep := func(ms ...int) config.Scheduler {
		return with(func(c *config.Scheduler) { c.Name, c.Milestones = "multistep", ms })
	}
	cosine := func(minLR float64, warmup int) config.Scheduler {
		return with(func(c *config.Scheduler) { c.Name, c.MinLR, c.WarmupEpochs = "cosine", minLR, warmup })
	}
	for name, tc := range map[string]struct {
		cfg   config.Scheduler
		lr    float64
		valid bool
	}{
		"pct_start 0":           {with(func(c *config.Scheduler) { c.PctStart = 0 }), 0.1, true},
		"pct_start 1":           {with(func(c *config.Scheduler) { c.PctStart = 1 }), 0.1, true},
		"pct_start -0.01":       {with(func(c *config.Scheduler) { c.PctStart = -0.01 }), 0.1, false},
		"pct_start 1.01":        {with(func(c *config.Scheduler) { c.PctStart = 1.01 }), 0.1, false},
		"pct_start NaN":         {with(func(c *config.Scheduler) { c.PctStart = math.NaN() }), 0.1, false},
		"milestones increasing": {multistep(3, 7), 0.1, true},
		"milestones unsorted":   {multistep(7, 3), 0.1, false},
		"milestones repeated":   {multistep(3, 3), 0.1, false},
		"milestone 0":           {multistep(0, 3), 0.1, false},
		"no milestones":         {multistep(), 0.1, false},
		"cosine min_lr = lr":    {cosine(0.1, 0), 0.1, true},
		"cosine min_lr > lr":    {cosine(0.2, 0), 0.1, false},
		"cosine warm-up 9":      {cosine(0, 9), 0.1, true},
		"cosine warm-up 10":     {cosine(0, 10), 0.1, false},
		"empty name":            {with(func(c *config.Scheduler) { c.Name = "" }), 0.1, true},
		"unknown name":          {with(func(c *config.Scheduler) { c.Name = "linear" }), 0.1, false},
		"lr 0":                  {onecycle, 0, false},
		"div_factor 0":          {with(func(c *config.Scheduler) { c.DivFactor = 0 }), 0.1, false},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Solver.Epochs = 10
			cfg.Solver.Scheduler = tc.cfg
			cfg.Solver.Optimizer.LR = tc.lr
			verr := cfg.Validate()
			_, serr := NewSchedule(tc.cfg, tc.lr, 10, 7)
			if (verr == nil) != tc.valid || (serr == nil) != tc.valid {
				t.Errorf("config.Validate: %v; NewSchedule: %v; want valid = %v from both", verr, serr, tc.valid)
			}
		})
	}
}

// TestOptimizerRulesAgreeWithConfig does the same for NewOptimizer.
func TestOptimizerRulesAgreeWithConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*config.Optimizer)
		valid  bool
	}{
		"default":            {func(*config.Optimizer) {}, true},
		"adam with nesterov": {func(c *config.Optimizer) { c.Name = "adam" }, false},
		"adam":               {func(c *config.Optimizer) { c.Name, c.Nesterov = "adam", false }, true},
		"lr 0":               {func(c *config.Optimizer) { c.LR = 0 }, false},
		"momentum 1":         {func(c *config.Optimizer) { c.Momentum = 1 }, false},
		"adam momentum 1":    {func(c *config.Optimizer) { c.Name, c.Nesterov, c.Momentum = "adam", false, 1 }, false},
		"sgd beta1 1":        {func(c *config.Optimizer) { c.Beta1 = 1 }, false},
		"weight decay -1":    {func(c *config.Optimizer) { c.WeightDecay = -1 }, false},
		"unknown":            {func(c *config.Optimizer) { c.Name = "rmsprop" }, false},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default()
			tc.change(&cfg.Solver.Optimizer)
			verr := cfg.Validate()
			_, oerr := NewOptimizer(cfg.Solver.Optimizer)
			if (verr == nil) != tc.valid || (oerr == nil) != tc.valid {
				t.Errorf("config.Validate: %v; NewOptimizer: %v; want valid = %v from both", verr, oerr, tc.valid)
			}
		})
	}
}
