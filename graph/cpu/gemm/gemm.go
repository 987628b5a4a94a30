// Package gemm provides single-threaded, allocation-free general matrix
// multiplication for the convolution layers of the trainer.
//
// Sgemm is a packed, register-blocked implementation in the style of
// BLIS/GotoBLAS. On amd64 the innermost micro-kernel is written in Go
// assembly and uses AVX-512 (8×32 tile) or AVX2+FMA (6×16 tile): a table of
// micro-kernels with their packing and gathering helpers, one of which is
// chosen once at start-up from the CPU features. On other architectures,
// on CPUs without those extensions, or when built with the purego tag
// (which leaves the assembly out), a portable Go micro-kernel is used.
// Dgemm delegates to gonum and exists for float64 gradient checks.
//
// SgemmGather multiplies a matrix packed once (PackedA) by a matrix that is
// never stored: its rows are gathered from a source slice through offset
// tables, which is how the convolutions multiply a filter by the patches
// of a padded image without an im2col matrix.
//
// All matrices are row-major, as in CBLAS with CblasRowMajor. Both
// functions are safe for concurrent use; Sgemm itself never starts
// goroutines, so callers parallelise over independent products (for
// example one goroutine per core over the images of a batch).
//
// Operands whose rows are contiguous in the direction the micro-kernel
// walks (op(B) = B and op(A) = Aᵀ) are read in place rather than copied
// first. Their row strides should preferably not be large powers of two
// (for example, pad a 16384-column im2col matrix to 16400 columns), since
// rows that are a multiple of 4 KiB apart compete for the same cache sets.
package gemm

