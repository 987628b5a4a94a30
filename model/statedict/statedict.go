// Package statedict converts the network's weights to and from the
// state_dict of its PyTorch twin, the ResNet of ../shared/bench/torch_ref.py,
// so that PyTorch's model.load_state_dict accepts them unchanged.
//
// The names map module by module (K counts the residual blocks of all
// stages from 0, in order):
//
//	stem.conv                  stem.0
//	stem.bn                    stem.1
//	stageS.blockB.conv1, bn1   blocks.K.c1, blocks.K.b1
//	stageS.blockB.conv2, bn2   blocks.K.c2, blocks.K.b2
//	stageS.blockB.skip.conv    blocks.K.sc.0
//	stageS.blockB.skip.bn      blocks.K.sc.1
//	fc                         fc
//
// and within a module, a batch norm's gamma and beta become weight and
// bias, running_mean and running_var keep their names, and every batch
// norm gains PyTorch's num_batches_tracked, a scalar int64. Convolution
// weights are out×in×kH×kW and the dense weight is out×in in both, so the
// values are copied as they are.
package statedict

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/safetensors"
)

// NumBatchesTracked is the suffix of the buffer PyTorch's batch norm adds
// to the running statistics.
const NumBatchesTracked = "num_batches_tracked"

// blockName matches the prefix of a residual block's tensors.
var blockName = regexp.MustCompile(`^(stage[0-9]+\.block[0-9]+)\.(.+)$`)

// Module names within a block, ours to PyTorch's.
var blockModules = map[string]string{
	"conv1": "c1", "bn1": "b1", "conv2": "c2", "bn2": "b2",
	"skip.conv": "sc.0", "skip.bn": "sc.1",
}

// Parameter suffixes, ours to PyTorch's.
var suffixes = map[string]string{
	"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
	"running_mean": "running_mean", "running_var": "running_var",
}

// namer renames tensors, numbering the blocks in the order it first sees
// them.
type namer struct {
	blocks map[string]int
}

// torch returns the PyTorch module and tensor suffix of one of our tensor
// names.
func (n *namer) torch(name string) (module, suffix string, err error) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || suffixes[name[i+1:]] == "" {
		return "", "", fmt.Errorf("statedict: no PyTorch name for the tensor %q", name)
	}
	ours, suffix := name[:i], suffixes[name[i+1:]]
	switch ours {
	case "stem.conv":
		return "stem.0", suffix, nil
	case "stem.bn":
		return "stem.1", suffix, nil
	case "fc":
		return "fc", suffix, nil
	}
	m := blockName.FindStringSubmatch(ours)
	if m == nil || blockModules[m[2]] == "" {
		return "", "", fmt.Errorf("statedict: no PyTorch name for the tensor %q", name)
	}
	k, ok := n.blocks[m[1]]
	if !ok {
		k = len(n.blocks)
		n.blocks[m[1]] = k
	}
	return "blocks." + strconv.Itoa(k) + "." + blockModules[m[2]], suffix, nil
}

// entry is one tensor of the state_dict with the model tensor it comes
// from (ours is nil for num_batches_tracked).
type entry struct {
	key  string
	ours *checkpoint.Tensor
}

// layout lists the state_dict of the network whose parameters and
// statistics are params and stats, in PyTorch's order: module by module,
// parameters then buffers.
func layout(params, stats []checkpoint.Tensor) ([]entry, error) {
	n := &namer{blocks: map[string]int{}}
	modules := make([]string, len(params))
	sfx := make([]string, len(params))
	for i, p := range params { // numbers the blocks in the order of the parameters
		var err error
		if modules[i], sfx[i], err = n.torch(p.Name); err != nil {
			return nil, err
		}
	}
	statsOf := map[string][]*checkpoint.Tensor{}
	for i := range stats {
		module, _, err := n.torch(stats[i].Name)
		if err != nil {
			return nil, err
		}
		statsOf[module] = append(statsOf[module], &stats[i])
	}
	var es []entry
	for i := range params {
		module := modules[i]
		es = append(es, entry{module + "." + sfx[i], &params[i]})
		// A batch norm's buffers follow its bias (β).
		if strings.HasSuffix(params[i].Name, ".beta") {
			st := statsOf[module]
			if len(st) != 2 {
				return nil, fmt.Errorf("statedict: the batch norm %s has %d running statistics, want 2", strings.TrimSuffix(params[i].Name, ".beta"), len(st))
			}
			for _, s := range st {
				_, suffix, _ := n.torch(s.Name)
				es = append(es, entry{module + "." + suffix, s})
			}
			es = append(es, entry{module + "." + NumBatchesTracked, nil})
			delete(statsOf, module)
		}
	}
	for _, s := range stats {
		if module, _, _ := n.torch(s.Name); statsOf[module] != nil {
			return nil, fmt.Errorf("statedict: the running statistic %s belongs to no batch norm of the parameters", s.Name)
		}
	}
	return es, nil
}

