package trainer

import (
	"fmt"
	"math"
	"sort"

	"github.com/cifar-resnet/trainer/config"
)

// Schedule gives the learning rate at a point of training. Rates are
// computed in closed form from the position, so they need no state beyond
// the position itself, which the solver stores.
type Schedule interface {
	// LR returns the learning rate for the batch with index step (0-based,
	// counted over the whole run) of epoch (0-based). Per-epoch schedules
	// read only epoch and per-batch schedules only step; a negative
	// position counts as 0 and a per-batch schedule holds its last rate
	// for steps at or beyond epochs·stepsPerEpoch.
	LR(epoch, step int) float64
	// PerBatch says whether the rate changes within an epoch (onecycle,
	// cosine) or only between epochs.
	PerBatch() bool
}

// NewSchedule returns the schedule named by cfg.Name for a run of epochs
// epochs of stepsPerEpoch batches each, starting from (or, for onecycle,
// peaking at) baseLR:
//
//   - "none" (or an empty name): baseLR throughout.
//   - "step": baseLR·γ^⌊epoch/step_size⌋ (torch StepLR).
//   - "multistep": baseLR·γ^(number of milestones ≤ epoch) (torch
//     MultiStepLR).
//   - "exponential": baseLR·γ^epoch (torch ExponentialLR).
//   - "cosine": per batch, a linear warm-up baseLR·(step+1)/W over the
//     W = warmup_epochs·stepsPerEpoch first batches, then min_lr +
//     (baseLR-min_lr)·(1+cos(π·t/T))/2 with t = step-W and T the number of
//     remaining batches.
//   - "onecycle": per batch, torch OneCycleLR with max_lr = baseLR,
//     total_steps = epochs·stepsPerEpoch, anneal_strategy "cos" and
//     three_phase false. Only the learning rate is scheduled: PyTorch's
//     default cycle_momentum, which also varies the momentum, has no
//     counterpart here.
//
// The names and the ranges of the arguments, baseLR (solver.optimizer.lr)
// and epochs (solver.epochs) included, are those of
// config.Solver.ValidateSchedule, which NewSchedule calls and whose error
// it returns. It adds only the rules that depend on the data: stepsPerEpoch
// must be at least 1, and a onecycle warm-up must not be exactly one step
// long (pct_start·epochs·stepsPerEpoch = 1), which PyTorch cannot evaluate.
func NewSchedule(cfg config.Scheduler, baseLR float64, epochs, stepsPerEpoch int) (Schedule, error) {
	run := config.Solver{Optimizer: config.Optimizer{LR: baseLR}, Scheduler: cfg, Epochs: epochs}
	if err := run.ValidateSchedule(); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if stepsPerEpoch < 1 {
		return nil, fmt.Errorf("scheduler: steps per epoch %d must be at least 1", stepsPerEpoch)
	}
	if epochs > math.MaxInt32 || stepsPerEpoch > math.MaxInt32 {
		return nil, fmt.Errorf("scheduler: %d epochs of %d steps is too long", epochs, stepsPerEpoch)
	}
	build, ok := schedules[cfg.EffectiveName()]
	if !ok {
		// A name config accepts without a builder here: a programming error.
		return nil, fmt.Errorf("scheduler: internal error: no schedule %q", cfg.EffectiveName())
	}
	return build(cfg, baseLR, epochs*stepsPerEpoch, stepsPerEpoch)
}

// schedules builds each schedule from a configuration that passed
// config.Solver.ValidateSchedule, by name, for a run of total batches of
// stepsPerEpoch each. Its keys are the names of config.SchedulerNames,
// which owns them and the ranges of the arguments.
var schedules = map[string]func(cfg config.Scheduler, lr float64, total, stepsPerEpoch int) (Schedule, error){
	"none": func(cfg config.Scheduler, lr float64, total, stepsPerEpoch int) (Schedule, error) {
		return constantSchedule{lr: lr}, nil
	},
	"step": func(cfg config.Scheduler, lr float64, total, stepsPerEpoch int) (Schedule, error) {
		return stepSchedule{lr: lr, gamma: cfg.Gamma, size: cfg.StepSize}, nil
	},
	"multistep": func(cfg config.Scheduler, lr float64, total, stepsPerEpoch int) (Schedule, error) {
		ms := append([]int(nil), cfg.Milestones...) // strictly increasing
		return multiStepSchedule{lr: lr, gamma: cfg.Gamma, milestones: ms}, nil
	},
	"exponential": func(cfg config.Scheduler, lr float64, total, stepsPerEpoch int) (Schedule, error) {
		return exponentialSchedule{lr: lr, gamma: cfg.Gamma}, nil
	},
	"cosine": func(cfg config.Scheduler, lr float64, total, stepsPerEpoch int) (Schedule, error) {
		return cosineSchedule{lr: lr, min: cfg.MinLR, warmup: cfg.WarmupEpochs * stepsPerEpoch, total: total}, nil
	},
	"onecycle": func(cfg config.Scheduler, lr float64, total, stepsPerEpoch int) (Schedule, error) {
		// PyTorch: the warm-up phase ends at step float(pct_start·total) - 1.
		end1 := cfg.PctStart*float64(total) - 1
		if end1 == 0 {
			// PyTorch divides by end_step - start_step = 0 at step 0.
			return nil, fmt.Errorf("scheduler: onecycle pct_start %v gives a warm-up of a single step out of %d, which PyTorch cannot evaluate", cfg.PctStart, total)
		}
		initial := lr / cfg.DivFactor
		return oneCycleSchedule{
			initial: initial,
			max:     lr,
			min:     initial / cfg.FinalDivFactor,
			end1:    end1,
			total:   total,
		}, nil
	},
}

