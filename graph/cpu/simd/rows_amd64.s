//go:build !purego

#include "textflag.h"

// Float32 row kernels for the elementwise passes of package graph; see
// simd_generic.go for what each computes and simd_amd64.go for their Go
// declarations. Every kernel handles n elements, n a multiple of the
// vector width (16 for AVX-512, 8 for AVX2): the Go wrappers do the rest.
// The arithmetic is that of the Go loops, operation for operation (a
// product is rounded before it is added, no FMA), so that the results are
// bit-identical; only the reductions (stats and sums) use FMA and a
// different summation order.
//
// Register use: DI = dst, SI = src or dy, BX = x or the second summand,
// R8 = y, CX = n, AX = element index, R9 = the elements the 4-vector loop
// handles. The AVX-512 kernels keep 0 in Z31 and their scalar constants in
// Z28..Z30; the AVX2 kernels keep 0 in Y15 and the constants in Y12..Y14.
//
// ReLU is VPMAXSD with 0: as signed integers, floats with the sign bit set
// (-0 and negative NaNs included) are negative and become +0, the others
// are kept bit for bit, which is what relu32 does. The ReLU mask keeps dy
// where the bits of y are not all zero, like mask32.

// Each kernel has a main loop over four vectors an iteration (elements
// [0, R9)) and a loop over the vectors left. LOOPSETUP sets AX to 0 and R9
// to n rounded down to a multiple of the four vectors (mask is minus their
// number of elements), and sets ZF when R9 is 0.
#define LOOPSETUP(mask) \
	XORQ AX, AX;   \
	MOVQ CX, R9;   \
	ANDQ $mask, R9

// ---------------------------------------------------------------- AVX-512

#define RELU512(off, z) \
	VPMAXSD off(SI)(AX*4), Z31, z; \
	VMOVUPS z, off(DI)(AX*4)

// func reluAVX512(dst, src *float32, n int)
TEXT ·reluAVX512(SB), NOSPLIT, $0-24
	MOVQ   dst+0(FP), DI
	MOVQ   src+8(FP), SI
	MOVQ   n+16(FP), CX
	VPXORD Z31, Z31, Z31
	LOOPSETUP(-64)
	JZ     one

four:
	RELU512(0, Z0)
	RELU512(64, Z1)
	RELU512(128, Z2)
	RELU512(192, Z3)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	RELU512(0, Z0)
	ADDQ $16, AX
	JMP  one

done:
	VZEROUPPER
	RET

#define ADDRELU512(off, z) \
	VMOVUPS off(SI)(AX*4), z;     \
	VADDPS  off(BX)(AX*4), z, z;  \
	VPMAXSD z, Z31, z;            \
	VMOVUPS z, off(DI)(AX*4)

// func addReLUAVX512(dst, a, b *float32, n int)
TEXT ·addReLUAVX512(SB), NOSPLIT, $0-32
	MOVQ   dst+0(FP), DI
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), BX
	MOVQ   n+24(FP), CX
	VPXORD Z31, Z31, Z31
	LOOPSETUP(-64)
	JZ     one

four:
	ADDRELU512(0, Z0)
	ADDRELU512(64, Z1)
	ADDRELU512(128, Z2)
	ADDRELU512(192, Z3)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	ADDRELU512(0, Z0)
	ADDQ $16, AX
	JMP  one

done:
	VZEROUPPER
	RET

// MASK512 loads dy where y ≠ 0 (bitwise) and 0 elsewhere into z.
#define MASK512(off, z, k) \
	VMOVUPS   off(R8)(AX*4), z; \
	VPTESTMD  z, z, k;          \
	VMOVUPS.Z off(SI)(AX*4), k, z

#define RELUMASK512(off, z, k) \
	MASK512(off, z, k); \
	VMOVUPS z, off(DI)(AX*4)

// func reluMaskAVX512(dst, dy, y *float32, n int)
TEXT ·reluMaskAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ n+24(FP), CX
	LOOPSETUP(-64)
	JZ   one

four:
	RELUMASK512(0, Z0, K1)
	RELUMASK512(64, Z1, K2)
	RELUMASK512(128, Z2, K3)
	RELUMASK512(192, Z3, K4)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	RELUMASK512(0, Z0, K1)
	ADDQ $16, AX
	JMP  one

