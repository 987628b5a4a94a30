package simd

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Bᵀ and Aᵀ of Winograd F(2×2, 3×3).
var (
	winoBT = [4][4]float64{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	winoAT = [2][4]float64{{1, 1, 1, 0}, {0, 1, -1, -1}}
)

// winoCases are the tile grids the transforms are tested on: rows of up to
// 16 tiles, longer rows, and the 8-tile rows of 16-pixel images that the
// vector versions handle two at a time.
var winoCases = []struct{ tiles, rows int }{{1, 1}, {3, 2}, {8, 4}, {8, 3}, {16, 2}, {17, 3}, {40, 1}}

// TestWinogradInput checks V = Bᵀ·d·B of every tile against the matrix
// product (exact: small integers), and that every implementation computes
// the bits of the Go version on random data.
func TestWinogradInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range winoCases {
		wp := 2*tc.tiles + 2 + rng.IntN(3)
		src := make([]float32, (2*tc.rows+2)*wp)
		ints := make([]float32, len(src))
		for i := range src {
			src[i] = float32(rng.NormFloat64())
			ints[i] = float32(rng.IntN(19) - 9)
		}
		dstep := tc.tiles + rng.IntN(2)
		dstride := tc.rows*dstep + 5
		run := func(x []float32) []float32 {
			dst := make([]float32, 16*dstride)
			for i := range dst {
				dst[i] = -1000
			}
			WinogradInput(x, wp, tc.tiles, tc.rows, dst, dstride, dstep)
			return dst
		}
		want := winogradInputRef(ints, wp, tc.tiles, tc.rows, dstride, dstep)
		ref := run(src) // the active implementation: the best one
		withImpls(t, func(t *testing.T) {
			checkBits(t, fmt.Sprintf("input %+v: definition", tc), len(want), run(ints), want)
			checkBits(t, fmt.Sprintf("input %+v: random", tc), len(ref), run(src), ref)
		})
	}
}

// winogradInputRef computes WinogradInput in float64 from the definition,
// -1000 where nothing is written.
func winogradInputRef(src []float32, wp, tiles, rows, dstride, dstep int) []float32 {
	dst := make([]float32, 16*dstride)
	for i := range dst {
		dst[i] = -1000
	}
	for r := range rows {
		for t := range tiles {
			for i := range 4 {
				for j := range 4 {
					var v float64
					for a := range 4 {
						for b := range 4 {
							v += winoBT[i][a] * float64(src[(2*r+a)*wp+2*t+b]) * winoBT[j][b]
						}
					}
					dst[(4*i+j)*dstride+r*dstep+t] = float32(v)
				}
			}
		}
	}
	return dst
}

// TestWinogradOutput checks Y = Aᵀ·M·A of every tile against the matrix
// product and the implementations against each other, as
// TestWinogradInput does.
func TestWinogradOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range winoCases {
		mstep := tc.tiles + rng.IntN(2)
		mstride := tc.rows*mstep + 3
		m := make([]float32, 16*mstride)
		ints := make([]float32, len(m))
		for i := range m {
			m[i] = float32(rng.NormFloat64())
			ints[i] = float32(rng.IntN(19) - 9)
		}
		w := 2 * tc.tiles
		if tc.tiles != 8 {
			w += rng.IntN(3)
		}
		run := func(x []float32) []float32 {
			y := make([]float32, 2*tc.rows*w)
			for i := range y {
				y[i] = -1000
			}
			WinogradOutput(x, mstride, mstep, tc.tiles, tc.rows, y, w)
			return y
		}
		want := make([]float32, 2*tc.rows*w)
		for i := range want {
			want[i] = -1000
		}
		for r := range tc.rows {
			for tile := range tc.tiles {
				for i := range 2 {
					for j := range 2 {
						var v float64
						for a := range 4 {
							for b := range 4 {
								v += winoAT[i][a] * float64(ints[(4*a+b)*mstride+r*mstep+tile]) * winoAT[j][b]
							}
						}
						want[(2*r+i)*w+2*tile+j] = float32(v)
					}
				}
			}
		}
		ref := run(m)
		withImpls(t, func(t *testing.T) {
			checkBits(t, fmt.Sprintf("output %+v: definition", tc), len(want), run(ints), want)
			checkBits(t, fmt.Sprintf("output %+v: random", tc), len(ref), run(m), ref)
		})
	}
}

// TestWinogradBounds checks that the transforms check their slices before
// handing pointers to assembly.
func TestWinogradBounds(t *testing.T) {
	withImpls(t, func(t *testing.T) {
		for name, fn := range map[string]func(){
			"input":        func() { WinogradInput(make([]float32, 197), 20, 8, 4, make([]float32, 16*64), 64, 8) },
			"input pairs":  func() { WinogradInput(make([]float32, 10*20), 20, 8, 4, make([]float32, 15*64+31), 64, 8) },
			"output":       func() { WinogradOutput(make([]float32, 16*64), 64, 8, 8, 4, make([]float32, 8*16-1), 16) },
			"output short": func() { WinogradOutput(make([]float32, 16*50), 50, 8, 5, 3, make([]float32, 59), 10) },
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
