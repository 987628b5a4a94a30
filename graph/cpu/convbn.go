package cpu

import (
	"math"

	"github.com/cifar-resnet/trainer/graph/cpu/simd"
)

// convBNForward computes an evaluation-mode convolution followed by batch
// norm (see backend.Backend.Conv2DBNEval) with the normalisation folded
// into the filter: for output channel k, w'ₖ = wₖ·γₖ/σₖ and bias
// bₖ = βₖ - μₖ·γₖ/σₖ, where μ and σ² are the running statistics. The bias,
// the skip and the ReLU are applied to each image right after its matrix
// product, while it is in cache, which saves separate passes over memory.
func convBNForward[T float](g geom, x, w, gamma, beta, skip, y []T, st bnRunning, relu bool, ws *workspace[T]) {
	rows := g.colRows()
	fold := ws.fold.get(1, g.K*rows+g.K)
	defer ws.fold.put(fold)
	wf, bias := fold[0][:g.K*rows], fold[0][g.K*rows:]
	for k := range g.K {
		scale := float64(gamma[k]) / math.Sqrt(float64(st.variance[k])+st.epsilon)
		for i, v := range w[k*rows : (k+1)*rows] {
			wf[k*rows+i] = T(float64(v) * scale)
		}
		bias[k] = T(float64(beta[k]) - float64(st.mean[k])*scale)
	}
	ohw := g.OH * g.OW
	convForward(g, x, wf, y, ws, func(n int, yn []T) {
		// With a residual input, the ReLU comes after the addition.
		for k := range g.K {
			addBiasRow(yn[k*ohw:(k+1)*ohw], bias[k], relu && skip == nil)
		}
		if skip != nil {
			addReLURow(yn, yn, skip[n*len(yn):(n+1)*len(yn)])
		}
	})
}

// addBiasRow adds b to every element of row, then applies ReLU if relu is
// set.
func addBiasRow[T float](row []T, b T, relu bool) {
	if r32, ok := any(row).([]float32); ok {
		simd.AddBias(r32, float32(b), relu)
		return
	}
	for i, v := range row {
		v += b
		if relu {
			v = max(v, 0)
		}
		row[i] = v
	}
}
