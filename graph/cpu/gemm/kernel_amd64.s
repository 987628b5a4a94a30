//go:build !purego

#include "textflag.h"

// Register use of kernelAVX512 (8×32 tile):
//   Z0..Z15   accumulators, row r in Z(2r) (columns 0-15) and Z(2r+1) (16-31)
//   Z16, Z17  one row of packed B
//   Z18..Z25  broadcast elements of packed A
//   AX = A, BX = B, CX = k, R11 = A stride and R8 = B stride in bytes,
//   DI = C, R9 = ldc in bytes

#define LOADB512 \
	VMOVUPS (BX), Z16;   \
	VMOVUPS 64(BX), Z17

// STOREB512 copies the row of B just loaded to the packing buffer at R10.
#define STOREB512 \
	VMOVUPS Z16, (R10);   \
	VMOVUPS Z17, 64(R10); \
	ADDQ    $128, R10

#define FMA512 \
	VBROADCASTSS (AX), Z18;      \
	VBROADCASTSS 4(AX), Z19;     \
	VFMADD231PS  Z16, Z18, Z0;   \
	VFMADD231PS  Z17, Z18, Z1;   \
	VBROADCASTSS 8(AX), Z20;     \
	VFMADD231PS  Z16, Z19, Z2;   \
	VFMADD231PS  Z17, Z19, Z3;   \
	VBROADCASTSS 12(AX), Z21;    \
	VFMADD231PS  Z16, Z20, Z4;   \
	VFMADD231PS  Z17, Z20, Z5;   \
	VBROADCASTSS 16(AX), Z22;    \
	VFMADD231PS  Z16, Z21, Z6;   \
	VFMADD231PS  Z17, Z21, Z7;   \
	VBROADCASTSS 20(AX), Z23;    \
	VFMADD231PS  Z16, Z22, Z8;   \
	VFMADD231PS  Z17, Z22, Z9;   \
	VBROADCASTSS 24(AX), Z24;    \
	VFMADD231PS  Z16, Z23, Z10;  \
	VFMADD231PS  Z17, Z23, Z11;  \
	VBROADCASTSS 28(AX), Z25;    \
	VFMADD231PS  Z16, Z24, Z12;  \
	VFMADD231PS  Z17, Z24, Z13;  \
	ADDQ         R11, AX;        \
	VFMADD231PS  Z16, Z25, Z14;  \
	VFMADD231PS  Z17, Z25, Z15;  \
	ADDQ         R8, BX

#define STEP512 LOADB512; FMA512

// STEP512P is STEP512 that also packs the row of B and prefetches the row
// of B four steps ahead (R12 = 4·B stride). B is read in place with an
// arbitrary row stride here, which the hardware prefetchers follow poorly.
#define STEP512P \
	LOADB512;                   \
	STOREB512;                  \
	PREFETCHT0 (BX)(R12*1);     \
	PREFETCHT0 64(BX)(R12*1);   \
	FMA512

// C row = alpha·acc + beta·C row.
#define ROW512BETA(r0, r1) \
	VMULPS      Z26, r0, r0;     \
	VMULPS      Z26, r1, r1;     \
	VFMADD231PS (DI), Z27, r0;   \
	VFMADD231PS 64(DI), Z27, r1; \
	VMOVUPS     r0, (DI);        \
	VMOVUPS     r1, 64(DI);      \
	ADDQ        R9, DI

// C row = alpha·acc.
#define ROW512(r0, r1) \
	VMULPS  Z26, r0, r0; \
	VMULPS  Z26, r1, r1; \
	VMOVUPS r0, (DI);    \
	VMOVUPS r1, 64(DI);  \
	ADDQ    R9, DI

#define PROLOGUE512 \
	MOVQ   k+0(FP), CX;         \
	MOVQ   a+8(FP), AX;         \
	MOVQ   astride+16(FP), R11; \
	SHLQ   $2, R11;             \
	MOVQ   b+24(FP), BX;        \
	MOVQ   bstride+32(FP), R8;  \
	SHLQ   $2, R8;              \
	MOVQ   c+40(FP), DI;        \
	MOVQ   ldc+48(FP), R9;      \
	SHLQ   $2, R9;              \
	VPXORD Z0, Z0, Z0;          \
	VPXORD Z1, Z1, Z1;          \
	VPXORD Z2, Z2, Z2;          \
	VPXORD Z3, Z3, Z3;          \
	VPXORD Z4, Z4, Z4;          \
	VPXORD Z5, Z5, Z5;          \
	VPXORD Z6, Z6, Z6;          \
	VPXORD Z7, Z7, Z7;          \
	VPXORD Z8, Z8, Z8;          \
	VPXORD Z9, Z9, Z9;          \
	VPXORD Z10, Z10, Z10;       \
	VPXORD Z11, Z11, Z11;       \
	VPXORD Z12, Z12, Z12;       \
	VPXORD Z13, Z13, Z13;       \
	VPXORD Z14, Z14, Z14;       \
	VPXORD Z15, Z15, Z15