done:
	VZEROUPPER
	RET

#define SCALESHIFT512(off, z) \
	VMULPS  off(SI)(AX*4), Z30, z; \
	VADDPS  Z29, z, z;             \
	VMOVUPS z, off(DI)(AX*4)

#define SCALESHIFTRELU512(off, z) \
	VMULPS  off(SI)(AX*4), Z30, z; \
	VADDPS  Z29, z, z;             \
	VPMAXSD z, Z31, z;             \
	VMOVUPS z, off(DI)(AX*4)

// func scaleShiftAVX512(dst, src *float32, n int, scale, shift float32)
TEXT ·scaleShiftAVX512(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Z30
	VBROADCASTSS shift+28(FP), Z29
	LOOPSETUP(-64)
	JZ           one

four:
	SCALESHIFT512(0, Z0)
	SCALESHIFT512(64, Z1)
	SCALESHIFT512(128, Z2)
	SCALESHIFT512(192, Z3)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	SCALESHIFT512(0, Z0)
	ADDQ $16, AX
	JMP  one

done:
	VZEROUPPER
	RET

// func scaleShiftReLUAVX512(dst, src *float32, n int, scale, shift float32)
TEXT ·scaleShiftReLUAVX512(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Z30
	VBROADCASTSS shift+28(FP), Z29
	VPXORD       Z31, Z31, Z31
	LOOPSETUP(-64)
	JZ           one

four:
	SCALESHIFTRELU512(0, Z0)
	SCALESHIFTRELU512(64, Z1)
	SCALESHIFTRELU512(128, Z2)
	SCALESHIFTRELU512(192, Z3)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	SCALESHIFTRELU512(0, Z0)
	ADDQ $16, AX
	JMP  one

done:
	VZEROUPPER
	RET

// REDUCE512 adds the four accumulators a0..a3 (a0 gets the total, y0 is
// its lower half), widens the 16 lanes of a0 to float64 and stores their
// sum to ret. It uses Z8..Z10.
#define REDUCE512(a0, a1, a2, a3, y0, ret) \
	VADDPS        a1, a0, a0;  \
	VADDPS        a3, a2, a2;  \
	VADDPS        a2, a0, a0;  \
	VEXTRACTF64X4 $1, a0, Y8;  \
	VCVTPS2PD     y0, Z9;      \
	VCVTPS2PD     Y8, Z10;     \
	VADDPD        Z10, Z9, Z9; \
	VEXTRACTF64X4 $1, Z9, Y10; \
	VADDPD        Y10, Y9, Y9; \
	VEXTRACTF128  $1, Y9, X10; \
	VADDPD        X10, X9, X9; \
	VUNPCKHPD     X9, X9, X10; \
	VADDSD        X10, X9, X9; \
	VMOVSD        X9, ret

#define ZERO8ACC512 \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7

// STATS512 adds d = v - ref to s and d² to q.
#define STATS512(off, s, q, t) \
	VMOVUPS     off(SI)(AX*4), t; \
	VSUBPS      Z30, t, t;        \
	VADDPS      t, s, s;          \
	VFMADD231PS t, t, q

// func statsAVX512(src *float32, n int, ref float32) (sum, sq float64)
TEXT ·statsAVX512(SB), NOSPLIT, $0-40
	MOVQ         src+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS ref+16(FP), Z30
	ZERO8ACC512
	LOOPSETUP(-64)
	JZ           one

four:
	STATS512(0, Z0, Z4, Z8)
	STATS512(64, Z1, Z5, Z9)
	STATS512(128, Z2, Z6, Z10)
	STATS512(192, Z3, Z7, Z11)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	STATS512(0, Z0, Z4, Z8)
	ADDQ $16, AX
	JMP  one

done:
	REDUCE512(Z0, Z1, Z2, Z3, Y0, sum+24(FP))
	REDUCE512(Z4, Z5, Z6, Z7, Y4, sq+32(FP))
	VZEROUPPER
	RET

// SUMS512 adds the dy in d to sa and d·(x - mean) to sb.
#define SUMS512(off, sa, sb, d, t) \
	VMOVUPS     off(BX)(AX*4), t; \
	VSUBPS      Z30, t, t;        \
	VADDPS      d, sa, sa;        \
	VFMADD231PS t, d, sb

#define SUMSPLAIN512(off, sa, sb, d, t) \
	VMOVUPS off(SI)(AX*4), d; \
	SUMS512(off, sa, sb, d, t)

// func bnSumsAVX512(dy, x *float32, n int, mean float32) (a, b float64)
TEXT ·bnSumsAVX512(SB), NOSPLIT, $0-48
	MOVQ         dy+0(FP), SI
	MOVQ         x+8(FP), BX
	MOVQ         n+16(FP), CX
	VBROADCASTSS mean+24(FP), Z30
	ZERO8ACC512
	LOOPSETUP(-64)
	JZ           one

four:
	SUMSPLAIN512(0, Z0, Z4, Z8, Z12)
	SUMSPLAIN512(64, Z1, Z5, Z9, Z13)
	SUMSPLAIN512(128, Z2, Z6, Z10, Z14)
	SUMSPLAIN512(192, Z3, Z7, Z11, Z15)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	SUMSPLAIN512(0, Z0, Z4, Z8, Z12)
	ADDQ $16, AX
	JMP  one

done:
	REDUCE512(Z0, Z1, Z2, Z3, Y0, a+32(FP))
	REDUCE512(Z4, Z5, Z6, Z7, Y4, b+40(FP))
	VZEROUPPER
	RET

#define SUMSMASK512(off, sa, sb, d, t, k) \
	MASK512(off, d, k); \
	SUMS512(off, sa, sb, d, t)

// func bnSumsMaskAVX512(dy, x, y *float32, n int, mean float32) (a, b float64)
TEXT ·bnSumsMaskAVX512(SB), NOSPLIT, $0-56
	MOVQ         dy+0(FP), SI
	MOVQ         x+8(FP), BX
	MOVQ         y+16(FP), R8
	MOVQ         n+24(FP), CX
	VBROADCASTSS mean+32(FP), Z30
	ZERO8ACC512
	LOOPSETUP(-64)
	JZ           one

four:
	SUMSMASK512(0, Z0, Z4, Z8, Z12, K1)
	SUMSMASK512(64, Z1, Z5, Z9, Z13, K2)
	SUMSMASK512(128, Z2, Z6, Z10, Z14, K3)
	SUMSMASK512(192, Z3, Z7, Z11, Z15, K4)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	SUMSMASK512(0, Z0, Z4, Z8, Z12, K1)
	ADDQ $16, AX
	JMP  one

done:
	REDUCE512(Z0, Z1, Z2, Z3, Y0, a+40(FP))
	REDUCE512(Z4, Z5, Z6, Z7, Y4, b+48(FP))
	VZEROUPPER
	RET

// DX512 stores (k·d + a·x) + b for the dy in d.
#define DX512(off, d, t) \
	VMULPS  Z30, d, d;             \
	VMULPS  off(BX)(AX*4), Z29, t; \
	VADDPS  t, d, d;               \
	VADDPS  Z28, d, d;             \
	VMOVUPS d, off(DI)(AX*4)

#define DXPLAIN512(off, d, t) \
	VMOVUPS off(SI)(AX*4), d; \
	DX512(off, d, t)

// func bnDxAVX512(dst, dy, x *float32, n int, k, a, b float32)
TEXT ·bnDxAVX512(SB), NOSPLIT, $0-44
	MOVQ         dst+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), BX
	MOVQ         n+24(FP), CX
	VBROADCASTSS k+32(FP), Z30
	VBROADCASTSS a+36(FP), Z29
	VBROADCASTSS b+40(FP), Z28
	LOOPSETUP(-64)
	JZ           one

four:
	DXPLAIN512(0, Z0, Z4)
	DXPLAIN512(64, Z1, Z5)
	DXPLAIN512(128, Z2, Z6)
	DXPLAIN512(192, Z3, Z7)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	DXPLAIN512(0, Z0, Z4)
	ADDQ $16, AX
	JMP  one

done:
	VZEROUPPER
	RET

#define DXMASK512(off, d, t, k) \
	MASK512(off, d, k); \
	DX512(off, d, t)

// func bnDxMaskAVX512(dst, dy, x, y *float32, n int, k, a, b float32)
TEXT ·bnDxMaskAVX512(SB), NOSPLIT, $0-52
	MOVQ         dst+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), BX
	MOVQ         y+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSS k+40(FP), Z30
	VBROADCASTSS a+44(FP), Z29
	VBROADCASTSS b+48(FP), Z28
	LOOPSETUP(-64)
	JZ           one

