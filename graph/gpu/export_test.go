package gpu

import (
	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/cuda"
)

// Stages returns the number of staging buffers of e's uploads.
func Stages(e *Engine) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.stages)
}

// UploadPlain copies src into t as Upload does for ordinary memory,
// after the work queued before, without a staging buffer.
func UploadPlain(e *Engine, t *tensor.Dense, src []float32) error {
	p, err := e.ptr(t, tensor.Float32, "upload destination")
	if err != nil {
		return err
	}
	return cuda.Upload(e.dev, p, src)
}
