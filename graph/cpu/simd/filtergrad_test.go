package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFilterGradBlock checks every implementation of the filter-gradient
// block against the dot products computed in float64, within the error
// bound of float32 summation, and that it adds to acc.
func TestFilterGradBlock(t *testing.T) {
	const lanes, block = FilterGradLanes, FilterGradRows * FilterGradTaps * FilterGradLanes
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 7, 64} {
		ldy := n*lanes + 16*rng.IntN(3)
		dy := simdData(rng, FilterGradRows*ldy, false)
		src := simdData(rng, 3*n*lanes+40, false)
		offs := make([]int32, FilterGradTaps)
		for i := range offs {
			offs[i] = int32(rng.IntN(len(src) - n*lanes + 1))
		}
		start := simdData(rng, block, false)
		withImpls(t, func(t *testing.T) {
			acc := append([]float32(nil), start...)
			FilterGradBlock(n, dy, ldy, src, offs, acc)
			for tap := range FilterGradTaps {
				for r := range FilterGradRows {
					for l := range lanes {
						i := (FilterGradRows*tap+r)*lanes + l
						want, abs := float64(start[i]), math.Abs(float64(start[i]))
						for k := range n {
							p := float64(dy[r*ldy+k*lanes+l]) * float64(src[int(offs[tap])+k*lanes+l])
							want += p
							abs += math.Abs(p)
						}
						checkSum(t, "filter gradient", n, float64(acc[i]), want, abs)
					}
				}
			}
		})
	}
}

// TestFilterGradBlockBounds checks that the block checks its slices before
// handing pointers to assembly.
func TestFilterGradBlockBounds(t *testing.T) {
	withImpls(t, func(t *testing.T) {
		const n, lanes = 4, FilterGradLanes
		dy := make([]float32, FilterGradRows*n*lanes)
		src := make([]float32, 100)
		acc := make([]float32, FilterGradRows*FilterGradTaps*lanes)
		for name, fn := range map[string]func(){
			"dy":   func() { FilterGradBlock(n, dy[:len(dy)-1], n*lanes, src, make([]int32, FilterGradTaps), acc) },
			"src":  func() { FilterGradBlock(n, dy, n*lanes, src, []int32{0, 0, 0, 0, 0, 100 - n*lanes + 1}, acc) },
			"offs": func() { FilterGradBlock(n, dy, n*lanes, src, make([]int32, FilterGradTaps-1), acc) },
			"acc":  func() { FilterGradBlock(n, dy, n*lanes, src, make([]int32, FilterGradTaps), acc[1:]) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic with a short slice", name)
					}
				}()
				fn()
			}()
		}
	})
}