four:
	DXMASK512(0, Z0, Z4, K1)
	DXMASK512(64, Z1, Z5, K2)
	DXMASK512(128, Z2, Z6, K3)
	DXMASK512(192, Z3, Z7, K4)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	DXMASK512(0, Z0, Z4, K1)
	ADDQ $16, AX
	JMP  one

done:
	VZEROUPPER
	RET

// ------------------------------------------------------------------- AVX2

#define RELU256(off, y) \
	VPMAXSD off(SI)(AX*4), Y15, y; \
	VMOVUPS y, off(DI)(AX*4)

// func reluAVX2(dst, src *float32, n int)
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  n+16(FP), CX
	VPXOR Y15, Y15, Y15
	LOOPSETUP(-32)
	JZ    one

four:
	RELU256(0, Y0)
	RELU256(32, Y1)
	RELU256(64, Y2)
	RELU256(96, Y3)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	RELU256(0, Y0)
	ADDQ $8, AX
	JMP  one

done:
	VZEROUPPER
	RET

#define ADDRELU256(off, y) \
	VMOVUPS off(SI)(AX*4), y;    \
	VADDPS  off(BX)(AX*4), y, y; \
	VPMAXSD y, Y15, y;           \
	VMOVUPS y, off(DI)(AX*4)

// func addReLUAVX2(dst, a, b *float32, n int)
TEXT ·addReLUAVX2(SB), NOSPLIT, $0-32
	MOVQ  dst+0(FP), DI
	MOVQ  a+8(FP), SI
	MOVQ  b+16(FP), BX
	MOVQ  n+24(FP), CX
	VPXOR Y15, Y15, Y15
	LOOPSETUP(-32)
	JZ    one