// Export returns the state_dict of the network whose parameters and batch
// norm statistics are params and stats (as model.Model.ParamTensors and
// StatTensors name them), in the order of PyTorch's state_dict, all float32
// but the num_batches_tracked of every batch norm, which is batches.
func Export(params, stats []checkpoint.Tensor, batches int64) ([]safetensors.Tensor, error) {
	es, err := layout(params, stats)
	if err != nil {
		return nil, err
	}
	ts := make([]safetensors.Tensor, len(es))
	for i, e := range es {
		if e.ours == nil {
			ts[i] = safetensors.Int64(e.key, []int{}, []int64{batches})
			continue
		}
		ts[i] = safetensors.Float32(e.key, e.ours.Shape, e.ours.Data)
	}
	return ts, nil
}

// Keys returns the state_dict keys of the network whose parameters and
// statistics are params and stats, in PyTorch's order.
func Keys(params, stats []checkpoint.Tensor) ([]string, error) {
	es, err := layout(params, stats)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.key
	}
	return keys, nil
}

// Import returns copies of params and stats (the tensors of the network to
// fill: their names and shapes, as model.Model.ParamTensors and StatTensors
// give them) with the values of the state_dict sd. Every tensor of the
// network must be in sd with its shape, as float32 (num_batches_tracked as
// a scalar int64 >= 0), and sd must hold nothing else; the weights must be
// finite and the running variances finite and >= 0. The error lists every
// tensor that is missing, extra or of the wrong shape or type, by its
// PyTorch name.
func Import(params, stats []checkpoint.Tensor, sd []safetensors.Tensor) (newParams, newStats []checkpoint.Tensor, err error) {
	newParams, newStats = clone(params), clone(stats)
	es, err := layout(newParams, newStats)
	if err != nil {
		return nil, nil, err
	}
	byKey := make(map[string]safetensors.Tensor, len(sd))
	for _, t := range sd {
		byKey[t.Name] = t
	}
	var problems []string
	wanted := make(map[string]bool, len(es))
	for _, e := range es {
		wanted[e.key] = true
		t, ok := byKey[e.key]
		shape, dtype := []int{}, safetensors.I64
		if e.ours != nil {
			shape, dtype = e.ours.Shape, safetensors.F32
		}
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing tensor %s (%s %v)", e.key, dtype, shape))
		case !slices.Equal(t.Shape, shape):
			problems = append(problems, fmt.Sprintf("tensor %s has shape %v, want %v", e.key, t.Shape, shape))
		case t.DType != dtype:
			problems = append(problems, fmt.Sprintf("tensor %s is %s, want %s", e.key, t.DType, dtype))
		default:
			if msg := fill(e, t); msg != "" {
				problems = append(problems, msg)
			}
		}
	}
	for _, t := range sd {
		if !wanted[t.Name] {
			problems = append(problems, fmt.Sprintf("unexpected tensor %s (%s %v): the network has no such tensor", t.Name, t.DType, t.Shape))
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("statedict: the weights do not fit the network:\n\t%s", strings.Join(problems, "\n\t"))
	}
	return newParams, newStats, nil
}

// fill copies the values of t into e's tensor, or describes why they are
// unusable.
func fill(e entry, t safetensors.Tensor) string {
	if e.ours == nil {
		n, err := t.Int64s()
		if err != nil {
			return err.Error()
		}
		if n[0] < 0 {
			return fmt.Sprintf("tensor %s is %d, want a count >= 0", e.key, n[0])
		}
		return ""
	}
	vs, err := t.Float32s()
	if err != nil {
		return err.Error()
	}
	variance := strings.HasSuffix(e.key, ".running_var")
	for i, v := range vs {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprintf("tensor %s holds %g at index %d; want finite values", e.key, f, i)
		}
		if variance && f < 0 {
			return fmt.Sprintf("tensor %s holds the negative variance %g at index %d", e.key, f, i)
		}
	}
	copy(e.ours.Data, vs)
	return ""
}

func clone(ts []checkpoint.Tensor) []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(ts))
	for i, t := range ts {
		out[i] = checkpoint.Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
	}
	return out
}
