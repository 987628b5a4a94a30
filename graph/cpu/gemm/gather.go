package gemm

import "fmt"

// PackedA is an m×k matrix packed once into the micro-panels of the active
// micro-kernel, for repeated products by SgemmGather. The zero value is an
// empty matrix ready for Pack.
type PackedA struct {
	kern *kernel
	m, k int
	data []float32
}

// Pack packs the m×k row-major matrix a, with row stride lda, into p. It
// reuses p's memory when it is large enough.
func (p *PackedA) Pack(m, k int, a []float32, lda int) { p.pack(activeKernel, m, k, a, lda) }

// pack is Pack for the micro-kernel kern.
func (p *PackedA) pack(kern *kernel, m, k int, a []float32, lda int) {
	if m < 0 || k < 0 || lda < max(1, k) {
		panic(fmt.Sprintf("gemm: pack: m=%d, k=%d, lda=%d", m, k, lda))
	}
	if need := minLen(m, k, lda); len(a) < need {
		panic(fmt.Sprintf("gemm: pack: len(a)=%d is shorter than the %d elements required", len(a), need))
	}
	panels := (m + kern.mr - 1) / kern.mr
	need := panels * kern.mr * k
	if cap(p.data) < need {
		p.data = make([]float32, need)
	}
	p.kern, p.m, p.k, p.data = kern, m, k, p.data[:need]
	if m > 0 && k > 0 {
		packA(kern, p.data, a, lda, false, 0, m, 0, k)
	}
}

// Rows returns the number of rows of the packed matrix.
func (p *PackedA) Rows() int { return p.m }

// Cols returns the number of columns of the packed matrix.
func (p *PackedA) Cols() int { return p.k }

// Segment is the number of contiguous elements of src that make up one run
// of a row of the gathered matrix B in SgemmGather.
const Segment = 8

// SgemmGather computes C = A·B, where A is the m×k matrix packed in a and
// B is the k×n matrix gathered from src in runs of Segment elements:
//
//	B[p][j] = src[rowOff[p] + colOff[j/Segment] + j%Segment]
//
// This is the product of a convolution's filter with the image patches of
// one image without writing the patch (im2col) matrix: rowOff gives, for
// each filter tap, where it starts in the (padded) image, and colOff where
// each run of Segment outputs starts. n must be a multiple of Segment,
// len(rowOff) must be k and len(colOff) n/Segment. C is m×n with row stride
// ldc and is overwritten, not read. SgemmGather runs on the calling
// goroutine and does not allocate in steady state. It panics if an
// argument is inconsistent or an element of B lies outside src.
func SgemmGather(a *PackedA, n int, src []float32, rowOff, colOff []int32, c []float32, ldc int) {
	m, k := a.m, a.k
	if n < 0 || n%Segment != 0 {
		panic(fmt.Sprintf("gemm: gather: n=%d is not a non-negative multiple of %d", n, Segment))
	}
	if len(rowOff) != k || len(colOff) != n/Segment {
		panic(fmt.Sprintf("gemm: gather: %d row offsets and %d column offsets for k=%d, n=%d", len(rowOff), len(colOff), k, n))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("gemm: gather: ldc=%d is smaller than n=%d", ldc, n))
	}
	if m == 0 || n == 0 {
		return
	}
	if need := minLen(m, n, ldc); len(c) < need {
		panic(fmt.Sprintf("gemm: gather: len(c)=%d is shorter than the %d elements required", len(c), need))
	}
	if k == 0 {
		scaleC(m, n, 0, c, ldc)
		return
	}
	checkOffsets(len(src), rowOff, colOff)
	kern := a.kern
	mr, nr := kern.mr, kern.nr
	// pw is the width of a gathered panel of B: the kernel's nr when it is
	// a whole number of runs, otherwise one run.
	pw := nr
	if nr%Segment != 0 {
		pw = Segment
	}
	buf := bufPool.Get().(*buffers)
	kc := min(k, packBMax/pw)
	for jc := 0; jc < n; jc += pw {
		nb := min(pw, n-jc)
		segs := colOff[jc/Segment : (jc+nb)/Segment]
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			var beta float32
			if pc > 0 {
				beta = 1
			}
			bp := buf.b[:kb*pw]
			gatherPanel(kern, bp, pw, src, rowOff[pc:pc+kb], segs)
			for jr := 0; jr < nb; jr += nr {
				for ir := 0; ir < m; ir += mr {
					tile(kern, buf, kb, &a.data[ir*k+pc*mr], mr, &bp[jr], pw, c[ir*ldc+jc+jr:], ldc, min(mr, m-ir), min(nr, nb-jr), 1, beta)
				}
			}
		}
	}
	bufPool.Put(buf)
}

