//go:build !purego

#include "textflag.h"

// Winograd F(2×2, 3×3) transforms for winograd.go. Each call handles a
// column of up to 16 tiles wide (one tile per lane, K1 masking the lanes
// used) over rows tile rows.

// Indices that interleave two vectors a, b: a0 b0 a1 b1 … (lo: lanes 0-7
// of each, hi: lanes 8-15).
DATA zipLo<>+0(SB)/4, $0
DATA zipLo<>+4(SB)/4, $16
DATA zipLo<>+8(SB)/4, $1
DATA zipLo<>+12(SB)/4, $17
DATA zipLo<>+16(SB)/4, $2
DATA zipLo<>+20(SB)/4, $18
DATA zipLo<>+24(SB)/4, $3
DATA zipLo<>+28(SB)/4, $19
DATA zipLo<>+32(SB)/4, $4
DATA zipLo<>+36(SB)/4, $20
DATA zipLo<>+40(SB)/4, $5
DATA zipLo<>+44(SB)/4, $21
DATA zipLo<>+48(SB)/4, $6
DATA zipLo<>+52(SB)/4, $22
DATA zipLo<>+56(SB)/4, $7
DATA zipLo<>+60(SB)/4, $23
GLOBL zipLo<>(SB), RODATA|NOPTR, $64

DATA zipHi<>+0(SB)/4, $8
DATA zipHi<>+4(SB)/4, $24
DATA zipHi<>+8(SB)/4, $9
DATA zipHi<>+12(SB)/4, $25
DATA zipHi<>+16(SB)/4, $10
DATA zipHi<>+20(SB)/4, $26
DATA zipHi<>+24(SB)/4, $11
DATA zipHi<>+28(SB)/4, $27
DATA zipHi<>+32(SB)/4, $12
DATA zipHi<>+36(SB)/4, $28
DATA zipHi<>+40(SB)/4, $13
DATA zipHi<>+44(SB)/4, $29
DATA zipHi<>+48(SB)/4, $14
DATA zipHi<>+52(SB)/4, $30
DATA zipHi<>+56(SB)/4, $15
DATA zipHi<>+60(SB)/4, $31
GLOBL zipHi<>(SB), RODATA|NOPTR, $64

// The even/odd permutation indices ·evenIdx and ·oddIdx are defined in
// deinterleave_amd64.s.

// func winoInputAVX512(src *float32, wp int, dst *float32, dstride int, mask, lo, hi uint16, rows, dstep, hoff, sstep int)
//
// For each of rows tile rows of one channel of the zero-padded image src
// (rows wp floats apart) it writes V = Bᵀ·d·B, the 16 values ξ = 4i+j to
// dst + ξ·dstride. The tile in lane t covers the padded pixels (i, 2t+j),
// i, j < 4: the even and odd columns of two pairs of vectors, from 0 and
// from 2, loaded under lo and hi, the second vector of each pair hoff
// floats after the first (16 for a row of up to 16 tiles; two padded rows
// to put the next tile row in lanes 8-15). Each iteration moves sstep
// floats further in src and dstep floats further in dst.
TEXT ·winoInputAVX512(SB), NOSPLIT, $0-72
	MOVQ  src+0(FP), SI
	MOVQ  wp+8(FP), R8
	SHLQ  $2, R8
	MOVQ  dst+16(FP), DI
	MOVQ  dstride+24(FP), R9
	SHLQ  $2, R9
	MOVW  mask+32(FP), AX
	KMOVW AX, K1
	MOVW  lo+34(FP), AX
	KMOVW AX, K2
	MOVW  hi+36(FP), AX
	KMOVW AX, K3
	MOVQ  rows+40(FP), CX
	MOVQ  dstep+48(FP), BX
	SHLQ  $2, BX
	MOVQ  hoff+56(FP), R14
	SHLQ  $2, R14
	MOVQ  sstep+64(FP), DX
	SHLQ  $2, DX
	LEAQ  (R9)(R9*2), R10
	VMOVDQU32 ·evenIdx(SB), Z30
	VMOVDQU32 ·oddIdx(SB), Z31
	TESTQ CX, CX
	JZ    inDone

