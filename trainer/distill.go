package trainer

import (
	"fmt"
	"slices"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/model"
)

// teachers are the trained networks of knowledge distillation.
type teachers struct {
	nets        []*model.Classifier
	temperature float64
	probs       []float32
}

// loadTeachers reads the teacher checkpoints of d, which must have been
// trained on inputs normalised as norm; their nets run on be (nil for the
// CPU backend).
func loadTeachers(d config.Distillation, norm config.Normalize, be backend.Backend) (*teachers, error) {
	t := &teachers{temperature: d.Temperature}
	for i, path := range d.Teachers {
		c, err := model.Load(path)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("trainer: solver.distillation.teachers[%d]: %w", i, err)
		}
		c.Model.Backend = be
		t.nets = append(t.nets, c)
		if !slices.Equal(c.Normalize.Mean, norm.Mean) || !slices.Equal(c.Normalize.Std, norm.Std) {
			t.close()
			return nil, fmt.Errorf("trainer: solver.distillation.teachers[%d]: %s was trained with data.normalize mean %v, std %v, not this configuration's mean %v, std %v",
				i, path, c.Normalize.Mean, c.Normalize.Std, norm.Mean, norm.Std)
		}
	}
	return t, nil
}

// predict returns, for the normalised images x, the mean over the
// teachers of softmax(logits/T), one row of dataset.NumClasses per image.
// The slice is overwritten by the next call.
func (t *teachers) predict(x []float32) ([]float32, error) {
	n := len(x) / dataset.ImageSize
	t.probs = slices.Grow(t.probs[:0], n*dataset.NumClasses)[:n*dataset.NumClasses]
	clear(t.probs)
	w := 1 / float64(len(t.nets))
	for _, c := range t.nets {
		logits, err := c.Logits(x)
		if err != nil {
			return nil, fmt.Errorf("trainer: teacher: %w", err)
		}
		for r := range n {
			p := model.Softmax(logits[r*dataset.NumClasses:(r+1)*dataset.NumClasses], t.temperature)
			for k, v := range p {
				t.probs[r*dataset.NumClasses+k] += float32(w) * v
			}
		}
	}
	return t.probs, nil
}

func (t *teachers) close() {
	for _, c := range t.nets {
		c.Close()
	}
}
