package gpu

// Stages returns the number of staging buffers of e's uploads.
func Stages(e *Engine) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.stages)
}
