package leaderboard

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cifar-resnet/trainer/config"
)

// Architecture describes a network compactly: "stem 16; 16×2, 32×2/2"
// (channels×blocks, /stride when not 1), with "; residual γ from 0" for
// zero-initialised residual branches.
func Architecture(m config.Model) string {
	parts := make([]string, len(m.Stages))
	for i, s := range m.Stages {
		parts[i] = fmt.Sprintf("%d×%d", s.Channels, s.Blocks)
		if s.Stride != 1 {
			parts[i] += fmt.Sprintf("/%d", s.Stride)
		}
	}
	out := fmt.Sprintf("stem %d; %s", m.StemChannels, strings.Join(parts, ", "))
	if m.ZeroInitResidual {
		out += "; residual γ from 0"
	}
	return out
}

// Recipe describes the optimisation compactly: "sgd+nesterov 0.9 lr 0.1,
// wd 0.0005, onecycle, batch 128", then label smoothing and distillation
// when used.
func Recipe(s config.Solver) string {
	o := s.Optimizer
	opt := fmt.Sprintf("%s lr %g", o.Name, o.LR)
	if o.Name == "sgd" && o.Nesterov {
		opt = fmt.Sprintf("sgd+nesterov %g lr %g", o.Momentum, o.LR)
	}
	out := fmt.Sprintf("%s, wd %g, %s, batch %d", opt, o.WeightDecay, s.Scheduler.Name, s.BatchSize)
	if s.LabelSmoothing > 0 {
		out += fmt.Sprintf(", smoothing %g", s.LabelSmoothing)
	}
	if d := s.Distillation; d.Enabled() {
		names := make([]string, len(d.Teachers))
		for i, t := range d.Teachers {
			names[i] = filepath.Base(filepath.Dir(t))
		}
		out += fmt.Sprintf(", distilled from %s (weight %g, T %g)", strings.Join(names, "+"), d.Weight, d.Temperature)
	}
	return out
}

// Augmentation describes the training augmentation: "crop 4 + flip +
// cutout 8", or "none".
func Augmentation(a config.Augment) string {
	var parts []string
	if a.CropPadding > 0 {
		parts = append(parts, fmt.Sprintf("crop %d", a.CropPadding))
	}
	if a.HorizontalFlip {
		parts = append(parts, "flip")
	}
	if a.Cutout > 0 {
		parts = append(parts, fmt.Sprintf("cutout %d", a.Cutout))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}
