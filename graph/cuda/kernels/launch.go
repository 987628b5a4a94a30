package kernels

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cifar-resnet/trainer/graph/cuda"
)

// Module is the kernels loaded on a device. Its methods queue one kernel
// each on the legacy default stream, with the launch configuration the
// kernel's comment in the sources prescribes, and return without waiting;
// a later synchronising call (a download, cuda.Device.Synchronize)
// reports a failure while running. Sizes are element counts; every
// tensor a kernel indexes must have fewer than 2³¹ elements.
type Module struct {
	dev *cuda.Device
	mod *cuda.Module
	fns map[string]*cuda.Function
	// trace, when not nil (in tests), is called with the name and grid of
	// each launch before it is queued; its error, if any, is returned
	// instead of launching.
	trace func(name string, grid cuda.Dim3) error

	// profMu guards prof, the launches recorded while profiling is on
	// (nil when it is off).
	profMu sync.Mutex
	prof   []timedLaunch
}

// timedLaunch is a kernel launched while profiling, between two timing
// events.
type timedLaunch struct {
	name       string
	start, end *cuda.Event
}

// KernelTime is the time one kernel of a module took while profiling was
// on: how many times it was launched, and the device time between the
// events recorded on the stream just before and just after each launch,
// which is the kernel's run on the GPU (launch latency on the host and
// the gaps between kernels are not counted).
type KernelTime struct {
	Name     string
	Launches int
	Time     time.Duration
}

// StartProfile makes every later launch record a timing event before and
// after it, until StopProfile; it discards any earlier profile. Nothing
// waits, so the kernels run as they do unprofiled, each with two event
// records in between.
func (m *Module) StartProfile() {
	m.profMu.Lock()
	defer m.profMu.Unlock()
	destroyEvents(m.prof)
	m.prof = []timedLaunch{}
}

