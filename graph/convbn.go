package graph

import (
	"fmt"
	"github.com/cifar-resnet/trainer/graph/cpu/simd"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convBNOp is an evaluation-mode convolution followed by batch norm (and
// optionally ReLU), with the normalisation folded into the filter: for
// output channel k, w'ₖ = wₖ·γₖ/σₖ and bias bₖ = βₖ - μₖ·γₖ/σₖ, where μ
// and σ² are the running statistics. The bias and the ReLU are applied to
// each image right after its matrix product, while it is in cache, which
// saves the separate batch norm pass over memory.
type convBNOp struct {
	opBase
	stride, pad int
	relu        bool
	residual    bool // a fifth input is added before the ReLU
	state       *BNState
	cols32      scratch[float32]
	cols64      scratch[float64]
	fold32      scratch[float32]
	fold64      scratch[float64]
}

// ConvBNEval returns BatchNorm(Conv2D(x, w, stride, pad), gamma, beta, s,
// false), followed by ReLU when relu is set, computed in one pass. It is for
// evaluation only: it has no gradient.
func ConvBNEval(x, w, gamma, beta *G.Node, s *BNState, stride, pad int, relu bool) (*G.Node, error) {
	g, err := newConvGeom(x.Shape(), w.Shape(), stride, pad)
	if err != nil {
		return nil, err
	}
	if !gamma.Shape().Eq(tensor.Shape{g.K}) || !beta.Shape().Eq(tensor.Shape{g.K}) || len(s.Mean) != g.K {
		return nil, fmt.Errorf("graph: conv+bn: γ %v, β %v and the statistics (%d) must have %d channels", gamma.Shape(), beta.Shape(), len(s.Mean), g.K)
	}
	op := &convBNOp{opBase: newBase("ConvBNEval(s=%d,p=%d,relu=%v)", stride, pad, relu), stride: stride, pad: pad, relu: relu, state: s}
	return G.ApplyOp(op, x, w, gamma, beta)
}

// ConvBNAddReLUEval returns ReLU(BatchNorm(Conv2D(x, w, stride, pad),
// gamma, beta, s, false) + skip), the end of a residual block, computed in
// one pass: the skip is added to each image's output while it is in
// cache. It is for evaluation only: it has no gradient.
func ConvBNAddReLUEval(x, w, gamma, beta, skip *G.Node, s *BNState, stride, pad int) (*G.Node, error) {
	g, err := newConvGeom(x.Shape(), w.Shape(), stride, pad)
	if err != nil {
		return nil, err
	}
	if !gamma.Shape().Eq(tensor.Shape{g.K}) || !beta.Shape().Eq(tensor.Shape{g.K}) || len(s.Mean) != g.K {
		return nil, fmt.Errorf("graph: conv+bn+add: γ %v, β %v and the statistics (%d) must have %d channels", gamma.Shape(), beta.Shape(), len(s.Mean), g.K)
	}
	if want := (tensor.Shape{g.N, g.K, g.OH, g.OW}); !skip.Shape().Eq(want) {
		return nil, fmt.Errorf("graph: conv+bn+add: skip has shape %v, the convolution %v", skip.Shape(), want)
	}
	op := &convBNOp{opBase: newBase("ConvBNAddReLUEval(s=%d,p=%d)", stride, pad), stride: stride, pad: pad, relu: true, residual: true, state: s}
	return G.ApplyOp(op, x, w, gamma, beta, skip)
}

func (op *convBNOp) Arity() int {
	if op.residual {
		return 5
	}
	return 4
}
func (op *convBNOp) Type() hm.Type {
	if op.residual {
		return fnType(tensorOf(4), tensorOf(4), tensorOf(1), tensorOf(1), tensorOf(4), tensorOf(4))
	}
	return fnType(tensorOf(4), tensorOf(4), tensorOf(1), tensorOf(1), tensorOf(4))
}
func (op *convBNOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *convBNOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("graph: %s: evaluation-only operation has no gradient", op.name)
}

func (op *convBNOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return convShape(ds, op.stride, op.pad)
}

func (op *convBNOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convBNOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, dt, err := inputs(op.name, op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	g, err := newConvGeom(in[0].Shape(), in[1].Shape(), op.stride, op.pad)
	if err != nil {
		return nil, err
	}
	y := op.output(prealloc, dt, g.N, g.K, g.OH, g.OW)
	if dt == tensor.Float32 {
		convBNForward(op, g, in, slice[float32](y), &op.cols32, &op.fold32)
	} else {
		convBNForward(op, g, in, slice[float64](y), &op.cols64, &op.fold64)
	}
	return y, nil
}

func convBNForward[T float](op *convBNOp, g ConvGeom, in []*tensor.Dense, y []T, cols, fold *scratch[T]) {
	x, w, gamma, beta := slice[T](in[0]), slice[T](in[1]), slice[T](in[2]), slice[T](in[3])
	rows := g.colRows()
	buf := fold.get(1, g.K*rows+g.K)[0]
	wf, bias := buf[:g.K*rows], buf[g.K*rows:]
	st := op.state
	for k := range g.K {
		scale := float64(gamma[k]) / math.Sqrt(float64(st.Var[k])+st.Epsilon)
		for i, v := range w[k*rows : (k+1)*rows] {
			wf[k*rows+i] = T(float64(v) * scale)
		}
		bias[k] = T(float64(beta[k]) - float64(st.Mean[k])*scale)
	}
	ohw := g.OH * g.OW
	var skip []T
	if op.residual {
		skip = slice[T](in[4])
	}
	convForward(g, x, wf, y, cols, func(n int, yn []T) {
		// With a residual input, the ReLU comes after the addition.
		for k := range g.K {
			addBias(yn[k*ohw:(k+1)*ohw], bias[k], op.relu && skip == nil)
		}
		if skip != nil {
			addReLU(yn, yn, skip[n*len(yn):(n+1)*len(yn)])
		}
	})
}

// addReLU sets dst = ReLU(a + b) elementwise.
func addReLU[T float](dst, a, b []T) {
	if d32, ok := any(dst).([]float32); ok {
		simd.AddReLU(d32, any(a).([]float32), any(b).([]float32))
		return
	}
	for i := range dst {
		dst[i] = max(a[i]+b[i], 0)
	}
}

// addBias adds b to every element of row, then applies ReLU if relu is set.
func addBias[T float](row []T, b T, relu bool) {
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
