package simd

// The filter-gradient block: the shape of the dot products FilterGradBlock
// accumulates.
const (
	// FilterGradRows is the number of dy rows (output channels) of a block.
	FilterGradRows = 4
	// FilterGradTaps is the number of filter taps (source offsets) of a
	// block.
	FilterGradTaps = 6
	// FilterGradLanes is the number of partial sums kept per dot product:
	// the dot products run over n·FilterGradLanes positions.
	FilterGradLanes = 16
)

// FilterGradBlock adds to acc[(FilterGradRows·t + r)·FilterGradLanes + l],
// for rows r < FilterGradRows, taps t < FilterGradTaps and lanes
// l < FilterGradLanes, the sum over i < n of
//
//	dy[r·ldy + FilterGradLanes·i + l] · src[offs[t] + FilterGradLanes·i + l]
//
// so that the lanes of a row and tap add up to the dot product of dy row r
// with the run of src at offs[t]. Each lane's sum is taken in float32 and
// added to acc at the end; the vector versions fuse the multiplications and
// additions, so their results differ from the Go version's in rounding.
func FilterGradBlock(n int, dy []float32, ldy int, src []float32, offs []int32, acc []float32) {
	active.filterGradBlock(n, dy, ldy, src, offs, acc)
}

// checkFilterGradBlock panics unless every element FilterGradBlock reads or
// writes is inside its slice.
func checkFilterGradBlock(n int, dy []float32, ldy int, src []float32, offs []int32, acc []float32) {
	_, _ = offs[FilterGradTaps-1], acc[FilterGradRows*FilterGradTaps*FilterGradLanes-1]
	if n == 0 {
		return
	}
	_ = dy[(FilterGradRows-1)*ldy+FilterGradLanes*n-1]
	for _, o := range offs[:FilterGradTaps] {
		_ = src[int(o)+FilterGradLanes*n-1]
	}
}

// filterGradBlockGo is FilterGradBlock in Go.
func filterGradBlockGo(n int, dy []float32, ldy int, src []float32, offs []int32, acc []float32) {
	checkFilterGradBlock(n, dy, ldy, src, offs, acc)
	const lanes = FilterGradLanes
	for t, o := range offs[:FilterGradTaps] {
		for r := range FilterGradRows {
			d, s := dy[r*ldy:][:n*lanes], src[int(o):][:n*lanes]
			out := acc[(FilterGradRows*t+r)*lanes:][:lanes]
			var sum [lanes]float32
			for i := 0; i < n*lanes; i += lanes {
				for l := range lanes {
					sum[l] += d[i+l] * s[i+l]
				}
			}
			for l, v := range sum {
				out[l] += v
			}
		}
	}
}
