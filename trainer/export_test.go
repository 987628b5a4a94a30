package trainer

// Helpers of the package's tests, for the tests of package trainer_test.
var (
	TinyConfig    = tinyConfig
	NewTinySolver = newTinySolver
)