// C row = acc.
#define ROW512ONE(r0, r1) \
	VMOVUPS r0, (DI);    \
	VMOVUPS r1, 64(DI);  \
	ADDQ    R9, DI

// EPILOGUE512 writes the tile to C and returns; nobeta and noscale are
// local labels. With beta = 0 and alpha = 1 (the convolutions' case) the
// accumulators are stored as they are.
#define EPILOGUE512(nobeta, noscale) \
	VBROADCASTSS alpha+56(FP), Z26; \
	MOVL         beta+60(FP), DX;   \
	ANDL         $0x7fffffff, DX;   \
	JEQ          nobeta;            \
	VBROADCASTSS beta+60(FP), Z27;  \
	ROW512BETA(Z0, Z1);             \
	ROW512BETA(Z2, Z3);             \
	ROW512BETA(Z4, Z5);             \
	ROW512BETA(Z6, Z7);             \
	ROW512BETA(Z8, Z9);             \
	ROW512BETA(Z10, Z11);           \
	ROW512BETA(Z12, Z13);           \
	ROW512BETA(Z14, Z15);           \
	VZEROUPPER;                     \
	RET;                            \
nobeta:                             \
	MOVL         alpha+56(FP), DX;  \
	CMPL         DX, $0x3f800000;   \
	JEQ          noscale;           \
	ROW512(Z0, Z1);                 \
	ROW512(Z2, Z3);                 \
	ROW512(Z4, Z5);                 \
	ROW512(Z6, Z7);                 \
	ROW512(Z8, Z9);                 \
	ROW512(Z10, Z11);               \
	ROW512(Z12, Z13);               \
	ROW512(Z14, Z15);               \
	VZEROUPPER;                     \
	RET;                            \
noscale:                            \
	ROW512ONE(Z0, Z1);              \
	ROW512ONE(Z2, Z3);              \
	ROW512ONE(Z4, Z5);              \
	ROW512ONE(Z6, Z7);              \
	ROW512ONE(Z8, Z9);              \
	ROW512ONE(Z10, Z11);            \
	ROW512ONE(Z12, Z13);            \
	ROW512ONE(Z14, Z15);            \
	VZEROUPPER;                     \
	RET

// func kernelAVX512(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)
TEXT ·kernelAVX512(SB), NOSPLIT, $0-64
	PROLOGUE512
	CMPQ CX, $4
	JLT  tail

loop4:
	STEP512
	STEP512
	STEP512
	STEP512
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JEQ   done

loop1:
	STEP512
	DECQ CX
	JNE  loop1

done:
	EPILOGUE512(nobeta, noscale)

// func kernelAVX512Pack(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, bpack *float32)
//
// kernelAVX512Pack is kernelAVX512 that also copies the k×32 panel of B it
// reads into bpack, with rows 32 elements apart.
TEXT ·kernelAVX512Pack(SB), NOSPLIT, $0-72
	PROLOGUE512
	MOVQ bpack+64(FP), R10
	MOVQ R8, R12
	SHLQ $2, R12
	CMPQ CX, $4
	JLT  tail

loop4:
	STEP512P
	STEP512P
	STEP512P
	STEP512P
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JEQ   done

loop1:
	STEP512P
	DECQ CX
	JNE  loop1

done:
	EPILOGUE512(nobeta, noscale)

// Register use of kernelAVX2 (6×16 tile):
//   Y0..Y11   accumulators, row r in Y(2r) (columns 0-7) and Y(2r+1) (8-15)
//   Y12, Y13  one row of packed B
//   Y14, Y15  broadcast elements of packed A

#define LOADB256 \
	VMOVUPS (BX), Y12; \
	VMOVUPS 32(BX), Y13

#define STOREB256 \
	VMOVUPS Y12, (R10);   \
	VMOVUPS Y13, 32(R10); \
	ADDQ    $64, R10

#define FMA256 \
	VBROADCASTSS (AX), Y14;     \
	VBROADCASTSS 4(AX), Y15;    \
	VFMADD231PS  Y12, Y14, Y0;  \
	VFMADD231PS  Y13, Y14, Y1;  \
	VBROADCASTSS 8(AX), Y14;    \
	VFMADD231PS  Y12, Y15, Y2;  \
	VFMADD231PS  Y13, Y15, Y3;  \
	VBROADCASTSS 12(AX), Y15;   \
	VFMADD231PS  Y12, Y14, Y4;  \
	VFMADD231PS  Y13, Y14, Y5;  \
	VBROADCASTSS 16(AX), Y14;   \
	VFMADD231PS  Y12, Y15, Y6;  \
	VFMADD231PS  Y13, Y15, Y7;  \
	VBROADCASTSS 20(AX), Y15;   \
	VFMADD231PS  Y12, Y14, Y8;  \
	VFMADD231PS  Y13, Y14, Y9;  \
	ADDQ         R11, AX;       \
	VFMADD231PS  Y12, Y15, Y10; \
	VFMADD231PS  Y13, Y15, Y11; \
	ADDQ         R8, BX

