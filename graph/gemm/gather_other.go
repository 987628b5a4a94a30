//go:build !amd64

package gemm

// gatherRows reports that there is no assembly fast path of gatherPanel on
// this architecture.
func gatherRows([]float32, int, []float32, []int32, []int32) bool { return false }
