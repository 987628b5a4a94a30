package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// simdLengths are the row lengths the kernels are tested at: every length
// up to past four vectors of AVX-512, and a long row with a tail.
func simdLengths() []int {
	var ns []int
	for n := 0; n <= 70; n++ {
		ns = append(ns, n)
	}
	return append(ns, 1024+3)
}

// simdData returns n random values: normals of mixed scales, with exact
// zeros, negative zeros and a few infinities sprinkled in when special is
// set.
func simdData(rng *rand.Rand, n int, special bool) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(9)-4)))
		if !special {
			continue
		}
		switch rng.IntN(10) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Copysign(0, -1))
		}
	}
	return x
}

// reluOutput returns relu32 of random data: a ReLU output, with exact
// zeros where the input was negative or zero.
func reluOutput(rng *rand.Rand, n int) []float32 {
	y := simdData(rng, n, true)
	for i, v := range y {
		y[i] = relu32(v)
	}
	return y
}

// withImpls runs fn with each implementation this CPU has active.
func withImpls(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	for _, name := range Implementations() {
		t.Run(name, func(t *testing.T) {
			restore, err := Use(name)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			fn(t)
		})
	}
}

// guarded returns a slice of n elements at offset off (to vary the
// alignment) inside a larger buffer filled with a sentinel, and a function
// that reports whether the elements around the slice are intact.
func guarded(n, off int) ([]float32, func() bool) {
	const sentinel = 12345.5
	buf := make([]float32, off+n+17)
	for i := range buf {
		buf[i] = sentinel
	}
	s := buf[off : off+n : off+n]
	return s, func() bool {
		for i, v := range buf {
			if (i < off || i >= off+n) && v != sentinel {
				return false
			}
		}
		return true
	}
}

// checkBits fails unless got and want hold the same bits.
func checkBits(t *testing.T, what string, n int, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s n=%d: [%d] = %v (%#08x), want %v (%#08x)", what, n, i,
				got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// checkSum fails unless got is within the error bound of recursive float32
// summation, (n+2)·u·Σ|terms|, of the exact sum want (any summation order
// meets it).
func checkSum(t *testing.T, what string, n int, got, want, abs float64) {
	t.Helper()
	bound := float64(n+2) * 0x1p-24 * abs
	if d := math.Abs(got - want); !(d <= bound) {
		t.Fatalf("%s n=%d: got %v, want %v (|diff| %g > bound %g)", what, n, got, want, d, bound)
	}
}

func TestSIMDElementwise(t *testing.T) {
	withImpls(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range simdLengths() {
			off := n % 5
			a, b := simdData(rng, n, true), simdData(rng, n, true)
			y := reluOutput(rng, n)
			want := make([]float32, n)
			dst, intact := guarded(n, off)

			for i := range want {
				want[i] = relu32(a[i])
			}
			ReLU(dst, a)
			checkBits(t, "relu", n, dst, want)

			for i := range want {
				want[i] = relu32(a[i] + b[i])
			}
			AddReLU(dst, a, b)
			checkBits(t, "add+relu", n, dst, want)

			for i := range want {
				want[i] = mask32(b[i], y[i])
			}
			ReLUMask(dst, b, y)
			checkBits(t, "relu mask", n, dst, want)
			// The mask works on the bits of y: y = -0 or negative keeps
			// dy, like mask32.
			for i := range want {
				want[i] = mask32(b[i], a[i])
			}
			ReLUMask(dst, b, a)
			checkBits(t, "relu mask (any y)", n, dst, want)

			scale, shift := float32(rng.NormFloat64()), float32(rng.NormFloat64())
			for _, relu := range []bool{false, true} {
				for i, v := range a {
					want[i] = float32(v*scale) + shift
					if relu {
						want[i] = relu32(want[i])
					}
				}
				ScaleShift(dst, a, scale, shift, relu)
				checkBits(t, fmt.Sprintf("scale+shift relu=%v", relu), n, dst, want)

				for i, v := range a {
					want[i] = v + shift
					if relu {
						want[i] = relu32(want[i])
					}
				}
				copy(dst, a)
				AddBias(dst, shift, relu)
				checkBits(t, fmt.Sprintf("bias relu=%v", relu), n, dst, want)
			}

			kk, ka, kb := float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
			for _, mask := range []bool{false, true} {
				var ys []float32
				for i := range want {
					d := b[i]
					if mask {
						d = mask32(d, y[i])
					}
					want[i] = float32(float32(kk*d)+float32(ka*a[i])) + kb
				}
				if mask {
					ys = y
				}
				BNDx(dst, b, a, ys, kk, ka, kb)
				checkBits(t, fmt.Sprintf("bn dx mask=%v", mask), n, dst, want)
			}
			if !intact() {
				t.Fatalf("n=%d: a kernel wrote outside its row", n)
			}
		}
	})
}

func TestSIMDSums(t *testing.T) {
	withImpls(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, n := range simdLengths() {
			x, dy := simdData(rng, n, true), simdData(rng, n, true)
			y := reluOutput(rng, n)
			// A reference near the data, as bnForward uses, and one
			// off to the side.
			for _, ref := range []float32{0, 0.75} {
				var sum, sq, abs float64
				for _, v := range x {
					d := float64(v - ref)
					sum += d
					sq += d * d
					abs += math.Abs(d)
				}
				gs, gq := Stats(x, ref)
				checkSum(t, "stats Σd", n, gs, sum, abs)
				checkSum(t, "stats Σd²", n, gq, sq, sq)
			}

			mean := float32(rng.NormFloat64() * 0.1)
			for _, mask := range []bool{false, true} {
				var ys []float32
				if mask {
					ys = y
				}
				var sa, sb, absA, absB float64
				for i, d := range dy {
					if mask {
						d = mask32(d, y[i])
					}
					xc := float64(x[i] - mean)
					sa += float64(d)
					sb += float64(d) * xc
					absA += math.Abs(float64(d))
					absB += math.Abs(float64(d) * xc)
				}
				ga, gb := BNSums(dy, x, ys, mean)
				checkSum(t, fmt.Sprintf("bn Σdy mask=%v", mask), n, ga, sa, absA)
				checkSum(t, fmt.Sprintf("bn Σdy·(x-μ) mask=%v", mask), n, gb, sb, absB)
			}
		}
	})
}

