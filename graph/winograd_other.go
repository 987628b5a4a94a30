//go:build !amd64

package graph

// hasWinograd reports that the Winograd transforms are not available on
// this architecture.
const hasWinograd = false

func winoInput(src []float32, wp, t0, nt, rows int, dst []float32, dstride, dstep int) {
	panic("graph: no Winograd transforms on this architecture")
}

func winoOutput(m []float32, mstride, mstep, t0, nt, rows int, y []float32, w int) {
	panic("graph: no Winograd transforms on this architecture")
}

func winoInputPairs(src []float32, wp, rows int, dst []float32, dstride int) {
	panic("graph: no Winograd transforms on this architecture")
}

func winoOutputPairs(m []float32, mstride, rows int, y []float32) {
	panic("graph: no Winograd transforms on this architecture")
}
