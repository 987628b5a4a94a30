package kernels_test

import (
	"fmt"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
)

// benchConvs are the convolutions of the default network (config.yaml:
// stages of 16 and 32 channels on 32×32 images) at batch size 512.
var benchConvs = []struct {
	name string
	g    kernels.Conv
}{
	{"stem3x3", kernels.Conv{N: 512, C: 3, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1}},
	{"16to16_3x3", kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1}},
	{"16to32_3x3s2", kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 32, R: 3, Stride: 2, Pad: 1}},
	{"16to32_1x1s2", kernels.Conv{N: 512, C: 16, H: 32, W: 32, K: 32, R: 1, Stride: 2, Pad: 0}},
	{"32to32_3x3", kernels.Conv{N: 512, C: 32, H: 16, W: 16, K: 32, R: 3, Stride: 1, Pad: 1}},
}

// gpu returns the kernels for a benchmark, which runs on a GPU only: the
// emulator would take minutes.
func gpu(b *testing.B) *kernels.Module {
	if openErr != nil {
		b.Skip(openErr)
	}
	if kind != "GPU" {
		b.Skipf("benchmarks need a GPU, not the %s", kind)
	}
	return mod
}

// bbuf is device memory of n floats, zeroed, freed after the benchmark.
func bbuf(b *testing.B, n int) cuda.Ptr {
	p, err := dev.Alloc(uint64(4 * n))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dev.Free(p) })
	if err := dev.Fill32(p, 0, uint64(n)); err != nil {
		b.Fatal(err)
	}
	return p
}

// convBufs are zeroed device buffers for the tensors of a convolution:
// its input x, filter w, output y and their gradients dx and dw.
type convBufs struct{ x, w, y, dx, dw cuda.Ptr }

func newConvBufs(b *testing.B, g kernels.Conv) convBufs {
	nx, nw, ny := g.N*g.C*g.H*g.W, g.K*g.C*g.R*g.R, g.N*g.K*g.OH()*g.OW()
	return convBufs{x: bbuf(b, nx), w: bbuf(b, nw), y: bbuf(b, ny), dx: bbuf(b, nx), dw: bbuf(b, nw)}
}

// stage3x3 reports whether the convolution of benchConvs named name is
// one of the 3×3 convolutions of stride 1 of the network's stages.
func stage3x3(name string) bool { return name == "16to16_3x3" || name == "32to32_3x3" }