inRow:
	// row 0 of the tiles: columns 2t..2t+3, then the column transform
	LEAQ      (SI), AX
	VMOVUPS.Z (AX), K2, Z16
	VMOVUPS.Z (AX)(R14*1), K3, Z17
	VMOVUPS.Z 8(AX), K2, Z18
	VMOVUPS.Z 8(AX)(R14*1), K3, Z19
	VMOVAPS   Z30, Z20
	VPERMI2PS Z17, Z16, Z20 // d0
	VMOVAPS   Z31, Z21
	VPERMI2PS Z17, Z16, Z21 // d1
	VMOVAPS   Z30, Z22
	VPERMI2PS Z19, Z18, Z22 // d2
	VMOVAPS   Z31, Z23
	VPERMI2PS Z19, Z18, Z23 // d3
	VSUBPS    Z22, Z20, Z0
	VADDPS    Z22, Z21, Z1
	VSUBPS    Z21, Z22, Z2
	VSUBPS    Z23, Z21, Z3
	// row 1 of the tiles: columns 2t..2t+3, then the column transform
	LEAQ      (SI)(R8*1), AX
	VMOVUPS.Z (AX), K2, Z16
	VMOVUPS.Z (AX)(R14*1), K3, Z17
	VMOVUPS.Z 8(AX), K2, Z18
	VMOVUPS.Z 8(AX)(R14*1), K3, Z19
	VMOVAPS   Z30, Z20
	VPERMI2PS Z17, Z16, Z20 // d0
	VMOVAPS   Z31, Z21
	VPERMI2PS Z17, Z16, Z21 // d1
	VMOVAPS   Z30, Z22
	VPERMI2PS Z19, Z18, Z22 // d2
	VMOVAPS   Z31, Z23
	VPERMI2PS Z19, Z18, Z23 // d3
	VSUBPS    Z22, Z20, Z4
	VADDPS    Z22, Z21, Z5
	VSUBPS    Z21, Z22, Z6
	VSUBPS    Z23, Z21, Z7
	// row 2 of the tiles: columns 2t..2t+3, then the column transform
	LEAQ      (SI)(R8*2), AX
	VMOVUPS.Z (AX), K2, Z16
	VMOVUPS.Z (AX)(R14*1), K3, Z17
	VMOVUPS.Z 8(AX), K2, Z18
	VMOVUPS.Z 8(AX)(R14*1), K3, Z19
	VMOVAPS   Z30, Z20
	VPERMI2PS Z17, Z16, Z20 // d0
	VMOVAPS   Z31, Z21
	VPERMI2PS Z17, Z16, Z21 // d1
	VMOVAPS   Z30, Z22
	VPERMI2PS Z19, Z18, Z22 // d2
	VMOVAPS   Z31, Z23
	VPERMI2PS Z19, Z18, Z23 // d3
	VSUBPS    Z22, Z20, Z8
	VADDPS    Z22, Z21, Z9
	VSUBPS    Z21, Z22, Z10
	VSUBPS    Z23, Z21, Z11
	// row 3 of the tiles: columns 2t..2t+3, then the column transform
	LEAQ      (AX)(R8*1), AX
	VMOVUPS.Z (AX), K2, Z16
	VMOVUPS.Z (AX)(R14*1), K3, Z17
	VMOVUPS.Z 8(AX), K2, Z18
	VMOVUPS.Z 8(AX)(R14*1), K3, Z19
	VMOVAPS   Z30, Z20
	VPERMI2PS Z17, Z16, Z20 // d0
	VMOVAPS   Z31, Z21
	VPERMI2PS Z17, Z16, Z21 // d1
	VMOVAPS   Z30, Z22
	VPERMI2PS Z19, Z18, Z22 // d2
	VMOVAPS   Z31, Z23
	VPERMI2PS Z19, Z18, Z23 // d3
	VSUBPS    Z22, Z20, Z12
	VADDPS    Z22, Z21, Z13
	VSUBPS    Z21, Z22, Z14
	VSUBPS    Z23, Z21, Z15
	LEAQ (DI)(R9*4), R11 // ξ 4..7
	LEAQ (R11)(R9*4), R12 // ξ 8..11
	LEAQ (R12)(R9*4), R13 // ξ 12..15
	// column 0: row transform, ξ = 0, 4, 8, 12
	VSUBPS  Z8, Z0, Z20
	VADDPS  Z8, Z4, Z21
	VSUBPS  Z4, Z8, Z22
	VSUBPS  Z12, Z4, Z23
	VMOVUPS Z20, K1, (DI)
	VMOVUPS Z21, K1, (R11)
	VMOVUPS Z22, K1, (R12)
	VMOVUPS Z23, K1, (R13)
	// column 1: row transform, ξ = 1, 5, 9, 13
	VSUBPS  Z9, Z1, Z20
	VADDPS  Z9, Z5, Z21
	VSUBPS  Z5, Z9, Z22
	VSUBPS  Z13, Z5, Z23
	VMOVUPS Z20, K1, (DI)(R9*1)
	VMOVUPS Z21, K1, (R11)(R9*1)
	VMOVUPS Z22, K1, (R12)(R9*1)
	VMOVUPS Z23, K1, (R13)(R9*1)
	// column 2: row transform, ξ = 2, 6, 10, 14
	VSUBPS  Z10, Z2, Z20
	VADDPS  Z10, Z6, Z21
	VSUBPS  Z6, Z10, Z22
	VSUBPS  Z14, Z6, Z23
	VMOVUPS Z20, K1, (DI)(R9*2)
	VMOVUPS Z21, K1, (R11)(R9*2)
	VMOVUPS Z22, K1, (R12)(R9*2)
	VMOVUPS Z23, K1, (R13)(R9*2)
	// column 3: row transform, ξ = 3, 7, 11, 15
	VSUBPS  Z11, Z3, Z20
	VADDPS  Z11, Z7, Z21
	VSUBPS  Z7, Z11, Z22
	VSUBPS  Z15, Z7, Z23
	VMOVUPS Z20, K1, (DI)(R10*1)
	VMOVUPS Z21, K1, (R11)(R10*1)
	VMOVUPS Z22, K1, (R12)(R10*1)
	VMOVUPS Z23, K1, (R13)(R10*1)
	ADDQ DX, SI
	ADDQ BX, DI
	DECQ CX
	JNZ  inRow