four:
	ADDRELU256(0, Y0)
	ADDRELU256(32, Y1)
	ADDRELU256(64, Y2)
	ADDRELU256(96, Y3)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	ADDRELU256(0, Y0)
	ADDQ $8, AX
	JMP  one

done:
	VZEROUPPER
	RET

// MASK256 loads dy where y ≠ 0 (bitwise) and 0 elsewhere into z.
#define MASK256(off, z) \
	VPCMPEQD off(R8)(AX*4), Y15, z; \
	VPANDN   off(SI)(AX*4), z, z

#define RELUMASK256(off, y) \
	MASK256(off, y); \
	VMOVUPS y, off(DI)(AX*4)

// func reluMaskAVX2(dst, dy, y *float32, n int)
TEXT ·reluMaskAVX2(SB), NOSPLIT, $0-32
	MOVQ  dst+0(FP), DI
	MOVQ  dy+8(FP), SI
	MOVQ  y+16(FP), R8
	MOVQ  n+24(FP), CX
	VPXOR Y15, Y15, Y15
	LOOPSETUP(-32)
	JZ    one

four:
	RELUMASK256(0, Y0)
	RELUMASK256(32, Y1)
	RELUMASK256(64, Y2)
	RELUMASK256(96, Y3)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	RELUMASK256(0, Y0)
	ADDQ $8, AX
	JMP  one

done:
	VZEROUPPER
	RET

#define SCALESHIFT256(off, y) \
	VMULPS  off(SI)(AX*4), Y14, y; \
	VADDPS  Y13, y, y;             \
	VMOVUPS y, off(DI)(AX*4)

#define SCALESHIFTRELU256(off, y) \
	VMULPS  off(SI)(AX*4), Y14, y; \
	VADDPS  Y13, y, y;             \
	VPMAXSD y, Y15, y;             \
	VMOVUPS y, off(DI)(AX*4)