// StopProfile ends profiling, waits for the device, and returns the time
// of each kernel launched since StartProfile, the longest total first
// (then by name).
func (m *Module) StopProfile() ([]KernelTime, error) {
	m.profMu.Lock()
	defer m.profMu.Unlock()
	launches := m.prof
	m.prof = nil
	defer destroyEvents(launches)
	if err := m.dev.Synchronize(); err != nil {
		return nil, fmt.Errorf("kernels: profile: %w", err)
	}
	times := map[string]*KernelTime{}
	for _, l := range launches {
		d, err := cuda.Elapsed(l.start, l.end)
		if err != nil {
			return nil, fmt.Errorf("kernels: profile of %s: %w", l.name, err)
		}
		t := times[l.name]
		if t == nil {
			t = &KernelTime{Name: l.name}
			times[l.name] = t
		}
		t.Launches++
		t.Time += d
	}
	var ts []KernelTime
	for _, t := range times {
		ts = append(ts, *t)
	}
	slices.SortFunc(ts, func(a, b KernelTime) int {
		if c := cmp.Compare(b.Time, a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return ts, nil
}

// destroyEvents destroys the events of launches. An error would only say
// that an event was not one, which cannot happen here.
func destroyEvents(launches []timedLaunch) {
	for _, l := range launches {
		l.start.Destroy()
		l.end.Destroy()
	}
}

// Load loads the embedded fatbin on dev and looks up every kernel.
func Load(dev *cuda.Device) (*Module, error) {
	names, err := Names()
	if err != nil {
		return nil, err
	}
	mod, err := dev.LoadModule(Fatbin)
	if err != nil {
		return nil, fmt.Errorf("kernels: loading the fatbin on %v: %w", dev, err)
	}
	m := &Module{dev: dev, mod: mod, fns: make(map[string]*cuda.Function, len(names))}
	for _, n := range names {
		f, err := mod.Function(n)
		if err != nil {
			mod.Unload()
			return nil, fmt.Errorf("kernels: %w", err)
		}
		m.fns[n] = f
	}
	return m, nil
}

// Unload unloads the module from the device.
func (m *Module) Unload() error { return m.mod.Unload() }

// launch queues kernel name on grid with Block threads per block.
func (m *Module) launch(name string, grid cuda.Dim3, args ...any) error {
	f, ok := m.fns[name]
	if !ok {
		return fmt.Errorf("kernels: no kernel %s in the module", name)
	}
	if m.trace != nil {
		if err := m.trace(name, grid); err != nil {
			return err
		}
	}
	m.profMu.Lock()
	defer m.profMu.Unlock()
	run := func() error {
		if err := f.Launch(grid, cuda.Dim3{X: Block, Y: 1, Z: 1}, nil, args...); err != nil {
			return fmt.Errorf("kernels: %w", err)
		}
		return nil
	}
	if m.prof == nil {
		return run()
	}
	l := timedLaunch{name: name}
	var err error
	if l.start, err = m.dev.NewTimingEvent(); err == nil {
		if l.end, err = m.dev.NewTimingEvent(); err != nil {
			l.start.Destroy()
		}
	}
	if err != nil {
		return fmt.Errorf("kernels: profile of %s: %w", name, err)
	}
	record := func(e *cuda.Event) error {
		if err := e.Record(nil); err != nil {
			return fmt.Errorf("kernels: profile of %s: %w", name, err)
		}
		return nil
	}
	err = record(l.start)
	if err == nil {
		err = run()
	}
	if err == nil {
		err = record(l.end)
	}
	if err != nil {
		destroyEvents([]timedLaunch{l})
		return err
	}
	m.prof = append(m.prof, l)
	return nil
}

// maxGrid1 caps the blocks of a grid-stride kernel: enough to fill any
// current GPU many times over.
const maxGrid1 = 1 << 16

// launch1 queues a grid-stride kernel over n elements; n = 0 queues
// nothing.
func (m *Module) launch1(name string, n int, args ...any) error {
	return m.launchGroups(name, n, Block, args...)
}

// launchGroups queues a kernel whose blocks loop over n items perBlock at
// a time (a grid-stride loop over groups), on a block per group up to
// maxGrid1 blocks; n = 0 queues nothing. The caller checks any other size
// the kernel indexes.
func (m *Module) launchGroups(name string, n, perBlock int, args ...any) error {
	if n == 0 {
		return nil
	}
	if err := checkSize(name, n); err != nil {
		return err
	}
	g := cuda.Grid1(n, perBlock)
	g.X = min(g.X, maxGrid1)
	return m.launch(name, g, args...)
}

// checkSize returns an error unless every size is in [0, 2³¹).
func checkSize(name string, sizes ...int) error {
	for _, n := range sizes {
		if n < 0 || n > math.MaxInt32 {
			return fmt.Errorf("kernels: %s: size %d out of range [0, %d]", name, n, math.MaxInt32)
		}
	}
	return nil
}

// flag converts a bool to the int a kernel takes.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Fill sets n floats at y to v.
func (m *Module) Fill(y cuda.Ptr, v float32, n int) error {
	return m.launch1("fill_f32", n, y, v, n)
}

// Add sets y = a + b over n floats; y may be a or b.
func (m *Module) Add(y, a, b cuda.Ptr, n int) error {
	return m.launch1("add_f32", n, y, a, b, n)
}

// ReLU sets y = max(x, 0) over n floats.
func (m *Module) ReLU(y, x cuda.Ptr, n int) error {
	return m.launch1("relu_f32", n, y, x, n)
}

// AddReLU sets y = max(a + b, 0) over n floats.
func (m *Module) AddReLU(y, a, b cuda.Ptr, n int) error {
	return m.launch1("add_relu_f32", n, y, a, b, n)
}

// ReLUBackward sets dx = dy where y > 0 and 0 elsewhere, over n floats; y
// is the ReLU's output.
func (m *Module) ReLUBackward(dx, y, dy cuda.Ptr, n int) error {
	return m.launch1("relu_backward_f32", n, dx, y, dy, n)
}

// gapRow is the number of threads of a gap_forward_f32 block that sum one
// row (GAP_ROW in pool.cu).
const gapRow = 32

// sumRows is the number of thread rows of a sum_partials_f32 block
// (SUM_ROWS in elementwise.cu), which adds Block/sumRows outputs.
const sumRows = 8

// SumPartials sets out[i] = Σ_z parts[z·n + i] for z < splits.
func (m *Module) SumPartials(out, parts cuda.Ptr, splits, n int) error {
	if err := checkSize("sum_partials_f32", splits*n); err != nil {
		return err
	}
	return m.launchGroups("sum_partials_f32", n, Block/sumRows, out, parts, splits, n)
}

// GAPForward sets y[r] to the mean of the hw floats of row r of x, for
// rows = N·C rows.
func (m *Module) GAPForward(y, x cuda.Ptr, rows, hw int) error {
	if err := checkSize("gap_forward_f32", rows*hw); err != nil {
		return err
	}
	return m.launchGroups("gap_forward_f32", rows, Block/gapRow, y, x, rows, hw)
}

// GAPBackward sets dx[r·hw + j] = dy[r]/hw for rows rows.
func (m *Module) GAPBackward(dx, dy cuda.Ptr, rows, hw int) error {
	return m.launch1("gap_backward_f32", rows*hw, dx, dy, hw, rows*hw)
}

// tileFor returns the tile height TM of a convolution kernel whose product
// has m rows (channels): the smallest of tileRows that holds them, the
// largest above them all.
func tileFor(m int) int {
	for _, tm := range tileRows {
		if m <= tm {
			return tm
		}
	}
	return tileRows[len(tileRows)-1]
}

// convKernel returns the name of convolution kernel base (conv_forward,
// conv_backward_data, conv_backward_filter) compiled for tiles of tm rows.
func convKernel(base string, tm int) string { return fmt.Sprintf("%s_m%d_f32", base, tm) }

// gemmGrid returns the grid of matrix-product kernel name, with tiles of
// tm rows by tn columns, for an M×N result and splits slices of the sum:
// an error when the grid's y or z exceeds what a GPU accepts.
func gemmGrid(name string, tm, tn, M, N, splits int) (cuda.Dim3, error) {
	g := cuda.Dim3{X: ceilDiv(N, tn), Y: ceilDiv(M, tm), Z: splits}
	if g.Y > cuda.MaxGrid.Y || g.Z > cuda.MaxGrid.Z {
		return g, fmt.Errorf("kernels: %s: grid %v for a %d×%d result in %d slices: y and z must be at most %d", name, g, M, N, splits, cuda.MaxGrid.Y)
	}
	return g, nil
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// op(A) M×K and op(B) K×N (transposed when transA, transB), with leading
// dimensions lda, ldb, ldc; with beta = 0, C is not read.
func (m *Module) Sgemm(transA, transB bool, M, N, K int, alpha float32, a cuda.Ptr, lda int, b cuda.Ptr, ldb int, beta float32, c cuda.Ptr, ldc int) error {
	if M == 0 || N == 0 {
		return nil
	}
	if err := checkSize("sgemm_f32", M*lda, K*ldb, N*ldb, M*ldc, K*lda); err != nil {
		return err
	}
	grid, err := gemmGrid("sgemm_f32", sgemmTileRows, tileArea/sgemmTileRows, M, N, 1)
	if err != nil {
		return err
	}
	return m.launch("sgemm_f32", grid, flag(transA), flag(transB), M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
}

// BroadcastRows sets every row of the rows×cols matrix y to b.
func (m *Module) BroadcastRows(y, b cuda.Ptr, rows, cols int) error {
	return m.launch1("broadcast_rows_f32", rows*cols, y, b, rows, cols)
}

// SumRows sets out[j] to the sum of column j of the rows×cols matrix x.
func (m *Module) SumRows(out, x cuda.Ptr, rows, cols int) error {
	if err := checkSize("sum_rows_f32", rows*cols); err != nil {
		return err
	}
	return m.launch1("sum_rows_f32", cols, out, x, rows, cols)
}

// DenseForward sets y = x·wᵀ + b for x of shape n×in, w of shape out×in
// and b of length out.
func (m *Module) DenseForward(y, x, w, b cuda.Ptr, n, in, out int) error {
	if err := m.BroadcastRows(y, b, n, out); err != nil {
		return err
	}
	return m.Sgemm(false, true, n, out, in, 1, x, in, w, in, 1, y, out)
}

// DenseBackward computes the gradients of DenseForward from dy (n×out):
// dx = dy·w, dw = dyᵀ·x and db = Σ_rows dy. A zero pointer skips that
// gradient.
func (m *Module) DenseBackward(dx, dw, db, x, w, dy cuda.Ptr, n, in, out int) error {
	if dx != 0 {
		if err := m.Sgemm(false, false, n, in, out, 1, dy, out, w, in, 0, dx, in); err != nil {
			return err
		}
	}
	if dw != 0 {
		if err := m.Sgemm(true, false, out, in, n, 1, dy, out, x, in, 0, dw, in); err != nil {
			return err
		}
	}
	if db != 0 {
		return m.SumRows(db, dy, n, out)
	}
	return nil
}

// Conv is the geometry of a convolution of N×C×H×W images with a K×C×R×R
// filter, stride Stride and zero padding Pad on each side.
type Conv struct {
	N, C, H, W  int
	K, R        int
	Stride, Pad int
}

// OH is the output height, (H + 2·Pad - R)/Stride + 1.
func (g Conv) OH() int { return (g.H+2*g.Pad-g.R)/g.Stride + 1 }

// OW is the output width, (W + 2·Pad - R)/Stride + 1.
func (g Conv) OW() int { return (g.W+2*g.Pad-g.R)/g.Stride + 1 }

// check returns an error unless the geometry is valid and its tensors fit
// the kernels' int indices: those of the tensors' elements, and those of
// the patches' top-left corners, which may lie in the padding, less than
// (H+2·Pad+1)·(W+2·Pad+1) past the start of the last image.
func (g Conv) check() error {
	if g.N < 1 || g.C < 1 || g.H < 1 || g.W < 1 || g.K < 1 || g.R < 1 || g.Stride < 1 || g.Pad < 0 || g.OH() < 1 || g.OW() < 1 {
		return fmt.Errorf("kernels: invalid convolution geometry %+v", g)
	}
	corner := g.N*g.C*g.H*g.W + (g.H+2*g.Pad+1)*(g.W+2*g.Pad+1)
	return checkSize("conv", g.N*g.C*g.H*g.W, g.N*g.K*g.OH()*g.OW(), g.K*g.C*g.R*g.R, g.N*g.OH()*g.OW()*g.C*g.R*g.R, corner)
}

// args returns the geometry as the kernels take it: N, C, H, W, K, R, S,
// P, OH, OW.
func (g Conv) args() []any {
	return []any{g.N, g.C, g.H, g.W, g.K, g.R, g.Stride, g.Pad, g.OH(), g.OW()}
}

// ConvForward sets y = conv(x, w), then adds bias[k] to output channel k
// (unless bias is 0), adds skip (unless 0) and applies max(·, 0) when relu.
func (m *Module) ConvForward(g Conv, y, x, w, bias, skip cuda.Ptr, relu bool) error {
	if tw, ok := direct3x3(g, g.C); ok {
		return m.conv3x3(g, tw, false, y, x, w, bias, skip, relu)
	}
	return m.convForward(g, tileFor(g.K), y, x, w, bias, skip, relu)
}

// direct3x3 reports whether the direct 3×3 kernels (conv3x3.cu) compute
// the forward pass (ci = C) or the input gradient (ci = K) of g, and with
// tiles of what width: a 3×3 filter of stride 1 and padding 1, on images
// at least 16 wide (tiles 16 wide up to 16, else 32), summing at least
// direct3x3In input channels (the channels a step copies, which the
// stem's 3 would leave mostly empty). The others, and everything else,
// are matrix products.
func direct3x3(g Conv, ci int) (tw int, ok bool) {
	if g.R != 3 || g.Stride != 1 || g.Pad != 1 || g.W < 16 || ci < direct3x3In {
		return 0, false
	}
	if g.W <= 16 {
		return 16, true
	}
	return 32, true
}

// conv3x3 launches conv3x3_w<tw>_f32 for g: its forward pass (y from x
// and w), or with flip its input gradient (y = dx from x = dy and w).
func (m *Module) conv3x3(g Conv, tw int, flip bool, y, x, w, bias, skip cuda.Ptr, relu bool) error {
	if err := g.check(); err != nil {
		return err
	}
	ci, ko := g.C, g.K
	if flip {
		ci, ko = g.K, g.C
	}
	// cuda.Function.Launch refuses a grid beyond a GPU's limits.
	grid := cuda.Dim3{X: directTiles(g, tw), Y: ceilDiv(ko, direct3x3Out), Z: 1}
	return m.launch(fmt.Sprintf("conv3x3_w%d_f32", tw), grid, y, x, w, bias, skip, flag(relu), flag(flip), g.N, ci, g.H, g.W, ko)
}

// convForward is ConvForward with tiles of tm rows.
func (m *Module) convForward(g Conv, tm int, y, x, w, bias, skip cuda.Ptr, relu bool) error {
	if err := g.check(); err != nil {
		return err
	}
	name := convKernel("conv_forward", tm)
	grid, err := gemmGrid(name, tm, tileArea/tm, g.K, g.N*g.OH()*g.OW(), 1)
	if err != nil {
		return err
	}
	args := append([]any{y, x, w, bias, skip, flag(relu)}, g.args()...)
	return m.launch(name, grid, args...)
}

// ConvBackwardData sets dx = ∂L/∂x from the filter w and dy = ∂L/∂y.
func (m *Module) ConvBackwardData(g Conv, dx, w, dy cuda.Ptr) error {
	if tw, ok := direct3x3(g, g.K); ok {
		return m.conv3x3(g, tw, true, dx, dy, w, 0, 0, false)
	}
	return m.convBackwardData(g, tileFor(g.C), dx, w, dy)
}

// convBackwardData is ConvBackwardData with tiles of tm rows.
func (m *Module) convBackwardData(g Conv, tm int, dx, w, dy cuda.Ptr) error {
	if err := g.check(); err != nil {
		return err
	}
	name := convKernel("conv_backward_data", tm)
	grid, err := gemmGrid(name, tm, tileArea/tm, g.C, g.N*g.H*g.W, 1)
	if err != nil {
		return err
	}
	args := append([]any{dx, w, dy}, g.args()...)
	return m.launch(name, grid, args...)
}

// FilterSplits is the number of slices ConvBackwardFilter splits its sum
// over the N·OH·OW output positions into: about filterBlocks blocks of the
// tile shape it launches, each slice summing at least filterSlice
// positions, or for the direct 3×3 kernel at least direct3x3SliceTiles
// of its tiles.
func FilterSplits(g Conv) int {
	if tw, ok := directFilter(g); ok {
		tiles := directTiles(g, tw)
		blocks := ceilDiv(g.K, direct3x3Filter) * ceilDiv(g.C, direct3x3Filter)
		return max(1, min(ceilDiv(filterBlocks, blocks), tiles/direct3x3SliceTiles))
	}
	return filterSplits(g, tileFor(g.K))
}

// directFilter reports whether ConvBackwardFilter uses the direct 3×3
// kernel (conv3x3_filter_w<tw>_f32) for g: where direct3x3 applies with at
// least direct3x3In channels on both sides.
func directFilter(g Conv) (tw int, ok bool) { return direct3x3(g, min(g.C, g.K)) }

// directTiles returns the number of tiles, direct3x3Tile/tw rows by tw
// columns, that the direct 3×3 kernels cut g's images into.
func directTiles(g Conv, tw int) int {
	return g.N * ceilDiv(g.H, direct3x3Tile/tw) * ceilDiv(g.W, tw)
}

// ceilDiv returns ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// direct3x3SliceTiles is the fewest tiles a slice of the direct 3×3
// filter gradient sums, so that a block's setup and its final sums stay
// small beside its work.
const direct3x3SliceTiles = 2

// filterBlocks is the number of blocks FilterSplits aims at: more than an
// H100 or H200 holds at once (132 multiprocessors, 6 blocks each for the
// convolution kernels), so that each multiprocessor has several blocks to
// hide the latency of their loads.
const filterBlocks = 1024

// filterSlice is the fewest positions a slice of FilterSplits sums, so
// that a block's setup (its divisors, its share of the final sums) stays
// small beside its sum.
const filterSlice = 1024

// filterSplits is FilterSplits for tiles of tm rows.
func filterSplits(g Conv, tm int) int {
	tiles := ceilDiv(g.C*g.R*g.R, filterCols) * ceilDiv(g.K, tm)
	s := min(ceilDiv(filterBlocks, tiles), g.N*g.OH()*g.OW()/filterSlice)
	return max(1, s)
}

// FilterWork is the number of floats of the work buffer ConvBackwardFilter
// needs for splits slices: 0 for one slice.
func FilterWork(g Conv, splits int) int {
	if splits <= 1 {
		return 0
	}
	return splits * g.K * g.C * g.R * g.R
}

// ConvBackwardFilter sets dw = ∂L/∂w from the input x and dy = ∂L/∂y,
// summing over the output positions in splits slices (FilterSplits), whose
// partial sums go to work (FilterWork(g, splits) floats) before they are
// added into dw.
func (m *Module) ConvBackwardFilter(g Conv, dw, x, dy, work cuda.Ptr, splits int) error {
	if tw, ok := directFilter(g); ok {
		return m.conv3x3Filter(g, tw, dw, x, dy, work, splits)
	}
	return m.convBackwardFilter(g, tileFor(g.K), dw, x, dy, work, splits)
}

// convBackwardFilter is ConvBackwardFilter with tiles of tm rows.
func (m *Module) convBackwardFilter(g Conv, tm int, dw, x, dy, work cuda.Ptr, splits int) error {
	name := convKernel("conv_backward_filter", tm)
	out, err := filterOut(name, g, dw, work, splits)
	if err != nil {
		return err
	}
	grid, err := gemmGrid(name, tm, filterCols, g.K, g.C*g.R*g.R, splits)
	if err != nil {
		return err
	}
	args := append([]any{out, x, dy}, g.args()...)
	if err := m.launch(name, grid, args...); err != nil {
		return err
	}
	return m.sumFilter(g, dw, work, splits)
}

// filterOut checks g and splits, a number of slices from 1 to g's output
// positions, for filter gradient kernel name, and returns where the kernel
// writes the gradient: dw itself for one slice, else work, which must be
// there.
func filterOut(name string, g Conv, dw, work cuda.Ptr, splits int) (cuda.Ptr, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	if splits < 1 || splits > g.N*g.OH()*g.OW() {
		return 0, fmt.Errorf("kernels: %s: %d slices for %d output positions", name, splits, g.N*g.OH()*g.OW())
	}
	if splits == 1 {
		return dw, nil
	}
	if work == 0 {
		return 0, fmt.Errorf("kernels: %s: %d slices need a work buffer of %d floats", name, splits, FilterWork(g, splits))
	}
	return work, nil
}

// sumFilter adds the splits slices of g's filter gradient in work into
// dw; one slice is dw already.
func (m *Module) sumFilter(g Conv, dw, work cuda.Ptr, splits int) error {
	if splits == 1 {
		return nil
	}
	return m.SumPartials(dw, work, splits, g.K*g.C*g.R*g.R)
}

// conv3x3Filter is ConvBackwardFilter with the direct 3×3 kernel, its
// tiles tw wide.
func (m *Module) conv3x3Filter(g Conv, tw int, dw, x, dy, work cuda.Ptr, splits int) error {
	name := fmt.Sprintf("conv3x3_filter_w%d_f32", tw)
	out, err := filterOut(name, g, dw, work, splits)
	if err != nil {
		return err
	}
	// cuda.Function.Launch refuses a grid beyond a GPU's limits.
	grid := cuda.Dim3{X: splits, Y: ceilDiv(g.K, direct3x3Filter), Z: ceilDiv(g.C, direct3x3Filter)}
	if err := m.launch(name, grid, out, x, dy, g.N, g.C, g.H, g.W, g.K); err != nil {
		return err
	}
	return m.sumFilter(g, dw, work, splits)
}

// BN is the shape of a batch norm's N×C×HW input and its constants.
type BN struct {
	N, C, HW int
	// Momentum weighs the batch in the running statistics:
	// running = (1-Momentum)·running + Momentum·batch.
	Momentum float64
	// Epsilon is added to the variance before the square root.
	Epsilon float64
}

// check returns an error unless the shape is valid and fits int indices.
func (b BN) check() error {
	if b.N < 1 || b.C < 1 || b.HW < 1 {
		return fmt.Errorf("kernels: invalid batch norm shape %+v", b)
	}
	return checkSize("batch norm", b.N*b.C*b.HW)
}

// planes returns the grid of the element-wise batch norm kernels: a
// block per plane (image, channel) and, for a plane of more than Block
// positions, more blocks along y. The shape must have passed check.
func (b BN) planes() cuda.Dim3 {
	return cuda.Dim3{X: b.N * b.C, Y: min(ceilDiv(b.HW, Block), cuda.MaxGrid.Y), Z: 1}
}

// BNSlices is the number of slices BNStats and BNBackwardSums split each
// channel's N·HW values into: about bnBlocks blocks over the C channels,
// each slice summing at least bnSlice values.
func BNSlices(b BN) int {
	return max(1, min(ceilDiv(bnBlocks, b.C), b.N*b.HW/bnSlice))
}

// bnBlocks is the number of blocks of a partial-sum kernel BNSlices aims
// at, about half of what an H100 or H200 holds at once (132
// multiprocessors, 8 blocks of Block threads each). More blocks would put
// more loads in flight, but the finishing kernel's thread per channel
// adds the slices one after another, and the backward sums load two or
// three tensors at a time already. BenchmarkBNSlices times half, once,
// twice and four times this choice; on an H200
// (bench/gpu/2026-11-30-h200.log) this choice was the fastest of the four
// or within 5 % of it, and twice and four times as many blocks were
// slower.
const bnBlocks = 512

// bnSlice is the fewest values a slice of BNSlices sums: 16 per thread of
// a block, four times the 4 loads the compiled loop makes at a time, so
// that a block's final sum over its threads stays a small part of its
// work.
const bnSlice = 4 * 4 * Block

// BNWork is the number of doubles of the work buffer BNStats and
// BNBackwardSums need for slices slices: two per channel and slice.
func BNWork(b BN, slices int) int { return 2 * b.C * slices }

// bnSums queues the two kernels of a per-channel sum: partial on the grid
// (C, slices), then finish on one thread per channel.
func (m *Module) bnSums(b BN, slices int, work cuda.Ptr, partial string, pargs []any, finish string, fargs []any) error {
	if err := b.check(); err != nil {
		return err
	}
	if slices < 1 || slices > cuda.MaxGrid.Y || work == 0 {
		return fmt.Errorf("kernels: %s: %d slices (want 1 to %d) and a work buffer of %d doubles (got address %#x)",
			partial, slices, cuda.MaxGrid.Y, BNWork(b, max(slices, 1)), uint64(work))
	}
	if err := m.launch(partial, cuda.Dim3{X: b.C, Y: slices, Z: 1}, append([]any{work}, pargs...)...); err != nil {
		return err
	}
	return m.launch1(finish, b.C, fargs...)
}

// BNStats computes the batch mean and invstd = 1/sqrt(var + ε) of each
// channel of x into mean and invstd (C doubles each) and updates the
// running statistics runMean and runVar (C floats each) in place, summing
// each channel in slices slices (BNSlices) whose partial sums go to work
// (BNWork(b, slices) doubles).
func (m *Module) BNStats(b BN, mean, invstd, runMean, runVar, x, work cuda.Ptr, slices int) error {
	return m.bnSums(b, slices, work,
		"bn_stats_partial_f32", []any{x, b.N, b.C, b.HW},
		"bn_stats_finish_f32", []any{mean, invstd, runMean, runVar, work, x, b.N, b.C, b.HW, slices, b.Momentum, b.Epsilon})
}

// BNEvalStats sets mean and invstd (C doubles each) from the running
// statistics, for evaluation mode.
func (m *Module) BNEvalStats(b BN, mean, invstd, runMean, runVar cuda.Ptr) error {
	if err := b.check(); err != nil {
		return err
	}
	return m.launch1("bn_eval_stats_f32", b.C, mean, invstd, runMean, runVar, b.C, b.Epsilon)
}

// BNApply sets y = γ·(x - mean)·invstd + β per channel, then max(·, 0)
// when relu.
func (m *Module) BNApply(b BN, y, x, gamma, beta, mean, invstd cuda.Ptr, relu bool) error {
	if err := b.check(); err != nil {
		return err
	}
	return m.launch("bn_apply_f32", b.planes(), y, x, gamma, beta, mean, invstd, b.C, b.HW, flag(relu))
}

// BNBackwardSums computes per channel Σdy and Σdy·x̂ (C doubles each) for
// the backward kernels, and writes them, as floats, to dbeta and dgamma
// (C floats each; a zero pointer skips one), the gradients of β and γ;
// when y is not 0 (batch norm fused with ReLU, y its output) dy counts
// only where y > 0. The slices and work are BNStats'.
func (m *Module) BNBackwardSums(b BN, sumDy, sumDyXhat, dgamma, dbeta, x, dy, y, mean, invstd, work cuda.Ptr, slices int) error {
	return m.bnSums(b, slices, work,
		"bn_backward_sums_partial_f32", []any{x, dy, y, mean, b.N, b.C, b.HW},
		"bn_backward_sums_finish_f32", []any{sumDy, sumDyXhat, dgamma, dbeta, work, invstd, b.C, slices})
}

// BNBackwardData sets dx from dy, x, γ, the saved batch statistics and the
// sums of BNBackwardSums; y as for BNBackwardSums.
func (m *Module) BNBackwardData(b BN, dx, x, dy, y, gamma, mean, invstd, sumDy, sumDyXhat cuda.Ptr) error {
	if err := b.check(); err != nil {
		return err
	}
	return m.launch("bn_backward_data_f32", b.planes(), dx, x, dy, y, gamma, mean, invstd, sumDy, sumDyXhat, b.N, b.C, b.HW)
}

// BNFold folds evaluation-mode batch norm into the K×crr filter w of the
// convolution before it: wf = w·s and bias = β - mean·s per output
// channel, s = γ/sqrt(runVar + eps). ConvForward with wf and bias then
// computes BatchNorm(Conv2D(x, w)).
func (m *Module) BNFold(wf, bias, w, gamma, beta, runMean, runVar cuda.Ptr, k, crr int, eps float64) error {
	return m.launch1("bn_fold_f32", k*crr, wf, bias, w, gamma, beta, runMean, runVar, k, crr, eps)
}

// XentForward sets loss (one float64) to the mean softmax cross-entropy of
// the n×k logits at temperature t against the target rows, times t²; with
// kl, the targets' entropy is subtracted (SoftmaxKLDivergence).
func (m *Module) XentForward(loss, logits, targets cuda.Ptr, n, k int, t float64, kl bool) error {
	if err := checkSize("xent_forward_f32", n*k); err != nil {
		return err
	}
	return m.launch("xent_forward_f32", cuda.Dim3{X: 1, Y: 1, Z: 1}, loss, logits, targets, n, k, t, flag(kl))
}

// XentBackward sets d = g·t·(S·softmax(logits/t) - targets)/n, g being
// the loss's gradient and S each target row's sum.
func (m *Module) XentBackward(d, logits, targets cuda.Ptr, g float64, n, k int, t float64) error {
	if err := checkSize("xent_backward_f32", n*k); err != nil {
		return err
	}
	return m.launch1("xent_backward_f32", n, d, logits, targets, g, n, k, t)
}

// SmoothLabels writes the n×k targets of the n int32 labels with label
// smoothing eps.
func (m *Module) SmoothLabels(dst, labels cuda.Ptr, n, k int, eps float64) error {
	return m.launch1("smooth_labels_f32", n*k, dst, labels, n, k, eps)
}

// OptParam is one tensor of an optimizer step: its values W, gradient
// Grad and state slots S0 and S1 (N floats each; 0 for a slot the
// optimizer does not have), and whether weight decay applies to it.
type OptParam struct {
	W, Grad, S0, S1 cuda.Ptr
	N               int
	Decay           bool
}

// optParamWords is the size of an OptParam in the table, in 8-byte words:
// the four pointers, then N and the decay flag as two 4-byte ints (the
// struct OptParam of optim.cu).
const optParamWords = 5

// OptTable is a table of OptParams in device memory, from which SGD and
// Adam update every tensor in one launch.
type OptTable struct {
	dev    *cuda.Device
	p      cuda.Ptr
	params []OptParam
	maxN   int
}

// NewOptTable checks params and copies them to a new table on the
// device; Free releases it.
func (m *Module) NewOptTable(params []OptParam) (*OptTable, error) {
	if len(params) == 0 || len(params) > math.MaxInt32 {
		return nil, fmt.Errorf("kernels: optimizer table of %d tensors", len(params))
	}
	words := make([]uint64, 0, optParamWords*len(params))
	maxN := 0
	for i, p := range params {
		if p.W == 0 || p.Grad == 0 {
			return nil, fmt.Errorf("kernels: optimizer table: tensor %d has no values or no gradient", i)
		}
		if err := checkSize("optimizer table", p.N); err != nil {
			return nil, err
		}
		words = append(words, uint64(p.W), uint64(p.Grad), uint64(p.S0), uint64(p.S1), uint64(p.N)|uint64(flag(p.Decay))<<32)
		maxN = max(maxN, p.N)
	}
	ptr, err := m.dev.Alloc(8 * uint64(len(words)))
	if err != nil {
		return nil, fmt.Errorf("kernels: optimizer table: %w", err)
	}
	if err := cuda.Upload(m.dev, ptr, words); err != nil {
		m.dev.Free(ptr)
		return nil, fmt.Errorf("kernels: optimizer table: %w", err)
	}
	return &OptTable{dev: m.dev, p: ptr, params: slices.Clone(params), maxN: maxN}, nil
}

// Params returns the tensors of the table.
func (t *OptTable) Params() []OptParam { return t.params }

// Free releases the table's device memory once the kernels queued before
// have finished with it. It returns their error, if any, after freeing.
func (t *OptTable) Free() error {
	err := t.dev.Synchronize()
	if e := t.dev.Free(t.p); err == nil {
		err = e
	}
	return err
}

// grid returns the grid of an optimizer kernel over the table: a row of
// blocks per tensor, enough blocks in a row for the longest tensor.
func (t *OptTable) grid() cuda.Dim3 {
	return cuda.Dim3{X: max(1, min(ceilDiv(t.maxN, Block), maxGrid1)), Y: min(len(t.params), cuda.MaxGrid.Y), Z: 1}
}

// slots returns an error unless every tensor of the table has the first
// n state slots.
func (t *OptTable) slots(name string, n int) error {
	for i, p := range t.params {
		if (n >= 1 && p.S0 == 0) || (n >= 2 && p.S1 == 0) {
			return fmt.Errorf("kernels: %s: tensor %d of the table lacks a state slot (it needs %d)", name, i, n)
		}
	}
	return nil
}

// SGD applies one step of torch.optim.SGD (dampening 0) to every tensor
// of the table: momentum mu (its velocity in slot S0, which may be 0 when
// mu = 0), weight decay wd to the tensors with Decay, learning rate lr.
func (m *Module) SGD(t *OptTable, lr, mu, wd float64, nesterov bool) error {
	if mu != 0 {
		if err := t.slots("sgd_f32", 1); err != nil {
			return fmt.Errorf("%w: momentum %v needs a velocity buffer", err, mu)
		}
	}
	return m.launch("sgd_f32", t.grid(), t.p, len(t.params), lr, mu, wd, flag(nesterov))
}

// Adam applies step t (counting from 1) of torch.optim.Adam, or AdamW when
// decoupled, to every tensor of the table, with its moment buffers in
// slots S0 and S1; weight decay wd applies to the tensors with Decay.
func (m *Module) Adam(tab *OptTable, t int64, lr, beta1, beta2, eps, wd float64, decoupled bool) error {
	if t < 1 {
		return fmt.Errorf("kernels: adam_f32: step %d, want ≥ 1", t)
	}
	if err := tab.slots("adam_f32", 2); err != nil {
		return err
	}
	stepSize := lr / (1 - math.Pow(beta1, float64(t)))
	bc2Sqrt := math.Sqrt(1 - math.Pow(beta2, float64(t)))
	return m.launch("adam_f32", tab.grid(), tab.p, len(tab.params), lr, beta1, beta2, eps, wd, flag(decoupled), stepSize, bc2Sqrt)
}
