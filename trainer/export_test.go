package trainer

// Helpers of the package's tests, for the tests of package trainer_test.
var (
	TinyConfig    = tinyConfig
	NewTinySolver = newTinySolver
)

// CancelAfter returns an Observer that calls cancel after n batches.
func CancelAfter(n int, cancel func()) Observer { return &cancelAfter{n: n, cancel: cancel} }