// func scaleShiftAVX2(dst, src *float32, n int, scale, shift float32)
TEXT ·scaleShiftAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y14
	VBROADCASTSS shift+28(FP), Y13
	LOOPSETUP(-32)
	JZ           one

four:
	SCALESHIFT256(0, Y0)
	SCALESHIFT256(32, Y1)
	SCALESHIFT256(64, Y2)
	SCALESHIFT256(96, Y3)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	SCALESHIFT256(0, Y0)
	ADDQ $8, AX
	JMP  one

done:
	VZEROUPPER
	RET

// func scaleShiftReLUAVX2(dst, src *float32, n int, scale, shift float32)
TEXT ·scaleShiftReLUAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y14
	VBROADCASTSS shift+28(FP), Y13
	VPXOR        Y15, Y15, Y15
	LOOPSETUP(-32)
	JZ           one

four:
	SCALESHIFTRELU256(0, Y0)
	SCALESHIFTRELU256(32, Y1)
	SCALESHIFTRELU256(64, Y2)
	SCALESHIFTRELU256(96, Y3)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	SCALESHIFTRELU256(0, Y0)
	ADDQ $8, AX
	JMP  one

done:
	VZEROUPPER
	RET

// REDUCE256 is REDUCE512 for eight lanes. It uses Y8..Y10.
#define REDUCE256(a0, a1, a2, a3, x0, ret) \
	VADDPS       a1, a0, a0;  \
	VADDPS       a3, a2, a2;  \
	VADDPS       a2, a0, a0;  \
	VEXTRACTF128 $1, a0, X8;  \
	VCVTPS2PD    x0, Y9;      \
	VCVTPS2PD    X8, Y10;     \
	VADDPD       Y10, Y9, Y9; \
	VEXTRACTF128 $1, Y9, X10; \
	VADDPD       X10, X9, X9; \
	VUNPCKHPD    X9, X9, X10; \
	VADDSD       X10, X9, X9; \
	VMOVSD       X9, ret

#define ZERO8ACC256 \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7

#define STATS256(off, s, q, t) \
	VMOVUPS     off(SI)(AX*4), t; \
	VSUBPS      Y14, t, t;        \
	VADDPS      t, s, s;          \
	VFMADD231PS t, t, q

// func statsAVX2(src *float32, n int, ref float32) (sum, sq float64)
TEXT ·statsAVX2(SB), NOSPLIT, $0-40
	MOVQ         src+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS ref+16(FP), Y14
	ZERO8ACC256
	LOOPSETUP(-32)
	JZ           one

four:
	STATS256(0, Y0, Y4, Y8)
	STATS256(32, Y1, Y5, Y9)
	STATS256(64, Y2, Y6, Y10)
	STATS256(96, Y3, Y7, Y11)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	STATS256(0, Y0, Y4, Y8)
	ADDQ $8, AX
	JMP  one

done:
	REDUCE256(Y0, Y1, Y2, Y3, X0, sum+24(FP))
	REDUCE256(Y4, Y5, Y6, Y7, X4, sq+32(FP))
	VZEROUPPER
	RET

// The AVX2 sums use Y8..Y11 for dy and Y12 and Y13 in turn for x - mean
// (Y14 holds the mean and Y15 zero).
#define SUMS256(off, sa, sb, d, t) \
	VMOVUPS     off(BX)(AX*4), t; \
	VSUBPS      Y14, t, t;        \
	VADDPS      d, sa, sa;        \
	VFMADD231PS t, d, sb

#define SUMSPLAIN256(off, sa, sb, d, t) \
	VMOVUPS off(SI)(AX*4), d; \
	SUMS256(off, sa, sb, d, t)

// func bnSumsAVX2(dy, x *float32, n int, mean float32) (a, b float64)
TEXT ·bnSumsAVX2(SB), NOSPLIT, $0-48
	MOVQ         dy+0(FP), SI
	MOVQ         x+8(FP), BX
	MOVQ         n+16(FP), CX
	VBROADCASTSS mean+24(FP), Y14
	ZERO8ACC256
	LOOPSETUP(-32)
	JZ           one