#define STEP256 LOADB256; FMA256

// STEP256P is STEP256 that also packs the row of B and prefetches the row
// of B four steps ahead (R12 = 4·B stride).
#define STEP256P \
	LOADB256;              \
	STOREB256;             \
	PREFETCHT0 (BX)(R12*1); \
	FMA256

#define ROW256BETA(r0, r1) \
	VMULPS      Y14, r0, r0;     \
	VMULPS      Y14, r1, r1;     \
	VFMADD231PS (DI), Y15, r0;   \
	VFMADD231PS 32(DI), Y15, r1; \
	VMOVUPS     r0, (DI);        \
	VMOVUPS     r1, 32(DI);      \
	ADDQ        R9, DI

#define ROW256(r0, r1) \
	VMULPS  Y14, r0, r0; \
	VMULPS  Y14, r1, r1; \
	VMOVUPS r0, (DI);    \
	VMOVUPS r1, 32(DI);  \
	ADDQ    R9, DI

#define PROLOGUE256 \
	MOVQ   k+0(FP), CX;         \
	MOVQ   a+8(FP), AX;         \
	MOVQ   astride+16(FP), R11; \
	SHLQ   $2, R11;             \
	MOVQ   b+24(FP), BX;        \
	MOVQ   bstride+32(FP), R8;  \
	SHLQ   $2, R8;              \
	MOVQ   c+40(FP), DI;        \
	MOVQ   ldc+48(FP), R9;      \
	SHLQ   $2, R9;              \
	VXORPS Y0, Y0, Y0;          \
	VXORPS Y1, Y1, Y1;          \
	VXORPS Y2, Y2, Y2;          \
	VXORPS Y3, Y3, Y3;          \
	VXORPS Y4, Y4, Y4;          \
	VXORPS Y5, Y5, Y5;          \
	VXORPS Y6, Y6, Y6;          \
	VXORPS Y7, Y7, Y7;          \
	VXORPS Y8, Y8, Y8;          \
	VXORPS Y9, Y9, Y9;          \
	VXORPS Y10, Y10, Y10;       \
	VXORPS Y11, Y11, Y11

// EPILOGUE256 writes the tile to C and returns; nobeta is a local label.
#define EPILOGUE256(nobeta) \
	VBROADCASTSS alpha+56(FP), Y14; \
	MOVL         beta+60(FP), DX;   \
	ANDL         $0x7fffffff, DX;   \
	JEQ          nobeta;            \
	VBROADCASTSS beta+60(FP), Y15;  \
	ROW256BETA(Y0, Y1);             \
	ROW256BETA(Y2, Y3);             \
	ROW256BETA(Y4, Y5);             \
	ROW256BETA(Y6, Y7);             \
	ROW256BETA(Y8, Y9);             \
	ROW256BETA(Y10, Y11);           \
	VZEROUPPER;                     \
	RET;                            \
nobeta:                             \
	ROW256(Y0, Y1);                 \
	ROW256(Y2, Y3);                 \
	ROW256(Y4, Y5);                 \
	ROW256(Y6, Y7);                 \
	ROW256(Y8, Y9);                 \
	ROW256(Y10, Y11);               \
	VZEROUPPER;                     \
	RET

// func kernelAVX2(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)
TEXT ·kernelAVX2(SB), NOSPLIT, $0-64
	PROLOGUE256
	CMPQ CX, $4
	JLT  tail

loop4:
	STEP256
	STEP256
	STEP256
	STEP256
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JEQ   done

loop1:
	STEP256
	DECQ CX
	JNE  loop1

done:
	EPILOGUE256(nobeta)

// func kernelAVX2Pack(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, bpack *float32)
//
// kernelAVX2Pack is kernelAVX2 that also copies the k×16 panel of B it
// reads into bpack, with rows 16 elements apart.
TEXT ·kernelAVX2Pack(SB), NOSPLIT, $0-72
	PROLOGUE256
	MOVQ bpack+64(FP), R10
	MOVQ R8, R12
	SHLQ $2, R12
	CMPQ CX, $4
	JLT  tail

loop4:
	STEP256P
	STEP256P
	STEP256P
	STEP256P
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JEQ   done

loop1:
	STEP256P
	DECQ CX
	JNE  loop1

done:
	EPILOGUE256(nobeta)
