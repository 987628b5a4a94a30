package cpu

// denseForward sets y (n×o) = x (n×i)·wᵀ (o×i) + b (o).
func denseForward[T float](n, i, o int, x, w, b, y []T) {
	for r := range n {
		copy(y[r*o:(r+1)*o], b)
	}
	matmul(false, true, n, o, i, x, i, w, i, 1, y, o)
}

// denseBackward sets those of dx = dy·w, dw = dyᵀ·x and db = Σₙ dy that
// are not nil.
func denseBackward[T float](n, i, o int, x, w, dy, dx, dw, db []T) {
	if dx != nil {
		matmul(false, false, n, i, o, dy, o, w, i, 0, dx, i)
	}
	if dw != nil {
		matmul(true, false, o, i, n, dy, o, x, i, 0, dw, i)
	}
	if db != nil {
		clear(db)
		for r := range n {
			for j, v := range dy[r*o : (r+1)*o] {
				db[j] += v
			}
		}
	}
}
