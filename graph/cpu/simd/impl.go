// Package simd provides the float32 vector routines of the CPU backend:
// the elementwise passes of ReLU and batch norm, the row copies that pad
// and split images for the convolutions, the Winograd F(2×2, 3×3)
// transforms and the filter-gradient block.
//
// Every routine has a portable Go version. On amd64 there are also
// assembly versions: AVX-512 for all of them, AVX2 for the elementwise
// passes. They are grouped in implementations (tables of functions), and
// the best one the CPU supports is chosen once, at start-up, as the
// standard library's crypto packages do; the routines of this package call
// through it. Built with the purego tag, the package contains no assembly
// and the portable implementation is the only one.
//
// The vector versions compute the same bits as the Go versions, except
// the sums (Stats, BNSums, FilterGradBlock), which add in a different
// order and meet the error bound of float32 summation instead.
package simd

import (
	"fmt"
	"slices"
)

// impl is one implementation of the routines of this package.
type impl struct {
	name string

	// The row kernels work on n elements, n a multiple of width, and
	// return their sums in float64 (each vector lane sums in float32);
	// the row functions of rows.go run the rest of a row in Go. Width 0
	// means there are none: the Go loops then do whole rows.
	width          int
	relu           func(dst, src *float32, n int)
	addReLU        func(dst, a, b *float32, n int)
	reluMask       func(dst, dy, y *float32, n int)
	scaleShift     func(dst, src *float32, n int, scale, shift float32)
	scaleShiftReLU func(dst, src *float32, n int, scale, shift float32)
	stats          func(src *float32, n int, ref float32) (sum, sq float64)
	bnSums         func(dy, x *float32, n int, mean float32) (a, b float64)
	bnSumsMask     func(dy, x, y *float32, n int, mean float32) (a, b float64)
	bnDx           func(dst, dy, x *float32, n int, k, a, b float32)
	bnDxMask       func(dst, dy, x, y *float32, n int, k, a, b float32)

	// The convolution routines are complete implementations of the
	// exported functions of the same names.
	copyRows         func(dst []float32, dstride int, src []float32, sstride, rows, w int)
	deinterleaveRows func(even, odd []float32, dstride int, src []float32, sstride, rows, n int)
	winogradInput    func(src []float32, wp, tiles, rows int, dst []float32, dstride, dstep int)
	winogradOutput   func(m []float32, mstride, mstep, tiles, rows int, y []float32, w int)
	filterGradBlock  func(n int, dy []float32, ldy int, src []float32, offs []int32, acc []float32)
	// fastConv reports that the Winograd transforms and the
	// filter-gradient block are vector code.
	fastConv bool
}

// generic is the portable implementation: Go only.
var generic = impl{
	name:             "go",
	copyRows:         copyRowsGo,
	deinterleaveRows: deinterleaveRowsGo,
	winogradInput:    winogradInputGo,
	winogradOutput:   winogradOutputGo,
	filterGradBlock:  filterGradBlockGo,
}

// impls lists the implementations usable on this CPU, best first (see
// available in impl_amd64.go and impl_other.go).
var impls = available()

// active is the implementation the routines call: the best one, chosen at
// start-up.
var active = impls[0]

// Implementations returns the names of the implementations usable on this
// CPU, best first; the first is the one chosen at start-up, and "go", the
// portable one, is always last.
func Implementations() []string {
	names := make([]string, len(impls))
	for i, k := range impls {
		names[i] = k.name
	}
	return names
}

// Active returns the name of the implementation in use.
func Active() string { return active.name }

// Use makes the named implementation (one of Implementations) the one in
// use and returns a function that restores the previous one. It is for
// tests and benchmarks, which compare the implementations, and must not be
// called while other goroutines use the package.
func Use(name string) (restore func(), err error) {
	i := slices.IndexFunc(impls, func(k *impl) bool { return k.name == name })
	if i < 0 {
		return nil, fmt.Errorf("simd: no implementation %q on this CPU (have %v)", name, Implementations())
	}
	saved := active
	active = impls[i]
	return func() { active = saved }, nil
}

// FastConv reports whether the Winograd transforms and the filter-gradient
// block in use are vector code, so that the convolution algorithms built
// on them are faster than the products of im2col matrices.
func FastConv() bool { return active.fastConv }

// bulk returns how many of n elements the row kernels of k handle.
func (k *impl) bulk(n int) int {
	if k.width == 0 {
		return 0
	}
	return n - n%k.width
}
