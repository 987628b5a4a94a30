package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/cifar-resnet/trainer/graph"
)

// fusedConv is a convolution with its batch norm folded in (evaluation
// mode: the running statistics), then ReLU if relu is set. With residual
// set it also adds the block's other branch before the ReLU: the end of a
// residual block in one operation.
type fusedConv struct {
	*convBN
	relu, residual bool
}

// fusedBlock is a residual block in evaluation form. The residual
// addition is folded into the last convolution of the block: the second
// one, which adds the block's input, when the skip path is the identity;
// the projection, which adds the second convolution's output, otherwise.
type fusedBlock struct {
	conv1, conv2 fusedConv
	skip         *fusedConv
}

// evalForm is the network in evaluation form: what fold makes of the
// training form.
type evalForm struct {
	stem   fusedConv
	blocks []fusedBlock
	w      *weights // the head's dense layer
}

// fold rewrites the network w describes for evaluation: each batch norm
// folds into the convolution before it, together with the ReLU after it,
// and each block's residual addition and final ReLU fold into the block's
// last convolution. The evaluation form computes what the training form
// does in evaluation mode, up to rounding, with fewer passes over memory.
func fold(w *weights) evalForm {
	f := evalForm{stem: fusedConv{convBN: &w.stem, relu: true}, w: w}
	for i := range w.blocks {
		b := &w.blocks[i]
		fb := fusedBlock{conv1: fusedConv{convBN: &b.conv1, relu: true}, conv2: fusedConv{convBN: &b.conv2}}
		if b.skip == nil {
			fb.conv2.relu, fb.conv2.residual = true, true
		} else {
			fb.skip = &fusedConv{convBN: b.skip, relu: true, residual: true}
		}
		f.blocks = append(f.blocks, fb)
	}
	return f
}

// forwardEval builds the evaluation form f on x.
func (b *builder) forwardEval(x *G.Node, f evalForm) (*G.Node, error) {
	h, err := b.fused(x, f.stem, nil)
	for _, blk := range f.blocks {
		if err != nil {
			break
		}
		h, err = b.fusedBlock(h, blk)
	}
	if err != nil {
		return nil, err
	}
	return b.head(h, f.w)
}

// fusedBlock is a residual block in evaluation form.
func (b *builder) fusedBlock(x *G.Node, p fusedBlock) (*G.Node, error) {
	h, err := b.fused(x, p.conv1, nil)
	if err != nil {
		return nil, err
	}
	if p.skip == nil {
		return b.fused(h, p.conv2, x)
	}
	if h, err = b.fused(h, p.conv2, nil); err != nil {
		return nil, err
	}
	return b.fused(x, *p.skip, h)
}

// fused is one fused convolution on x; other is the branch a residual one
// adds.
func (b *builder) fused(x *G.Node, p fusedConv, other *G.Node) (*G.Node, error) {
	w, gamma, beta := b.nodes[p.weight], b.nodes[p.gamma], b.nodes[p.beta]
	var h *G.Node
	var err error
	if p.residual {
		h, err = graph.ConvBNAddReLUEval(x, w, gamma, beta, other, p.stats, p.stride, p.pad)
	} else {
		h, err = graph.ConvBNEval(x, w, gamma, beta, p.stats, p.stride, p.pad, p.relu)
	}
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", p.convName, err)
	}
	return h, nil
}
