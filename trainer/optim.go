package trainer

import (
	"fmt"
	"math"
	"sort"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// Param is one learnable tensor as the optimizer sees it.
type Param struct {
	// Name identifies the tensor; it must stay the same from step to step
	// and is recorded in the optimizer state to check checkpoints.
	Name string
	// Data holds the values, updated in place by Step.
	Data []float32
	// Grad is the gradient of the loss with respect to Data; it has the same
	// length as Data and is only read.
	Grad []float32
	// Decay says whether weight decay applies to this tensor. It is false for
	// batch norm γ and β and for biases unless the configuration asks for
	// them to decay too (config.Optimizer.DecayBNAndBias); the caller sets it.
	Decay bool
}

// Optimizer updates parameters from their gradients, with the semantics of
// the PyTorch optimizer of the same name (torch.optim.SGD, Adam, AdamW).
//
// An optimizer's per-parameter state is allocated at its first Step, sized
// from the parameters it is given then. Every later Step must get the same
// parameters: same number, same names in the same order and same lengths.
// Step panics otherwise, since that is a programming error; use
// CheckState to vet parameters against a restored checkpoint
// with an error instead.
//
// Arithmetic: parameters and state are stored as float32, like PyTorch's
// float32 tensors. Each element's update is computed in float64 and every
// value that PyTorch keeps in a float32 tensor (the decayed gradient, the
// momentum buffer, Adam's m and v, the weights after AdamW's decoupled
// decay and the updated weights) is rounded to float32 where PyTorch
// stores it. Results therefore agree with PyTorch's float32 kernels to
// within rounding, about an ulp per operation, not always bit for bit.
type Optimizer interface {
	// Step applies one update with learning rate lr to every parameter.
	Step(params []Param, lr float64)
	// State returns a deep copy of the optimizer's state for checkpointing.
	State() OptimizerState
	// SetState replaces the optimizer's state with a deep copy of s. It
	// returns an error, leaving the optimizer unchanged, when s belongs to a
	// different optimizer, is inconsistent, or does not match the parameter
	// names and lengths the optimizer has already been stepped with.
	SetState(s OptimizerState) error
}

// Names of the optimizer state slots.
const (
	slotVelocity = "velocity"
	slotM        = "m"
	slotV        = "v"
)

// OptimizerState is an optimizer's state, the type a checkpoint stores:
// the optimizer's name and step count, and per slot ("velocity" for SGD
// with momentum; "m" and "v" for Adam and AdamW) one slice per parameter,
// in the order of ParamNames. Slots and ParamNames are empty before the
// first Step; Slots is empty for plain SGD.
type OptimizerState = checkpoint.OptimizerState

// fresh reports whether s is the state of an optimizer that has not taken
// a step yet.
func fresh(s OptimizerState) bool {
	if len(s.ParamNames) != 0 || s.Step != 0 {
		return false
	}
	for _, slot := range s.Slots {
		if len(slot) != 0 {
			return false
		}
	}
	return true
}

// CheckState reports, with an error, whether s can drive params: a fresh
// state fits any parameters; otherwise params must have the recorded names
// in the recorded order and each slot the length of its parameter. An
// optimizer restored from s and then stepped with params panics exactly
// when CheckState returns an error.
func CheckState(s OptimizerState, params []Param) error {
	if fresh(s) {
		return nil
	}
	if len(params) != len(s.ParamNames) {
		return fmt.Errorf("optimizer state: %d parameters recorded, %d given", len(s.ParamNames), len(params))
	}
	for i, p := range params {
		if p.Name != s.ParamNames[i] {
			return fmt.Errorf("optimizer state: parameter %d is %q, recorded as %q", i, p.Name, s.ParamNames[i])
		}
		if len(p.Grad) != len(p.Data) {
			return fmt.Errorf("optimizer state: parameter %q has %d values but %d gradients", p.Name, len(p.Data), len(p.Grad))
		}
	}
	keys := make([]string, 0, len(s.Slots))
	for k := range s.Slots {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		slot := s.Slots[k]
		if len(slot) != len(params) {
			return fmt.Errorf("optimizer state: slot %q has %d entries for %d parameters", k, len(slot), len(params))
		}
		for i, p := range params {
			if len(slot[i]) != len(p.Data) {
				return fmt.Errorf("optimizer state: slot %q of parameter %q has length %d, parameter has %d", k, p.Name, len(slot[i]), len(p.Data))
			}
		}
	}
	return nil
}

// optimizers builds each optimizer from a configuration that passed
// config.Optimizer.Validate, by name. Its keys are the names of
// config.OptimizerNames, which owns them and the ranges of the arguments.
var optimizers = map[string]func(cfg config.Optimizer) Optimizer{
	"sgd": func(cfg config.Optimizer) Optimizer {
		o := &sgd{momentum: cfg.Momentum, nesterov: cfg.Nesterov, weightDecay: cfg.WeightDecay}
		o.st.name = cfg.Name
		if cfg.Momentum != 0 {
			o.st.slotNames = []string{slotVelocity}
		}
		return o
	},
	"adam":  newAdam,
	"adamw": newAdam,
}

// newAdam builds Adam, or AdamW (decoupled weight decay) for "adamw".
func newAdam(cfg config.Optimizer) Optimizer {
	o := &adam{
		beta1:       cfg.Beta1,
		beta2:       cfg.Beta2,
		eps:         cfg.Epsilon,
		weightDecay: cfg.WeightDecay,
		decoupled:   cfg.Name == "adamw",
	}
	o.st.name = cfg.Name
	o.st.slotNames = []string{slotM, slotV}
	return o
}

// NewOptimizer returns the optimizer named by cfg.Name ("sgd", "adam" or
// "adamw") with cfg's hyperparameters. The learning rate is not taken from
// cfg but passed to every Step (the schedule derives it from cfg.LR).
// It checks cfg with config.Optimizer.Validate, the one statement of the
// names and ranges, and returns its error, which lists every problem with
// its YAML path; arguments of the other optimizers are checked too, but
// not used.
func NewOptimizer(cfg config.Optimizer) (Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("optimizer: %w", err)
	}
	build, ok := optimizers[cfg.Name]
	if !ok {
		// A name config accepts without a builder here: a programming error.
		return nil, fmt.Errorf("optimizer: internal error: no optimizer %q", cfg.Name)
	}
	return build(cfg), nil
}

