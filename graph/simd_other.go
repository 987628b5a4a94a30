//go:build !amd64

package graph

// availableSIMD lists the row kernels usable on this CPU, best first: on
// this architecture, only the Go loops.
func availableSIMD() []*simdKernel { return []*simdKernel{&genericSIMD} }

// activeSIMD is the set of row kernels the row functions use.
var activeSIMD = &genericSIMD
