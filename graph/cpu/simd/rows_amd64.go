//go:build !purego

package simd

// The row kernels below are implemented in rows_amd64.s; the fields of impl
// of the same names say what each computes.

//go:noescape
func reluAVX512(dst, src *float32, n int)

//go:noescape
func addReLUAVX512(dst, a, b *float32, n int)

//go:noescape
func reluMaskAVX512(dst, dy, y *float32, n int)

//go:noescape
func scaleShiftAVX512(dst, src *float32, n int, scale, shift float32)

//go:noescape
func scaleShiftReLUAVX512(dst, src *float32, n int, scale, shift float32)

//go:noescape
func statsAVX512(src *float32, n int, ref float32) (sum, sq float64)

//go:noescape
func bnSumsAVX512(dy, x *float32, n int, mean float32) (a, b float64)

//go:noescape
func bnSumsMaskAVX512(dy, x, y *float32, n int, mean float32) (a, b float64)

//go:noescape
func bnDxAVX512(dst, dy, x *float32, n int, k, a, b float32)

//go:noescape
func bnDxMaskAVX512(dst, dy, x, y *float32, n int, k, a, b float32)

//go:noescape
func reluAVX2(dst, src *float32, n int)

//go:noescape
func addReLUAVX2(dst, a, b *float32, n int)

//go:noescape
func reluMaskAVX2(dst, dy, y *float32, n int)

//go:noescape
func scaleShiftAVX2(dst, src *float32, n int, scale, shift float32)

//go:noescape
func scaleShiftReLUAVX2(dst, src *float32, n int, scale, shift float32)

//go:noescape
func statsAVX2(src *float32, n int, ref float32) (sum, sq float64)

//go:noescape
func bnSumsAVX2(dy, x *float32, n int, mean float32) (a, b float64)

//go:noescape
func bnSumsMaskAVX2(dy, x, y *float32, n int, mean float32) (a, b float64)

//go:noescape
func bnDxAVX2(dst, dy, x *float32, n int, k, a, b float32)

//go:noescape
func bnDxMaskAVX2(dst, dy, x, y *float32, n int, k, a, b float32)
