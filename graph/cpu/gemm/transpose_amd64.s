//go:build !purego

#include "textflag.h"

// Transposition of 16×16 blocks of float32 for packing. The 16 rows are
// loaded into Z0..Z15 by LOADT16, transposed in four shuffle stages (32-bit
// and 64-bit unpacks within 128-bit lanes, then two rounds of 128-bit lane
// shuffles) by TRANSPOSE16, after which Z(q) holds column q.
//   SI, R10, R11, R12 = rows 0, 4, 8, 12 of the source; R8 = source row
//   stride in bytes and R9 = 3·R8; DI = destination; DX = destination row
//   stride in bytes and R13 = 3·DX; CX = number of 16-column blocks.

#define LOADT16 \
	VMOVUPS (SI), Z0; \
	VMOVUPS (SI)(R8*1), Z1; \
	VMOVUPS (SI)(R8*2), Z2; \
	VMOVUPS (SI)(R9*1), Z3; \
	VMOVUPS (R10), Z4; \
	VMOVUPS (R10)(R8*1), Z5; \
	VMOVUPS (R10)(R8*2), Z6; \
	VMOVUPS (R10)(R9*1), Z7; \
	VMOVUPS (R11), Z8; \
	VMOVUPS (R11)(R8*1), Z9; \
	VMOVUPS (R11)(R8*2), Z10; \
	VMOVUPS (R11)(R9*1), Z11; \
	VMOVUPS (R12), Z12; \
	VMOVUPS (R12)(R8*1), Z13; \
	VMOVUPS (R12)(R8*2), Z14; \
	VMOVUPS (R12)(R9*1), Z15; \
	ADDQ $64, SI; \
	ADDQ $64, R10; \
	ADDQ $64, R11; \
	ADDQ $64, R12

#define TRANSPOSE16 \
	VUNPCKLPS Z1, Z0, Z16; \
	VUNPCKHPS Z1, Z0, Z17; \
	VUNPCKLPS Z3, Z2, Z18; \
	VUNPCKHPS Z3, Z2, Z19; \
	VUNPCKLPS Z5, Z4, Z20; \
	VUNPCKHPS Z5, Z4, Z21; \
	VUNPCKLPS Z7, Z6, Z22; \
	VUNPCKHPS Z7, Z6, Z23; \
	VUNPCKLPS Z9, Z8, Z24; \
	VUNPCKHPS Z9, Z8, Z25; \
	VUNPCKLPS Z11, Z10, Z26; \
	VUNPCKHPS Z11, Z10, Z27; \
	VUNPCKLPS Z13, Z12, Z28; \
	VUNPCKHPS Z13, Z12, Z29; \
	VUNPCKLPS Z15, Z14, Z30; \
	VUNPCKHPS Z15, Z14, Z31; \
	VUNPCKLPD Z18, Z16, Z0; \
	VUNPCKHPD Z18, Z16, Z1; \
	VUNPCKLPD Z19, Z17, Z2; \
	VUNPCKHPD Z19, Z17, Z3; \
	VUNPCKLPD Z22, Z20, Z4; \
	VUNPCKHPD Z22, Z20, Z5; \
	VUNPCKLPD Z23, Z21, Z6; \
	VUNPCKHPD Z23, Z21, Z7; \
	VUNPCKLPD Z26, Z24, Z8; \
	VUNPCKHPD Z26, Z24, Z9; \
	VUNPCKLPD Z27, Z25, Z10; \
	VUNPCKHPD Z27, Z25, Z11; \
	VUNPCKLPD Z30, Z28, Z12; \
	VUNPCKHPD Z30, Z28, Z13; \
	VUNPCKLPD Z31, Z29, Z14; \
	VUNPCKHPD Z31, Z29, Z15; \
	VSHUFF32X4 $0x88, Z4, Z0, Z16; \
	VSHUFF32X4 $0xDD, Z4, Z0, Z17; \
	VSHUFF32X4 $0x88, Z12, Z8, Z18; \
	VSHUFF32X4 $0xDD, Z12, Z8, Z19; \
	VSHUFF32X4 $0x88, Z5, Z1, Z20; \
	VSHUFF32X4 $0xDD, Z5, Z1, Z21; \
	VSHUFF32X4 $0x88, Z13, Z9, Z22; \
	VSHUFF32X4 $0xDD, Z13, Z9, Z23; \
	VSHUFF32X4 $0x88, Z6, Z2, Z24; \
	VSHUFF32X4 $0xDD, Z6, Z2, Z25; \
	VSHUFF32X4 $0x88, Z14, Z10, Z26; \
	VSHUFF32X4 $0xDD, Z14, Z10, Z27; \
	VSHUFF32X4 $0x88, Z7, Z3, Z28; \
	VSHUFF32X4 $0xDD, Z7, Z3, Z29; \
	VSHUFF32X4 $0x88, Z15, Z11, Z30; \
	VSHUFF32X4 $0xDD, Z15, Z11, Z31; \
	VSHUFF32X4 $0x88, Z18, Z16, Z0; \
	VSHUFF32X4 $0xDD, Z18, Z16, Z8; \
	VSHUFF32X4 $0x88, Z19, Z17, Z4; \
	VSHUFF32X4 $0xDD, Z19, Z17, Z12; \
	VSHUFF32X4 $0x88, Z22, Z20, Z1; \
	VSHUFF32X4 $0xDD, Z22, Z20, Z9; \
	VSHUFF32X4 $0x88, Z23, Z21, Z5; \
	VSHUFF32X4 $0xDD, Z23, Z21, Z13; \
	VSHUFF32X4 $0x88, Z26, Z24, Z2; \
	VSHUFF32X4 $0xDD, Z26, Z24, Z10; \
	VSHUFF32X4 $0x88, Z27, Z25, Z6; \
	VSHUFF32X4 $0xDD, Z27, Z25, Z14; \
	VSHUFF32X4 $0x88, Z30, Z28, Z3; \
	VSHUFF32X4 $0xDD, Z30, Z28, Z11; \
	VSHUFF32X4 $0x88, Z31, Z29, Z7; \
	VSHUFF32X4 $0xDD, Z31, Z29, Z15