// optState is the bookkeeping shared by the optimizers: the step count,
// the parameter layout and the per-parameter slots.
type optState struct {
	name      string   // optimizer name, as in OptimizerState.Name
	slotNames []string // the slots this optimizer keeps, in slots' order
	step      int64
	names     []string      // parameter names; nil until the first Step or a restore
	sizes     []int         // parameter lengths; nil until known
	slots     [][][]float32 // slots[k][i] is slot slotNames[k] of parameter i
}

// bind allocates the state at the first Step and afterwards checks that
// params have the layout the state was built for. It does not allocate
// once the state exists.
func (s *optState) bind(params []Param) {
	for i := range params {
		if len(params[i].Grad) != len(params[i].Data) {
			panic(fmt.Sprintf("optimizer %s: parameter %q has %d values but %d gradients", s.name, params[i].Name, len(params[i].Data), len(params[i].Grad)))
		}
	}
	if s.names == nil {
		s.names = make([]string, len(params))
		s.sizes = make([]int, len(params))
		for i := range params {
			s.names[i] = params[i].Name
			s.sizes[i] = len(params[i].Data)
		}
		s.slots = make([][][]float32, len(s.slotNames))
		for k := range s.slots {
			s.slots[k] = make([][]float32, len(params))
			for i, n := range s.sizes {
				s.slots[k][i] = make([]float32, n)
			}
		}
		return
	}
	if len(params) != len(s.names) {
		panic(fmt.Sprintf("optimizer %s: stepped with %d parameters, state has %d", s.name, len(params), len(s.names)))
	}
	for i := range params {
		if params[i].Name != s.names[i] {
			panic(fmt.Sprintf("optimizer %s: parameter %d is %q, state has %q", s.name, i, params[i].Name, s.names[i]))
		}
	}
	if s.sizes == nil {
		// Restored state without slots (plain SGD) records no lengths.
		s.sizes = make([]int, len(params))
		for i := range params {
			s.sizes[i] = len(params[i].Data)
		}
	}
	for i := range params {
		if len(params[i].Data) != s.sizes[i] {
			panic(fmt.Sprintf("optimizer %s: parameter %q has length %d, state has %d", s.name, params[i].Name, len(params[i].Data), s.sizes[i]))
		}
	}
}

