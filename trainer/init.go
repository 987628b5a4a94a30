package trainer

import (
	"fmt"
	"slices"

	"github.com/cifar-resnet/trainer/model"
)

// loadInitFrom loads into the model the weights and batch norm statistics
// of the checkpoint model.init_from, the best copy if it has one (as
// model.Load takes), for a new run that fine-tunes them. The checkpoint's
// network must have the tensors of the model, and its normalisation must
// be the configuration's; otherwise the model is left as it was.
func (s *Solver) loadInitFrom() error {
	path := s.Config.Model.InitFrom
	c, err := model.Load(path)
	if err != nil {
		return fmt.Errorf("trainer: model.init_from: %w", err)
	}
	norm := s.Config.Data.Normalize
	if !slices.Equal(c.Normalize.Mean, norm.Mean) || !slices.Equal(c.Normalize.Std, norm.Std) {
		return fmt.Errorf("trainer: model.init_from: %s was trained with data.normalize mean %v, std %v, not this configuration's mean %v, std %v",
			path, c.Normalize.Mean, c.Normalize.Std, norm.Mean, norm.Std)
	}
	// The statistics belong to the batch norms of the parameters: when the
	// parameters fit (SetParams changes nothing otherwise), so do they.
	if err := s.Model.SetParams(c.Model.ParamTensors()); err != nil {
		return fmt.Errorf("trainer: model.init_from: %s: %w", path, err)
	}
	if err := s.Model.SetStats(c.Model.StatTensors()); err != nil {
		return fmt.Errorf("trainer: model.init_from: %s: %w", path, err)
	}
	s.logf("initial weights from %s (epoch %d, validation accuracy %.2f%%)", path, c.Epoch, 100*c.ValAcc)
	return nil
}
