package kernels

import "github.com/cifar-resnet/trainer/graph/cuda"

// Hooks for the tests and benchmarks of package kernels_test: the tile
// heights, the choice among them, and the convolution launches with a
// given tile height tm instead of the chosen one.

var (
	TileRows = tileRows
	TileFor  = tileFor
)

// FilterSplitsTile is FilterSplits for tiles of tm rows.
func FilterSplitsTile(g Conv, tm int) int { return filterSplits(g, tm) }

// ConvForwardTile is ConvForward with tiles of tm rows.
func (m *Module) ConvForwardTile(tm int, g Conv, y, x, w, bias, skip cuda.Ptr, relu bool) error {
	return m.convForward(g, tm, y, x, w, bias, skip, relu)
}

// ConvBackwardDataTile is ConvBackwardData with tiles of tm rows.
func (m *Module) ConvBackwardDataTile(tm int, g Conv, dx, w, dy cuda.Ptr) error {
	return m.convBackwardData(g, tm, dx, w, dy)
}

// ConvBackwardFilterTile is ConvBackwardFilter with tiles of tm rows.
func (m *Module) ConvBackwardFilterTile(tm int, g Conv, dw, x, dy, work cuda.Ptr, splits int) error {
	return m.convBackwardFilter(g, tm, dw, x, dy, work, splits)
}

// SetTrace makes every later launch call f with the kernel's name and
// grid first, and return f's error instead of launching when there is
// one; nil stops it.
func (m *Module) SetTrace(f func(name string, grid cuda.Dim3) error) { m.trace = f }
