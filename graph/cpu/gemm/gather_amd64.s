//go:build !purego

#include "textflag.h"

// func gather32(dst *float32, k int, src *float32, rowOff, colOff *int32)
TEXT ·gather32(SB), NOSPLIT, $0-40
	MOVQ    dst+0(FP), DI
	MOVQ    k+8(FP), CX
	MOVQ    src+16(FP), SI
	MOVQ    rowOff+24(FP), DX
	MOVQ    colOff+32(FP), AX
	MOVLQSX 0(AX), R8
	MOVLQSX 4(AX), R9
	MOVLQSX 8(AX), R10
	MOVLQSX 12(AX), R11
	LEAQ    (SI)(R8*4), R8
	LEAQ    (SI)(R9*4), R9
	LEAQ    (SI)(R10*4), R10
	LEAQ    (SI)(R11*4), R11

loop32:
	MOVLQSX (DX), BX
	VMOVUPS (R8)(BX*4), Y0
	VMOVUPS (R9)(BX*4), Y1
	VMOVUPS (R10)(BX*4), Y2
	VMOVUPS (R11)(BX*4), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $4, DX
	ADDQ    $128, DI
	DECQ    CX
	JNZ     loop32
	VZEROUPPER
	RET

// func gather16(dst *float32, k int, src *float32, rowOff, colOff *int32)
TEXT ·gather16(SB), NOSPLIT, $0-40
	MOVQ    dst+0(FP), DI
	MOVQ    k+8(FP), CX
	MOVQ    src+16(FP), SI
	MOVQ    rowOff+24(FP), DX
	MOVQ    colOff+32(FP), AX
	MOVLQSX 0(AX), R8
	MOVLQSX 4(AX), R9
	LEAQ    (SI)(R8*4), R8
	LEAQ    (SI)(R9*4), R9

loop16:
	MOVLQSX (DX), BX
	VMOVUPS (R8)(BX*4), Y0
	VMOVUPS (R9)(BX*4), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $4, DX
	ADDQ    $64, DI
	DECQ    CX
	JNZ     loop16
	VZEROUPPER
	RET