#define STORET16 \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, (DI)(DX*1); \
	VMOVUPS Z2, (DI)(DX*2); \
	VMOVUPS Z3, (DI)(R13*1); \
	LEAQ (DI)(DX*4), DI; \
	VMOVUPS Z4, (DI); \
	VMOVUPS Z5, (DI)(DX*1); \
	VMOVUPS Z6, (DI)(DX*2); \
	VMOVUPS Z7, (DI)(R13*1); \
	LEAQ (DI)(DX*4), DI; \
	VMOVUPS Z8, (DI); \
	VMOVUPS Z9, (DI)(DX*1); \
	VMOVUPS Z10, (DI)(DX*2); \
	VMOVUPS Z11, (DI)(R13*1); \
	LEAQ (DI)(DX*4), DI; \
	VMOVUPS Z12, (DI); \
	VMOVUPS Z13, (DI)(DX*1); \
	VMOVUPS Z14, (DI)(DX*2); \
	VMOVUPS Z15, (DI)(R13*1); \
	LEAQ (DI)(DX*4), DI

#define STORET16SPLIT \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y1, (DI)(DX*1); \
	VMOVUPS Y2, (DI)(DX*2); \
	VMOVUPS Y3, (DI)(R13*1); \
	VEXTRACTF32X8 $1, Z0, (BX); \
	VEXTRACTF32X8 $1, Z1, (BX)(DX*1); \
	VEXTRACTF32X8 $1, Z2, (BX)(DX*2); \
	VEXTRACTF32X8 $1, Z3, (BX)(R13*1); \
	LEAQ (DI)(DX*4), DI; \
	LEAQ (BX)(DX*4), BX; \
	VMOVUPS Y4, (DI); \
	VMOVUPS Y5, (DI)(DX*1); \
	VMOVUPS Y6, (DI)(DX*2); \
	VMOVUPS Y7, (DI)(R13*1); \
	VEXTRACTF32X8 $1, Z4, (BX); \
	VEXTRACTF32X8 $1, Z5, (BX)(DX*1); \
	VEXTRACTF32X8 $1, Z6, (BX)(DX*2); \
	VEXTRACTF32X8 $1, Z7, (BX)(R13*1); \
	LEAQ (DI)(DX*4), DI; \
	LEAQ (BX)(DX*4), BX; \
	VMOVUPS Y8, (DI); \
	VMOVUPS Y9, (DI)(DX*1); \
	VMOVUPS Y10, (DI)(DX*2); \
	VMOVUPS Y11, (DI)(R13*1); \
	VEXTRACTF32X8 $1, Z8, (BX); \
	VEXTRACTF32X8 $1, Z9, (BX)(DX*1); \
	VEXTRACTF32X8 $1, Z10, (BX)(DX*2); \
	VEXTRACTF32X8 $1, Z11, (BX)(R13*1); \
	LEAQ (DI)(DX*4), DI; \
	LEAQ (BX)(DX*4), BX; \
	VMOVUPS Y12, (DI); \
	VMOVUPS Y13, (DI)(DX*1); \
	VMOVUPS Y14, (DI)(DX*2); \
	VMOVUPS Y15, (DI)(R13*1); \
	VEXTRACTF32X8 $1, Z12, (BX); \
	VEXTRACTF32X8 $1, Z13, (BX)(DX*1); \
	VEXTRACTF32X8 $1, Z14, (BX)(DX*2); \
	VEXTRACTF32X8 $1, Z15, (BX)(R13*1); \
	LEAQ (DI)(DX*4), DI; \
	LEAQ (BX)(DX*4), BX

#define PROLOGUET16 \
	MOVQ dst+0(FP), DI;         \
	MOVQ dstride+8(FP), DX;     \
	SHLQ $2, DX;                \
	LEAQ (DX)(DX*2), R13;       \
	MOVQ src+16(FP), SI;        \
	MOVQ ldsrc+24(FP), R8;      \
	SHLQ $2, R8;                \
	LEAQ (R8)(R8*2), R9;        \
	LEAQ (SI)(R8*4), R10;       \
	LEAQ (R10)(R8*4), R11;      \
	LEAQ (R11)(R8*4), R12;      \
	MOVQ nblk+32(FP), CX

// func transpose16(dst *float32, dstride int, src *float32, ldsrc int, nblk int)
TEXT ·transpose16(SB), NOSPLIT, $0-40
	PROLOGUET16
	TESTQ CX, CX
	JEQ   done

loop:
	LOADT16
	TRANSPOSE16
	STORET16
	DECQ CX
	JNE  loop

done:
	VZEROUPPER
	RET

// func transpose16Split(dst *float32, dstride int, src *float32, ldsrc int, nblk int, dst2 *float32)
TEXT ·transpose16Split(SB), NOSPLIT, $0-48
	PROLOGUET16
	MOVQ  dst2+40(FP), BX
	TESTQ CX, CX
	JEQ   done

loop:
	LOADT16
	TRANSPOSE16
	STORET16SPLIT
	DECQ CX
	JNE  loop

done:
	VZEROUPPER
	RET
