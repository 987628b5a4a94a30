package trainer

import (
	"fmt"
	"math"

	"github.com/cifar-resnet/trainer/config"
)

// EarlyStop returns why solver.early_stopping ends the run after the
// epochs of s.History, or "" when the run goes on (always when early
// stopping is off). The count of epochs without improvement is not kept
// apart: it is recomputed from the validation accuracies of the history,
// so a resumed run, whose checkpoint holds its history, stops after the
// same epoch as an uninterrupted one, and the count cannot disagree with
// the history. A run resumed with other early-stopping settings (a change
// of kind config.Schedule) applies them to its whole history.
func (s *Solver) EarlyStop() string {
	return earlyStop(s.Config.Solver.EarlyStopping, s.History.ValAcc)
}

// earlyStop applies es to the validation accuracies of the epochs so far,
// as Keras' EarlyStopping: an epoch improves when its accuracy exceeds the
// best of the improving epochs before it by more than es.MinDelta (the
// first always improves); the run stops once es.Patience epochs in a row
// have not improved. It returns the reason to stop, or "".
func earlyStop(es config.EarlyStopping, valAcc []float64) string {
	if !es.Enabled() {
		return ""
	}
	best, since, wait := math.Inf(-1), 0, 0
	for i, v := range valAcc {
		if v-es.MinDelta > best {
			best, since, wait = v, i+1, 0
		} else {
			wait++
		}
	}
	if wait < es.Patience {
		return ""
	}
	epochs := "epochs"
	if wait == 1 {
		epochs = "epoch"
	}
	return fmt.Sprintf("the validation accuracy has not improved on epoch %d's %.2f%% by more than min_delta = %g for %d %s (solver.early_stopping.patience = %d)",
		since, 100*best, es.MinDelta, wait, epochs, es.Patience)
}