// state returns a deep copy of s as an OptimizerState.
func (s *optState) state() OptimizerState {
	st := OptimizerState{Name: s.name, Step: s.step, Slots: make(map[string][][]float32, len(s.slotNames))}
	if s.names == nil {
		return st
	}
	st.ParamNames = make([]string, len(s.names))
	copy(st.ParamNames, s.names)
	for k, name := range s.slotNames {
		st.Slots[name] = copySlot(s.slots[k])
	}
	return st
}

// setState validates st and, if it is acceptable, replaces s with a deep
// copy of it.
func (s *optState) setState(st OptimizerState) error {
	if st.Name != s.name {
		return fmt.Errorf("optimizer %s: cannot restore the state of optimizer %q", s.name, st.Name)
	}
	if st.Step < 0 {
		return fmt.Errorf("optimizer %s: negative step %d in state", s.name, st.Step)
	}
	for k := range st.Slots {
		known := false
		for _, name := range s.slotNames {
			known = known || k == name
		}
		if !known && (len(st.Slots[k]) != 0 || len(st.ParamNames) != 0) {
			return fmt.Errorf("optimizer %s: unexpected slot %q in state", s.name, k)
		}
	}
	if fresh(st) {
		s.step, s.names, s.sizes, s.slots = 0, nil, nil, nil
		return nil
	}
	n := len(st.ParamNames)
	var sizes []int
	slots := make([][][]float32, len(s.slotNames))
	for k, name := range s.slotNames {
		slot, ok := st.Slots[name]
		if !ok && n > 0 {
			return fmt.Errorf("optimizer %s: slot %q missing from state", s.name, name)
		}
		if len(slot) != n {
			return fmt.Errorf("optimizer %s: slot %q has %d entries for %d parameters", s.name, name, len(slot), n)
		}
		if k == 0 {
			sizes = make([]int, n)
			for i := range slot {
				sizes[i] = len(slot[i])
			}
		}
		for i := range slot {
			if len(slot[i]) != sizes[i] {
				return fmt.Errorf("optimizer %s: slot %q of parameter %q has length %d, slot %q has %d",
					s.name, name, st.ParamNames[i], len(slot[i]), s.slotNames[0], sizes[i])
			}
		}
		slots[k] = copySlot(slot)
	}
	if s.names != nil {
		// Already stepped: the state must describe the same parameters.
		if n != len(s.names) {
			return fmt.Errorf("optimizer %s: state has %d parameters, optimizer has %d", s.name, n, len(s.names))
		}
		for i, name := range st.ParamNames {
			if name != s.names[i] {
				return fmt.Errorf("optimizer %s: state parameter %d is %q, optimizer has %q", s.name, i, name, s.names[i])
			}
			if sizes != nil && s.sizes != nil && sizes[i] != s.sizes[i] {
				return fmt.Errorf("optimizer %s: state parameter %q has length %d, optimizer has %d", s.name, name, sizes[i], s.sizes[i])
			}
		}
		if sizes == nil {
			sizes = s.sizes
		}
	}
	s.step = st.Step
	s.names = make([]string, n)
	copy(s.names, st.ParamNames)
	s.sizes = sizes
	s.slots = slots
	return nil
}

// copySlot returns a deep copy of one slot.
func copySlot(slot [][]float32) [][]float32 {
	out := make([][]float32, len(slot))
	for i, x := range slot {
		out[i] = make([]float32, len(x))
		copy(out[i], x)
	}
	return out
}

// sgd is torch.optim.SGD with dampening 0.
type sgd struct {
	st          optState
	momentum    float64
	nesterov    bool
	weightDecay float64
}