// constantSchedule is the "none" schedule.
type constantSchedule struct{ lr float64 }

// LR returns the constant rate.
func (s constantSchedule) LR(epoch, step int) float64 { return s.lr }

// PerBatch returns false.
func (s constantSchedule) PerBatch() bool { return false }

// stepSchedule is torch.optim.lr_scheduler.StepLR.
type stepSchedule struct {
	lr, gamma float64
	size      int
}

// LR returns lr·γ^⌊epoch/size⌋.
func (s stepSchedule) LR(epoch, step int) float64 {
	return s.lr * math.Pow(s.gamma, float64(max(epoch, 0)/s.size))
}

// PerBatch returns false.
func (s stepSchedule) PerBatch() bool { return false }

// multiStepSchedule is torch.optim.lr_scheduler.MultiStepLR.
type multiStepSchedule struct {
	lr, gamma  float64
	milestones []int // strictly increasing
}

// LR returns lr·γ^(number of milestones ≤ epoch).
func (s multiStepSchedule) LR(epoch, step int) float64 {
	e := max(epoch, 0)
	n := sort.Search(len(s.milestones), func(i int) bool { return s.milestones[i] > e })
	return s.lr * math.Pow(s.gamma, float64(n))
}

// PerBatch returns false.
func (s multiStepSchedule) PerBatch() bool { return false }

// exponentialSchedule is torch.optim.lr_scheduler.ExponentialLR.
type exponentialSchedule struct{ lr, gamma float64 }

// LR returns lr·γ^epoch.
func (s exponentialSchedule) LR(epoch, step int) float64 {
	return s.lr * math.Pow(s.gamma, float64(max(epoch, 0)))
}

// PerBatch returns false.
func (s exponentialSchedule) PerBatch() bool { return false }

// cosineSchedule is a linear warm-up followed by cosine annealing, per
// batch.
type cosineSchedule struct {
	lr, min float64
	warmup  int // warm-up batches
	total   int // batches in the run; warmup < total
}

// LR returns the warm-up or annealed rate of batch step.
func (s cosineSchedule) LR(epoch, step int) float64 {
	step = min(max(step, 0), s.total-1)
	if step < s.warmup {
		return s.lr * float64(step+1) / float64(s.warmup)
	}
	t := float64(step - s.warmup)
	T := float64(s.total - s.warmup)
	// The conversion keeps the product from being fused into the sum.
	return s.min + float64((s.lr-s.min)*(1+math.Cos(math.Pi*t/T))/2)
}

// PerBatch returns true.
func (s cosineSchedule) PerBatch() bool { return true }

// oneCycleSchedule is torch.optim.lr_scheduler.OneCycleLR with two
// cosine phases.
type oneCycleSchedule struct {
	initial, max, min float64
	end1              float64 // last step of the warm-up phase, float(pct·total) - 1
	total             int
}

// LR returns the rate of batch step, computed like PyTorch's get_lr.
func (s oneCycleSchedule) LR(epoch, step int) float64 {
	n := float64(min(max(step, 0), s.total-1))
	if n <= s.end1 {
		return annealCos(s.initial, s.max, n/s.end1)
	}
	return annealCos(s.max, s.min, (n-s.end1)/(float64(s.total-1)-s.end1))
}

// PerBatch returns true.
func (s oneCycleSchedule) PerBatch() bool { return true }

// annealCos is PyTorch's OneCycleLR._annealing_cos: it goes from start to
// end as pct goes from 0 to 1, evaluated in the same order of operations.
func annealCos(start, end, pct float64) float64 {
	cosOut := math.Cos(math.Pi*pct) + 1
	// The conversion keeps the product from being fused into the sum.
	return end + float64((start-end)/2.0*cosOut)
}
