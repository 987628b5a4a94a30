package cpu

import (
	"fmt"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cpu/simd"
)

// TestConvFallbacks runs the float32 convolution checks on the portable
// routines of package simd: as on a CPU without AVX-512 (no Winograd,
// filter gradients through im2col), and with the algorithms built on the
// vector routines forced onto their Go versions.
func TestConvFallbacks(t *testing.T) {
	restore, err := simd.Use("go")
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	saved := vectorConv
	defer func() { vectorConv = saved }()
	for _, vc := range []bool{false, true} {
		vectorConv = vc
		t.Run(fmt.Sprintf("vectorConv=%v", vc), checkConvFloat32)
	}
}