// Step applies one SGD update: g = grad + wd·w (for decaying parameters);
// with momentum μ, v = μ·v + g (v = g at the first step, as the buffer
// starts at zero) and the update is g + μ·v (Nesterov) or v; without
// momentum the update is g; then w -= lr·update.
func (o *sgd) Step(params []Param, lr float64) {
	o.st.bind(params)
	o.st.step++
	mu := o.momentum
	for i := range params {
		w := params[i].Data
		grad := params[i].Grad[:len(w)]
		wd := 0.0
		if params[i].Decay {
			wd = o.weightDecay
		}
		if mu == 0 {
			for j := range w {
				g := float64(grad[j])
				if wd != 0 {
					g = float64(float32(g + wd*float64(w[j])))
				}
				w[j] = float32(float64(w[j]) - lr*g)
			}
			continue
		}
		vel := o.st.slots[0][i][:len(w)]
		for j := range w {
			g := float64(grad[j])
			if wd != 0 {
				g = float64(float32(g + wd*float64(w[j])))
			}
			v := float32(mu*float64(vel[j]) + g)
			vel[j] = v
			u := float64(v)
			if o.nesterov {
				u = float64(float32(g + mu*u))
			}
			w[j] = float32(float64(w[j]) - lr*u)
		}
	}
}

// State returns a deep copy of the SGD state; it has a "velocity" slot
// when momentum is on.
func (o *sgd) State() OptimizerState { return o.st.state() }

// SetState restores a state returned by State of an SGD optimizer with
// the same momentum setting.
func (o *sgd) SetState(s OptimizerState) error { return o.st.setState(s) }

// adam is torch.optim.Adam (L2 weight decay added to the gradient) or,
// with decoupled set, torch.optim.AdamW; amsgrad is not supported.
type adam struct {
	st          optState
	beta1       float64
	beta2       float64
	eps         float64
	weightDecay float64
	decoupled   bool
}

// Step applies one Adam or AdamW update at step t (counting from 1). For
// AdamW a decaying parameter first shrinks, w *= 1 - lr·wd, and g = grad;
// for Adam g = grad + wd·w for a decaying parameter. Then m = β1·m +
// (1-β1)·g, v = β2·v + (1-β2)·g², and w -= lr/(1-β1^t) · m /
// (sqrt(v)/sqrt(1-β2^t) + eps), PyTorch's arrangement of
// lr·m̂/(sqrt(v̂)+eps).
func (o *adam) Step(params []Param, lr float64) {
	o.st.bind(params)
	o.st.step++
	t := float64(o.st.step)
	b1, b2, eps := o.beta1, o.beta2, o.eps
	stepSize := lr / (1 - math.Pow(b1, t))
	bc2Sqrt := math.Sqrt(1 - math.Pow(b2, t))
	for i := range params {
		w := params[i].Data
		grad := params[i].Grad[:len(w)]
		m := o.st.slots[0][i][:len(w)]
		v := o.st.slots[1][i][:len(w)]
		wd := 0.0
		if params[i].Decay {
			wd = o.weightDecay
		}
		if o.decoupled {
			if wd != 0 {
				scale := 1 - lr*wd
				for j := range w {
					w[j] = float32(float64(w[j]) * scale)
				}
			}
			wd = 0
		}
		for j := range w {
			g := float64(grad[j])
			if wd != 0 {
				g = float64(float32(g + wd*float64(w[j])))
			}
			mj := float32(b1*float64(m[j]) + (1-b1)*g)
			vj := float32(b2*float64(v[j]) + (1-b2)*g*g)
			m[j], v[j] = mj, vj
			denom := math.Sqrt(float64(vj))/bc2Sqrt + eps
			w[j] = float32(float64(w[j]) - stepSize*float64(mj)/denom)
		}
	}
}

// State returns a deep copy of the Adam or AdamW state, with slots "m"
// and "v".
func (o *adam) State() OptimizerState { return o.st.state() }

// SetState restores a state returned by State of an optimizer of the same
// name.
func (o *adam) SetState(s OptimizerState) error { return o.st.setState(s) }
