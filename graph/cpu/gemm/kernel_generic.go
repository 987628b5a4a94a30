package gemm

import "unsafe"

// genericKernel is the portable 4×4 micro-kernel written in plain Go. It
// is used on architectures without an assembly kernel and on amd64 CPUs
// that lack AVX2 and FMA.
var genericKernel = kernel{name: "generic4x4", mr: 4, nr: 4, fn: kernelGeneric4x4}

// kernelGeneric4x4 implements microKernel for a 4×4 tile.
func kernelGeneric4x4(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32) {
	ap := unsafe.Slice(a, (k-1)*astride+4)
	bp := unsafe.Slice(b, (k-1)*bstride+4)
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		av := ap[p*astride : p*astride+4 : p*astride+4]
		bv := bp[p*bstride : p*bstride+4 : p*bstride+4]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		a0 := av[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := av[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := av[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := av[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	store4(cs[0:4:4], alpha, beta, c00, c01, c02, c03)
	store4(cs[ldc:ldc+4:ldc+4], alpha, beta, c10, c11, c12, c13)
	store4(cs[2*ldc:2*ldc+4:2*ldc+4], alpha, beta, c20, c21, c22, c23)
	store4(cs[3*ldc:3*ldc+4:3*ldc+4], alpha, beta, c30, c31, c32, c33)
}

// store4 writes alpha·(v0..v3) + beta·dst into dst, without reading dst
// when beta == 0.
func store4(dst []float32, alpha, beta, v0, v1, v2, v3 float32) {
	if beta == 0 {
		dst[0] = alpha * v0
		dst[1] = alpha * v1
		dst[2] = alpha * v2
		dst[3] = alpha * v3
		return
	}
	dst[0] = alpha*v0 + beta*dst[0]
	dst[1] = alpha*v1 + beta*dst[1]
	dst[2] = alpha*v2 + beta*dst[2]
	dst[3] = alpha*v3 + beta*dst[3]
}
