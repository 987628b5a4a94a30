//go:build !amd64

package graph

// dwKernel is not available on this architecture; see dwkernel_amd64.go.
var dwKernel func(n int, dy []float32, ldy int, src []float32, offs []int32, acc []float32)