four:
	SUMSPLAIN256(0, Y0, Y4, Y8, Y12)
	SUMSPLAIN256(32, Y1, Y5, Y9, Y13)
	SUMSPLAIN256(64, Y2, Y6, Y10, Y12)
	SUMSPLAIN256(96, Y3, Y7, Y11, Y13)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	SUMSPLAIN256(0, Y0, Y4, Y8, Y12)
	ADDQ $8, AX
	JMP  one

done:
	REDUCE256(Y0, Y1, Y2, Y3, X0, a+32(FP))
	REDUCE256(Y4, Y5, Y6, Y7, X4, b+40(FP))
	VZEROUPPER
	RET

#define SUMSMASK256(off, sa, sb, d, t) \
	MASK256(off, d); \
	SUMS256(off, sa, sb, d, t)

// func bnSumsMaskAVX2(dy, x, y *float32, n int, mean float32) (a, b float64)
TEXT ·bnSumsMaskAVX2(SB), NOSPLIT, $0-56
	MOVQ         dy+0(FP), SI
	MOVQ         x+8(FP), BX
	MOVQ         y+16(FP), R8
	MOVQ         n+24(FP), CX
	VBROADCASTSS mean+32(FP), Y14
	ZERO8ACC256
	VPXOR        Y15, Y15, Y15
	LOOPSETUP(-32)
	JZ           one

four:
	SUMSMASK256(0, Y0, Y4, Y8, Y12)
	SUMSMASK256(32, Y1, Y5, Y9, Y13)
	SUMSMASK256(64, Y2, Y6, Y10, Y12)
	SUMSMASK256(96, Y3, Y7, Y11, Y13)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	SUMSMASK256(0, Y0, Y4, Y8, Y12)
	ADDQ $8, AX
	JMP  one

done:
	REDUCE256(Y0, Y1, Y2, Y3, X0, a+40(FP))
	REDUCE256(Y4, Y5, Y6, Y7, X4, b+48(FP))
	VZEROUPPER
	RET

#define DX256(off, d, t) \
	VMULPS  Y14, d, d;             \
	VMULPS  off(BX)(AX*4), Y13, t; \
	VADDPS  t, d, d;               \
	VADDPS  Y12, d, d;             \
	VMOVUPS d, off(DI)(AX*4)

#define DXPLAIN256(off, d, t) \
	VMOVUPS off(SI)(AX*4), d; \
	DX256(off, d, t)

// func bnDxAVX2(dst, dy, x *float32, n int, k, a, b float32)
TEXT ·bnDxAVX2(SB), NOSPLIT, $0-44
	MOVQ         dst+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), BX
	MOVQ         n+24(FP), CX
	VBROADCASTSS k+32(FP), Y14
	VBROADCASTSS a+36(FP), Y13
	VBROADCASTSS b+40(FP), Y12
	LOOPSETUP(-32)
	JZ           one

four:
	DXPLAIN256(0, Y0, Y4)
	DXPLAIN256(32, Y1, Y5)
	DXPLAIN256(64, Y2, Y6)
	DXPLAIN256(96, Y3, Y7)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	DXPLAIN256(0, Y0, Y4)
	ADDQ $8, AX
	JMP  one

done:
	VZEROUPPER
	RET

#define DXMASK256(off, d, t) \
	MASK256(off, d); \
	DX256(off, d, t)

// func bnDxMaskAVX2(dst, dy, x, y *float32, n int, k, a, b float32)
TEXT ·bnDxMaskAVX2(SB), NOSPLIT, $0-52
	MOVQ         dst+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), BX
	MOVQ         y+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSS k+40(FP), Y14
	VBROADCASTSS a+44(FP), Y13
	VBROADCASTSS b+48(FP), Y12
	VPXOR        Y15, Y15, Y15
	LOOPSETUP(-32)
	JZ           one

four:
	DXMASK256(0, Y0, Y4)
	DXMASK256(32, Y1, Y5)
	DXMASK256(64, Y2, Y6)
	DXMASK256(96, Y3, Y7)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  four

one:
	CMPQ AX, CX
	JGE  done
	DXMASK256(0, Y0, Y4)
	ADDQ $8, AX
	JMP  one

done:
	VZEROUPPER
	RET