// checkOffsets panics unless every src[r + c + i], r in rowOff, c in
// colOff and 0 ≤ i < Segment, is inside a slice of length n.
func checkOffsets(n int, rowOff, colOff []int32) {
	rlo, rhi := minMax(rowOff)
	clo, chi := minMax(colOff)
	if rlo+clo < 0 || rhi+chi+Segment > int64(n) {
		panic(fmt.Sprintf("gemm: gather: offsets reach [%d, %d) outside the %d elements of src", rlo+clo, rhi+chi+Segment, n))
	}
}

func minMax(s []int32) (lo, hi int64) {
	lo, hi = int64(s[0]), int64(s[0])
	for _, v := range s[1:] {
		lo, hi = min(lo, int64(v)), max(hi, int64(v))
	}
	return lo, hi
}

// gatherPanel writes the len(rowOff)×pw panel of B, rows pw elements apart,
// for the runs starting at segs (len(segs)·Segment ≤ pw columns; the rest
// of each row is left as it is), with the gather routine of kern for a
// full panel of its width. The offsets have been checked.
func gatherPanel(kern *kernel, dst []float32, pw int, src []float32, rowOff, segs []int32) {
	if kern.gather != nil && pw == kern.nr && len(segs)*Segment == pw && len(rowOff) > 0 && len(dst) >= len(rowOff)*pw {
		kern.gather(&dst[0], len(rowOff), &src[0], &rowOff[0], &segs[0])
		return
	}
	for p, r := range rowOff {
		row := dst[p*pw : p*pw+pw]
		for q, s := range segs {
			o := int(r) + int(s)
			d := row[q*Segment : q*Segment+Segment : q*Segment+Segment]
			v := src[o : o+Segment : o+Segment]
			d[0], d[1], d[2], d[3] = v[0], v[1], v[2], v[3]
			d[4], d[5], d[6], d[7] = v[4], v[5], v[6], v[7]
		}
	}
}

// SgemmPacked computes C = A·B for the m×k matrix packed in a and the k×n
// row-major matrix b with row stride ldb, which is read in place. C is m×n
// with row stride ldc and is overwritten, not read. It runs on the calling
// goroutine, does not allocate in steady state, and panics if an argument
// is inconsistent.
func SgemmPacked(a *PackedA, n int, b []float32, ldb int, c []float32, ldc int) {
	m, k := a.m, a.k
	if n < 0 || ldb < max(1, n) || ldc < max(1, n) {
		panic(fmt.Sprintf("gemm: packed: n=%d, ldb=%d, ldc=%d", n, ldb, ldc))
	}
	if m == 0 || n == 0 {
		return
	}
	if need := minLen(m, n, ldc); len(c) < need {
		panic(fmt.Sprintf("gemm: packed: len(c)=%d is shorter than the %d elements required", len(c), need))
	}
	if k == 0 {
		scaleC(m, n, 0, c, ldc)
		return
	}
	if need := minLen(k, n, ldb); len(b) < need {
		panic(fmt.Sprintf("gemm: packed: len(b)=%d is shorter than the %d elements required", len(b), need))
	}
	kern := a.kern
	mr, nr := kern.mr, kern.nr
	buf := bufPool.Get().(*buffers)
	for jr := 0; jr < n; jr += nr {
		nn := min(nr, n-jr)
		bp, bs := &b[jr], ldb
		if nn < nr {
			// A partial panel at the right edge is packed, so that the
			// kernel does not read past the end of b.
			packB(kern, buf.b[:], b, ldb, false, 0, k, jr, nn)
			bp, bs = &buf.b[0], nr
		}
		for ir := 0; ir < m; ir += mr {
			tile(kern, buf, k, &a.data[ir*k], mr, bp, bs, c[ir*ldc+jr:], ldc, min(mr, m-ir), nn, 1, 0)
		}
	}
	bufPool.Put(buf)
}