// run times fn, each iteration waited for.
func run(b *testing.B, fn func() error) {
	for b.Loop() {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		if err := dev.Synchronize(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConv times each convolution of benchConvs with the kernels the
// wrappers choose: the direct 3×3 kernels for the 3×3 convolutions of
// stride 1 on 16 channels or more, matrix products for the others.
func BenchmarkConv(b *testing.B) {
	m := gpu(b)
	for _, c := range benchConvs {
		g, t := c.g, newConvBufs(b, c.g)
		splits := kernels.FilterSplits(g)
		work := bbuf(b, max(1, kernels.FilterWork(g, splits)))
		b.Run(c.name+"/forward", func(b *testing.B) { run(b, func() error { return m.ConvForward(g, t.y, t.x, t.w, 0, 0, false) }) })
		b.Run(c.name+"/data", func(b *testing.B) { run(b, func() error { return m.ConvBackwardData(g, t.dx, t.w, t.y) }) })
		b.Run(fmt.Sprintf("%s/filter_%dslices", c.name, splits), func(b *testing.B) {
			run(b, func() error { return m.ConvBackwardFilter(g, t.dw, t.x, t.y, work, splits) })
		})
	}
}

// BenchmarkConvTiles times the two 3×3 convolutions of the network's
// stages as matrix products with each tile height TM (m16, m32, m64), to
// compare the shapes, and the direct kernels of BenchmarkConv, on one GPU;
// the filter gradient is split as FilterSplits would for that TM.
func BenchmarkConvTiles(b *testing.B) {
	m := gpu(b)
	for _, c := range benchConvs {
		if !stage3x3(c.name) {
			continue
		}
		g, t := c.g, newConvBufs(b, c.g)
		for _, tm := range kernels.TileRows {
			name := fmt.Sprintf("%s/m%d", c.name, tm)
			splits := kernels.FilterSplitsTile(g, tm)
			work := bbuf(b, max(1, kernels.FilterWork(g, splits)))
			b.Run(name+"/forward", func(b *testing.B) {
				run(b, func() error { return m.ConvForwardTile(tm, g, t.y, t.x, t.w, 0, 0, false) })
			})
			b.Run(name+"/data", func(b *testing.B) { run(b, func() error { return m.ConvBackwardDataTile(tm, g, t.dx, t.w, t.y) }) })
			b.Run(fmt.Sprintf("%s/filter_%dslices", name, splits), func(b *testing.B) {
				run(b, func() error { return m.ConvBackwardFilterTile(tm, g, t.dw, t.x, t.y, work, splits) })
			})
		}
	}
}

// BenchmarkFilterSplits times the filter gradient of the two 3×3
// convolutions of the network's stages in a quarter, half, once and twice
// the slices FilterSplits chooses (at most one per position), to check
// its choice on one GPU.
func BenchmarkFilterSplits(b *testing.B) {
	m := gpu(b)
	for _, c := range benchConvs {
		if !stage3x3(c.name) {
			continue
		}
		g, t := c.g, newConvBufs(b, c.g)
		chosen := kernels.FilterSplits(g)
		for _, splits := range []int{max(1, chosen/4), max(1, chosen/2), chosen, min(2*chosen, g.N*g.OH()*g.OW())} {
			work := bbuf(b, max(1, kernels.FilterWork(g, splits)))
			b.Run(fmt.Sprintf("%s/%dslices", c.name, splits), func(b *testing.B) {
				run(b, func() error { return m.ConvBackwardFilter(g, t.dw, t.x, t.y, work, splits) })
			})
		}
	}
}

// bnStats returns device buffers for a batch norm's per-channel
// statistics and sums, C doubles each: the mean, invstd, Σdy and Σdy·x̂.
func bnStats(b *testing.B, c int) (mean, invstd, sdy, sdxh cuda.Ptr) {
	p := bbuf(b, 8*c)
	return p, p.Add(uint64(8 * c)), p.Add(uint64(16 * c)), p.Add(uint64(24 * c))
}

func BenchmarkBatchNorm(b *testing.B) {
	m := gpu(b)
	bn := kernels.BN{N: 128, C: 16, HW: 32 * 32, Momentum: 0.1, Epsilon: 1e-5}
	n := bn.N * bn.C * bn.HW
	x, y, dy, dx := bbuf(b, n), bbuf(b, n), bbuf(b, n), bbuf(b, n)
	gamma, beta, rm, rv := bbuf(b, bn.C), bbuf(b, bn.C), bbuf(b, bn.C), bbuf(b, bn.C)
	dgamma, dbeta := bbuf(b, bn.C), bbuf(b, bn.C)
	mean, invstd, sdy, sdxh := bnStats(b, bn.C)
	slices := kernels.BNSlices(bn)
	work := bbuf(b, 2*kernels.BNWork(bn, slices)) // doubles
	b.Run("forward", func(b *testing.B) {
		run(b, func() error {
			if err := m.BNStats(bn, mean, invstd, rm, rv, x, work, slices); err != nil {
				return err
			}
			return m.BNApply(bn, y, x, gamma, beta, mean, invstd, true)
		})
	})
	b.Run("backward", func(b *testing.B) {
		run(b, func() error {
			if err := m.BNBackwardSums(bn, sdy, sdxh, dgamma, dbeta, x, dy, y, mean, invstd, work, slices); err != nil {
				return err
			}
			return m.BNBackwardData(bn, dx, x, dy, y, gamma, mean, invstd, sdy, sdxh)
		})
	})
}

// BenchmarkBNSlices times batch norm's per-channel sums (BNStats, and
// BNBackwardSums masked by a ReLU's output) for the two layer shapes of
// the network at batch size 512, in half, once, twice and four times the
// slices BNSlices chooses, to check its choice on one GPU: more slices
// put more loads in flight, and give the finishing kernel more to add.
// Each operation runs 10 times between waits, so that the wait's latency
// counts little.
func BenchmarkBNSlices(b *testing.B) {
	m := gpu(b)
	for _, bn := range []kernels.BN{
		{N: 512, C: 16, HW: 32 * 32, Momentum: 0.1, Epsilon: 1e-5},
		{N: 512, C: 32, HW: 16 * 16, Momentum: 0.1, Epsilon: 1e-5},
	} {
		n := bn.N * bn.C * bn.HW
		x, y, dy := bbuf(b, n), bbuf(b, n), bbuf(b, n)
		rm, rv, dgamma, dbeta := bbuf(b, bn.C), bbuf(b, bn.C), bbuf(b, bn.C), bbuf(b, bn.C)
		mean, invstd, sdy, sdxh := bnStats(b, bn.C)
		chosen := kernels.BNSlices(bn)
		for _, slices := range []int{max(1, chosen/2), chosen, 2 * chosen, 4 * chosen} {
			work := bbuf(b, 2*kernels.BNWork(bn, slices)) // doubles
			name := fmt.Sprintf("%dch_%dx%d/%dslices", bn.C, bn.N, bn.HW, slices)
			b.Run(name+"/stats", func(b *testing.B) {
				run(b, func() error {
					for range 10 {
						if err := m.BNStats(bn, mean, invstd, rm, rv, x, work, slices); err != nil {
							return err
						}
					}
					return nil
				})
			})
			b.Run(name+"/sums", func(b *testing.B) {
				run(b, func() error {
					for range 10 {
						if err := m.BNBackwardSums(bn, sdy, sdxh, dgamma, dbeta, x, dy, y, mean, invstd, work, slices); err != nil {
							return err
						}
					}
					return nil
				})
			})
		}
	}
}