inDone:
	VZEROUPPER
	RET

// func winoOutputAVX512(m *float32, mstride int, y0, y1 *float32, mask, lo, hi uint16, rows, mstep, ystep, hoff int)
//
// For each of rows tile rows of one output channel it reads the 16 values
// ξ = 4i+j at m + ξ·mstride and writes Y = Aᵀ·M·A: the two output rows y0
// and y1, the tiles' columns interleaved (lo and hi mask the two 16-float
// halves of each row, the second written hoff floats after the first: 16
// within a row of up to 16 tiles, or two output rows when lanes 8-15 hold
// the next tile row). Each iteration reads mstep floats further and writes
// ystep floats further.
TEXT ·winoOutputAVX512(SB), NOSPLIT, $0-72
	MOVQ  m+0(FP), SI
	MOVQ  mstride+8(FP), R9
	SHLQ  $2, R9
	MOVQ  y0+16(FP), DI
	MOVQ  y1+24(FP), DX
	MOVW  mask+32(FP), AX
	KMOVW AX, K1
	MOVW  lo+34(FP), AX
	KMOVW AX, K2
	MOVW  hi+36(FP), AX
	KMOVW AX, K3
	MOVQ  rows+40(FP), CX
	MOVQ  mstep+48(FP), BX
	SHLQ  $2, BX
	MOVQ  ystep+56(FP), R8
	SHLQ  $2, R8
	MOVQ  hoff+64(FP), R14
	SHLQ  $2, R14
	LEAQ  (R9)(R9*2), R10
	VMOVDQU32 zipLo<>(SB), Z28
	VMOVDQU32 zipHi<>(SB), Z29
	TESTQ CX, CX
	JZ    outDone

outRow:
	LEAQ  (SI)(R9*4), R11
	LEAQ  (R11)(R9*4), R12
	LEAQ  (R12)(R9*4), R13
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (SI)(R9*1), K1, Z1
	VMOVUPS.Z (SI)(R9*2), K1, Z2
	VMOVUPS.Z (SI)(R10*1), K1, Z3
	VMOVUPS.Z (R11), K1, Z4
	VMOVUPS.Z (R11)(R9*1), K1, Z5
	VMOVUPS.Z (R11)(R9*2), K1, Z6
	VMOVUPS.Z (R11)(R10*1), K1, Z7
	VMOVUPS.Z (R12), K1, Z8
	VMOVUPS.Z (R12)(R9*1), K1, Z9
	VMOVUPS.Z (R12)(R9*2), K1, Z10
	VMOVUPS.Z (R12)(R10*1), K1, Z11
	VMOVUPS.Z (R13), K1, Z12
	VMOVUPS.Z (R13)(R9*1), K1, Z13
	VMOVUPS.Z (R13)(R9*2), K1, Z14
	VMOVUPS.Z (R13)(R10*1), K1, Z15
	VADDPS Z1, Z0, Z0
	VADDPS Z2, Z0, Z0
	VSUBPS Z2, Z1, Z1
	VSUBPS Z3, Z1, Z1
	VADDPS Z5, Z4, Z4
	VADDPS Z6, Z4, Z4
	VSUBPS Z6, Z5, Z5
	VSUBPS Z7, Z5, Z5
	VADDPS Z9, Z8, Z8
	VADDPS Z10, Z8, Z8
	VSUBPS Z10, Z9, Z9
	VSUBPS Z11, Z9, Z9
	VADDPS Z13, Z12, Z12
	VADDPS Z14, Z12, Z12
	VSUBPS Z14, Z13, Z13
	VSUBPS Z15, Z13, Z13
	VADDPS Z4, Z0, Z16
	VADDPS Z8, Z16, Z16
	VSUBPS Z8, Z4, Z18
	VSUBPS Z12, Z18, Z18
	VADDPS Z5, Z1, Z17
	VADDPS Z9, Z17, Z17
	VSUBPS Z9, Z5, Z19
	VSUBPS Z13, Z19, Z19
	VMOVAPS   Z28, Z20
	VPERMI2PS Z17, Z16, Z20
	VMOVAPS   Z29, Z21
	VPERMI2PS Z17, Z16, Z21
	VMOVUPS   Z20, K2, (DI)
	VMOVUPS   Z21, K3, (DI)(R14*1)
	VMOVAPS   Z28, Z20
	VPERMI2PS Z19, Z18, Z20
	VMOVAPS   Z29, Z21
	VPERMI2PS Z19, Z18, Z21
	VMOVUPS   Z20, K2, (DX)
	VMOVUPS   Z21, K3, (DX)(R14*1)
	ADDQ BX, SI
	ADDQ R8, DI
	ADDQ R8, DX
	DECQ CX
	JNZ  outRow

outDone:
	VZEROUPPER
	RET
