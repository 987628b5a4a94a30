//go:build !purego

#include "textflag.h"

// Permutation indices that pick the even and the odd elements of two
// concatenated 16-float vectors.
DATA ·evenIdx+0(SB)/4, $0
DATA ·evenIdx+4(SB)/4, $2
DATA ·evenIdx+8(SB)/4, $4
DATA ·evenIdx+12(SB)/4, $6
DATA ·evenIdx+16(SB)/4, $8
DATA ·evenIdx+20(SB)/4, $10
DATA ·evenIdx+24(SB)/4, $12
DATA ·evenIdx+28(SB)/4, $14
DATA ·evenIdx+32(SB)/4, $16
DATA ·evenIdx+36(SB)/4, $18
DATA ·evenIdx+40(SB)/4, $20
DATA ·evenIdx+44(SB)/4, $22
DATA ·evenIdx+48(SB)/4, $24
DATA ·evenIdx+52(SB)/4, $26
DATA ·evenIdx+56(SB)/4, $28
DATA ·evenIdx+60(SB)/4, $30
GLOBL ·evenIdx(SB), RODATA|NOPTR, $64

DATA ·oddIdx+0(SB)/4, $1
DATA ·oddIdx+4(SB)/4, $3
DATA ·oddIdx+8(SB)/4, $5
DATA ·oddIdx+12(SB)/4, $7
DATA ·oddIdx+16(SB)/4, $9
DATA ·oddIdx+20(SB)/4, $11
DATA ·oddIdx+24(SB)/4, $13
DATA ·oddIdx+28(SB)/4, $15
DATA ·oddIdx+32(SB)/4, $17
DATA ·oddIdx+36(SB)/4, $19
DATA ·oddIdx+40(SB)/4, $21
DATA ·oddIdx+44(SB)/4, $23
DATA ·oddIdx+48(SB)/4, $25
DATA ·oddIdx+52(SB)/4, $27
DATA ·oddIdx+56(SB)/4, $29
DATA ·oddIdx+60(SB)/4, $31
GLOBL ·oddIdx(SB), RODATA|NOPTR, $64

// func copyRowsAVX512(dst *float32, dstride int, src *float32, sstride int, rows, vecs int)
//
// Copies rows rows of vecs·16 floats from src to dst, the rows sstride and
// dstride floats apart; vecs > 0.
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dstride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ sstride+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), CX
	MOVQ vecs+40(FP), R10
	TESTQ CX, CX
	JZ   copied

row:
	XORQ AX, AX
	MOVQ R10, DX

vec:
	VMOVUPS (SI)(AX*1), Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	DECQ    DX
	JNZ     vec
	ADDQ    R9, SI
	ADDQ    R8, DI
	DECQ    CX
	JNZ     row

copied:
	VZEROUPPER
	RET

// func deinterleaveRowsAVX512(even, odd *float32, dstride int, src *float32, sstride int, rows, vecs int, tail bool, mdst, mlo, mhi uint16)
//
// deinterleaveAVX512 of vecs·16 elements for each of rows rows, the rows of
// even and odd dstride floats apart and those of src sstride; odd may be
// nil. If tail is set, one more vector follows in each row, its output
// lanes masked by mdst and the two source vectors by mlo and mhi.
TEXT ·deinterleaveRowsAVX512(SB), NOSPLIT, $0-64
	MOVQ      even+0(FP), DI
	MOVQ      odd+8(FP), R8
	MOVQ      dstride+16(FP), R11
	SHLQ      $2, R11
	MOVQ      src+24(FP), SI
	MOVQ      sstride+32(FP), R12
	SHLQ      $2, R12
	MOVQ      rows+40(FP), CX
	MOVQ      vecs+48(FP), R10
	MOVBLZX   tail+56(FP), R13
	MOVW      mdst+58(FP), AX
	KMOVW     AX, K1
	MOVW      mlo+60(FP), AX
	KMOVW     AX, K2
	MOVW      mhi+62(FP), AX
	KMOVW     AX, K3
	TESTQ     CX, CX
	JZ        rowsDone
	VMOVDQU32 ·evenIdx(SB), Z30
	VMOVDQU32 ·oddIdx(SB), Z31

nextRow:
	XORQ  AX, AX // offset into the output rows
	XORQ  BX, BX // offset into the source row
	MOVQ  R10, DX
	TESTQ DX, DX
	JZ    rowTail

rowVec:
	VMOVUPS   (SI)(BX*1), Z0
	VMOVUPS   64(SI)(BX*1), Z1
	VMOVAPS   Z30, Z2
	VPERMI2PS Z1, Z0, Z2
	VMOVUPS   Z2, (DI)(AX*1)
	TESTQ     R8, R8
	JZ        noOdd
	VMOVAPS   Z31, Z3
	VPERMI2PS Z1, Z0, Z3
	VMOVUPS   Z3, (R8)(AX*1)

noOdd:
	ADDQ $64, AX
	ADDQ $128, BX
	DECQ DX
	JNZ  rowVec

rowTail:
	TESTQ     R13, R13
	JZ        rowEnd
	VMOVUPS.Z (SI)(BX*1), K2, Z0
	VMOVUPS.Z 64(SI)(BX*1), K3, Z1
	VMOVAPS   Z30, Z2
	VPERMI2PS Z1, Z0, Z2
	VMOVUPS   Z2, K1, (DI)(AX*1)
	TESTQ     R8, R8
	JZ        rowEnd
	VMOVAPS   Z31, Z3
	VPERMI2PS Z1, Z0, Z3
	VMOVUPS   Z3, K1, (R8)(AX*1)

rowEnd:
	ADDQ  R11, DI
	TESTQ R8, R8
	JZ    oddDone
	ADDQ  R11, R8

oddDone:
	ADDQ R12, SI
	DECQ CX
	JNZ  nextRow

rowsDone:
	VZEROUPPER
	RET