// TestSIMDNaN pins down what the kernels do with NaNs: ReLU and the mask
// work on the bits, so they match relu32 and mask32 exactly.
func TestSIMDNaN(t *testing.T) {
	posNaN := math.Float32frombits(0x7fc00001)
	negNaN := math.Float32frombits(0xffc00001)
	inf := float32(math.Inf(1))
	withImpls(t, func(t *testing.T) {
		const n = 37
		x := make([]float32, n)
		for i := range x {
			x[i] = [...]float32{posNaN, negNaN, inf, -inf, 1, -1}[i%6]
		}
		want, got := make([]float32, n), make([]float32, n)
		for i, v := range x {
			want[i] = relu32(v)
		}
		ReLU(got, x)
		checkBits(t, "relu", n, got, want)

		dy := simdData(rand.New(rand.NewPCG(7, 8)), n, true)
		for i := range want {
			want[i] = mask32(dy[i], x[i])
		}
		ReLUMask(got, dy, x)
		checkBits(t, "relu mask", n, got, want)

		// Masked-out lanes are 0 even where dy is not finite.
		for i := range want {
			want[i] = mask32(x[i], dy[i])
		}
		ReLUMask(got, x, dy)
		checkBits(t, "relu mask of NaN", n, got, want)

		// A single NaN operand propagates; the ReLU then keeps it or
		// not by its sign.
		ones := make([]float32, n)
		for i := range ones {
			ones[i] = 1
		}
		for i, v := range x {
			want[i] = relu32(v + 1)
		}
		AddReLU(got, x, ones)
		checkBits(t, "add+relu", n, got, want)
	})
}

// TestSIMDLengthPanics checks that the row functions check the lengths of
// their inputs before handing pointers to the assembly.
func TestSIMDLengthPanics(t *testing.T) {
	withImpls(t, func(t *testing.T) {
		long, short := make([]float32, 64), make([]float32, 63)
		for name, fn := range map[string]func(){
			"relu":     func() { ReLU(long, short) },
			"add+relu": func() { AddReLU(long, long, short) },
			"mask":     func() { ReLUMask(long, long, short) },
			"scale":    func() { ScaleShift(long, short, 1, 0, false) },
			"sums":     func() { BNSums(long, long, short, 0) },
			"dx":       func() { BNDx(long, long, short, nil, 1, 1, 1) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic with a short input", name)
					}
				}()
				fn()
			}()
		}
	})
}