import (
	"fmt"
	"sync"

	"gonum.org/v1/gonum/blas"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C where op(X) is X or Xᵀ.
//
// A is m×k (or k×m when transA), B is k×n (or n×k when transB) and C is
// m×n; lda, ldb and ldc are the row strides of the stored matrices. When
// beta == 0, C is not read, so NaN or Inf values in C do not propagate.
// Sgemm runs on the calling goroutine only and does not allocate in steady
// state. It panics if a dimension is negative, a stride is too small or a
// slice is too short.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	sgemm(activeKernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm computes C = alpha·op(A)·op(B) + beta·C in float64 with the same
// conventions as Sgemm. It delegates to gonum's pure-Go implementation and
// is intended for gradient checks, where correctness matters more than
// speed. Unlike Sgemm, it may use several goroutines for large matrices.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkArgs(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		// gonum handles this case too, but it is cheap to be explicit
		// about the beta == 0 semantics.
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	gonumblas.Implementation{}.Dgemm(trans(transA), trans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// checkArgs validates dimensions, strides and slice lengths in the same way
// as a row-major BLAS gemm and panics with a descriptive message on error.
func checkArgs(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	if lda < max(1, colsA) {
		panic(fmt.Sprintf("gemm: lda=%d is smaller than the %d columns of A", lda, colsA))
	}
	if ldb < max(1, colsB) {
		panic(fmt.Sprintf("gemm: ldb=%d is smaller than the %d columns of B", ldb, colsB))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("gemm: ldc=%d is smaller than the %d columns of C", ldc, n))
	}
	if m == 0 || n == 0 {
		return
	}
	if need := minLen(rowsA, colsA, lda); lenA < need {
		panic(fmt.Sprintf("gemm: len(a)=%d is shorter than the %d elements required", lenA, need))
	}
	if need := minLen(rowsB, colsB, ldb); lenB < need {
		panic(fmt.Sprintf("gemm: len(b)=%d is shorter than the %d elements required", lenB, need))
	}
	if need := minLen(m, n, ldc); lenC < need {
		panic(fmt.Sprintf("gemm: len(c)=%d is shorter than the %d elements required", lenC, need))
	}
}

// minLen returns the minimum slice length that holds a rows×cols matrix
// with row stride ld.
func minLen(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// scaleC computes C = beta·C, writing zeros without reading C when
// beta == 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// Blocking parameters, in elements. The k dimension is split into blocks
// of at most kcMax; for each, an mc×kc block of op(A) and a kc×nc block of
// op(B) are packed (mc and nc chosen so that each fills at most packAMax
// and packBMax elements) and fit in the L2 cache together. The tiles that
// share a kc×nr micro-panel of B are computed one after another, so the
// panel stays in the L1 or L2 cache while it is reused. The values were
// tuned on an AMD Zen 5 core (48 KiB L1D, 1 MiB L2).
const (
	kcMax    = 512
	packAMax = 64 * 1024 // elements of packed A per block (256 KiB)
	packBMax = 64 * 1024 // elements of packed B per block (256 KiB)
	maxTile  = 8 * 32    // largest mr×nr of any micro-kernel
)

// buffers holds the packing scratch space of one Sgemm call.
type buffers struct {
	a   [packAMax]float32
	b   [packBMax]float32
	tmp [maxTile]float32
}

var bufPool = sync.Pool{New: func() any { return new(buffers) }}

// microKernel computes the mr×nr tile C = alpha·Ap·Bp + beta·C over k
// steps. Step p reads mr consecutive values of op(A) (column p of the tile's
// rows) at a[p·astride] and nr consecutive values of op(B) (row p of the
// tile's columns) at b[p·bstride]; a packed micro-panel has astride == mr
// or bstride == nr. C has row stride ldc. When beta == 0, C is not read.
type microKernel func(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)

// kernel describes a micro-kernel, its register tile and optional
// accelerated helpers.
type kernel struct {
	name   string
	mr, nr int
	fn     microKernel
	// fnPack, if not nil, is fn that also copies the k×nr panel of B it
	// reads to bpack with rows nr elements apart.
	fnPack func(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, bpack *float32)
	// transpose, if not nil, transposes nblk 16×16 blocks: for each block
	// l, column q and row r < 16 it sets dst[(16l+q)·dstride+r] =
	// src[r·ldsrc+16l+q]. If dst2 is not nil, rows 8..15 of each column go
	// to dst2[(16l+q)·dstride+r-8] instead.
	transpose func(dst *float32, dstride int, src *float32, ldsrc int, nblk int, dst2 *float32)
	// gather, if not nil, gathers a full panel of nr columns for
	// SgemmGather: for each p < k it copies the nr/Segment runs of Segment
	// elements at src[rowOff[p] + colOff[q]] to dst[p·nr + q·Segment].
	// The caller has checked the offsets.
	gather func(dst *float32, k int, src *float32, rowOff, colOff *int32)
}

// block describes where the micro-kernels find an mb×kb block of op(A)
// and a kb×nb block of op(B), and where the result goes.
type block struct {
	mb, nb, kb int
	// a is the block of op(A) in row-major storage with row stride lda
	// when aDirect (op(A) = Aᵀ, so a micro-panel is read in place), and
	// otherwise the packed block. In direct mode a partial last panel is
	// packed at the start of the packing buffer.
	a       []float32
	lda     int
	aDirect bool
	// b is the block of op(B) in row-major storage with row stride ldb
	// when bDirect, and otherwise the packed block.
	b       []float32
	ldb     int
	bDirect bool
	c       []float32
	ldc     int
	alpha   float32
	beta    float32
}

// sgemm is the blocked driver. The arguments have been validated, m, n and
// k are positive and alpha is non-zero.
func sgemm(kern *kernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	buf := bufPool.Get().(*buffers)
	mr, nr := kern.mr, kern.nr
	// When op(A) = Aᵀ, the mr values of a micro-panel for one step of k
	// are contiguous, so full micro-panels are read in place instead of
	// being packed. Row strides that are multiples of 1 KiB are excluded
	// because the rows of a panel would then map to few L1 cache sets.
	aDirect := transA && lda%256 != 0

	for pc := 0; pc < k; pc += kcMax {
		kb := min(kcMax, k-pc)
		// The first block of k applies beta; later ones accumulate.
		bet := beta
		if pc > 0 {
			bet = 1
		}
		mc := max(mr, packAMax/kb/mr*mr)
		nc := max(nr, packBMax/kb/nr*nr)
		for ic := 0; ic < m; ic += mc {
			blk := block{mb: min(mc, m-ic), kb: kb, ldc: ldc, alpha: alpha, beta: bet}
			if aDirect {
				blk.a, blk.lda, blk.aDirect = a[pc*lda+ic:], lda, true
				if full := blk.mb / mr * mr; full < blk.mb {
					packA(kern, buf.a[:], a, lda, true, ic+full, blk.mb-full, pc, kb)
				}
			} else {
				packA(kern, buf.a[:], a, lda, transA, ic, blk.mb, pc, kb)
				blk.a = buf.a[:]
			}
			for jc := 0; jc < n; jc += nc {
				nb := min(nc, n-jc)
				if transB {
					packB(kern, buf.b[:], b, ldb, true, pc, kb, jc, nb)
					blk.nb, blk.b, blk.bDirect, blk.c = nb, buf.b[:], false, c[ic*ldc+jc:]
					macroKernel(kern, buf, &blk)
					continue
				}
				// Rows of op(B) are contiguous in memory, so full
				// micro-panels are read in place (and packed by the
				// first micro-kernel call that reads them); only a
				// partial panel at the right edge is packed beforehand.
				full := nb / nr * nr
				if full > 0 {
					blk.nb, blk.b, blk.ldb, blk.bDirect, blk.c = full, b[pc*ldb+jc:], ldb, true, c[ic*ldc+jc:]
					macroKernel(kern, buf, &blk)
				}
				if full < nb {
					packB(kern, buf.b[:], b, ldb, false, pc, kb, jc+full, nb-full)
					blk.nb, blk.b, blk.bDirect, blk.c = nb-full, buf.b[:], false, c[ic*ldc+jc+full:]
					macroKernel(kern, buf, &blk)
				}
			}
		}
	}
	bufPool.Put(buf)
}

// macroKernel multiplies a block of op(A) by a block of op(B) into C, tile
// by tile, the tiles of one micro-panel of B being consecutive. A micro-
// panel of B that is read in place (blk.bDirect) is packed into buf.b while
// the first tile that uses it is computed, and the remaining tiles read the
// packed copy. Partial tiles at the bottom and right edges are computed
// into a scratch tile and then merged into C.
func macroKernel(kern *kernel, buf *buffers, blk *block) {
	mr, nr := kern.mr, kern.nr
	mb, kb := blk.mb, blk.kb
	for jr := 0; jr < blk.nb; jr += nr {
		nn := min(nr, blk.nb-jr)
		bp, bs := &blk.b[jr*kb], nr
		ir := 0
		if blk.bDirect {
			bp, bs = &blk.b[jr], blk.ldb
			if mb > mr {
				pk := &buf.b[0]
				if kern.fnPack != nil {
					// The first tile is full: mb > mr and nn == nr.
					ap, as := blk.aPanel(buf, 0, mr)
					kern.fnPack(kb, ap, as, bp, bs, &blk.c[jr], blk.ldc, blk.alpha, blk.beta, pk)
					ir = mr
				} else {
					packB(kern, buf.b[:], blk.b, blk.ldb, false, 0, kb, jr, nr)
				}
				bp, bs = pk, nr
			}
		}
		for ; ir < mb; ir += mr {
			ap, as := blk.aPanel(buf, ir, mr)
			tile(kern, buf, kb, ap, as, bp, bs, blk.c[ir*blk.ldc+jr:], blk.ldc, min(mr, mb-ir), nn, blk.alpha, blk.beta)
		}
	}
}

// tile computes the mm×nn tile (mm ≤ mr, nn ≤ nr) C = alpha·Ap·Bp +
// beta·C with the micro-kernel, whose operands are as in microKernel: a
// full tile in place, a partial one in buf.tmp, merged into C afterwards.
func tile(kern *kernel, buf *buffers, k int, a *float32, as int, b *float32, bs int, c []float32, ldc, mm, nn int, alpha, beta float32) {
	mr, nr := kern.mr, kern.nr
	if mm == mr && nn == nr {
		kern.fn(k, a, as, b, bs, &c[0], ldc, alpha, beta)
		return
	}
	tmp := buf.tmp[:mr*nr]
	kern.fn(k, a, as, b, bs, &tmp[0], nr, alpha, 0)
	for i := 0; i < mm; i++ {
		src := tmp[i*nr : i*nr+nn]
		dst := c[i*ldc : i*ldc+nn]
		if beta == 0 {
			copy(dst, src)
			continue
		}
		for j, v := range src {
			dst[j] = beta*dst[j] + v
		}
	}
}

// aPanel returns the start and step stride of the micro-panel of A for
// rows ir..ir+mr of the block.
func (blk *block) aPanel(buf *buffers, ir, mr int) (*float32, int) {
	switch {
	case !blk.aDirect:
		return &blk.a[ir*blk.kb], mr
	case ir+mr <= blk.mb:
		return &blk.a[ir], blk.lda
	default:
		return &buf.a[0], mr
	}
}

// packA packs rows [i0, i0+mlen) and columns [p0, p0+klen) of op(A) into
// dst as consecutive k×mr micro-panels. If mlen is not a multiple of mr,
// the unused rows of the last panel are left as they are: they only affect
// rows of the scratch tile that are never written to C.
func packA(kern *kernel, dst, a []float32, lda int, transA bool, i0, mlen, p0, klen int) {
	mr := kern.mr
	for ir := 0; ir < mlen; ir += mr {
		mm := min(mr, mlen-ir)
		panel := dst[ir*klen : ir*klen+klen*mr]
		if transA {
			// op(A)[i][p] = a[p*lda+i]: each step of k is a contiguous run.
			// The runs are short, so they are copied element by element
			// rather than with copy, which would call memmove for each.
			if mm == 8 && mr == 8 {
				for p := 0; p < klen; p++ {
					off := (p0+p)*lda + i0 + ir
					s := a[off : off+8 : off+8]
					d := panel[p*8 : p*8+8 : p*8+8]
					d[0], d[1], d[2], d[3] = s[0], s[1], s[2], s[3]
					d[4], d[5], d[6], d[7] = s[4], s[5], s[6], s[7]
				}
				continue
			}
			for p := 0; p < klen; p++ {
				src := a[(p0+p)*lda+i0+ir:]
				src = src[:mm]
				d := panel[p*mr : p*mr+mr]
				for i, v := range src {
					d[i] = v
				}
			}
			continue
		}
		// op(A)[i][p] = a[i*lda+p]: transpose rows into the panel.
		p := 0
		if kern.transpose != nil && mr == 8 && mlen-ir >= 16 && klen >= 16 {
			// Two full panels at once, 16×16 blocks at a time.
			next := dst[(ir+mr)*klen : (ir+mr)*klen+klen*mr]
			nblk := klen / 16
			kern.transpose(&panel[0], mr, &a[(i0+ir)*lda+p0], lda, nblk, &next[0])
			p = nblk * 16
			transposeScalar(panel, mr, a[(i0+ir)*lda+p0:], lda, 8, p, klen)
			transposeScalar(next, mr, a[(i0+ir+8)*lda+p0:], lda, 8, p, klen)
			ir += mr
			continue
		}
		transposeScalar(panel, mr, a[(i0+ir)*lda+p0:], lda, mm, 0, klen)
	}
}

// packB packs rows [p0, p0+klen) and columns [j0, j0+nlen) of op(B) into
// dst as consecutive k×nr micro-panels. As in packA, the unused columns of
// a partial last panel are left as they are.
func packB(kern *kernel, dst, b []float32, ldb int, transB bool, p0, klen, j0, nlen int) {
	nr := kern.nr
	for jr := 0; jr < nlen; jr += nr {
		nn := min(nr, nlen-jr)
		panel := dst[jr*klen : jr*klen+klen*nr]
		if !transB {
			// op(B)[p][j] = b[p*ldb+j]: each step of k is a contiguous run.
			for p := 0; p < klen; p++ {
				src := b[(p0+p)*ldb+j0+jr:]
				copy(panel[p*nr:p*nr+nn], src[:nn])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: transpose rows into the panel.
		src := b[(j0+jr)*ldb+p0:]
		j := 0
		if kern.transpose != nil && klen >= 16 {
			// Groups of 16 rows are transposed 16×16 blocks at a time;
			// the remaining columns and rows are done one by one.
			nblk := klen / 16
			for ; j+16 <= nn; j += 16 {
				kern.transpose(&panel[j], nr, &src[j*ldb], ldb, nblk, nil)
				transposeScalar(panel[j:], nr, src[j*ldb:], ldb, 16, nblk*16, klen)
			}
		}
		if j < nn {
			transposeScalar(panel[j:], nr, src[j*ldb:], ldb, nn-j, 0, klen)
		}
	}
}

// transposeScalar sets dst[p*dstride+r] = src[r*ldsrc+p] for r < rows and
// p0 ≤ p < p1.
func transposeScalar(dst []float32, dstride int, src []float32, ldsrc, rows, p0, p1 int) {
	for r := 0; r < rows; r++ {
		row := src[r*ldsrc+p0 : r*ldsrc+p1]
		for i, v := range row {
			dst[(p0+i)*dstride+r] = v
		}
	}
}
