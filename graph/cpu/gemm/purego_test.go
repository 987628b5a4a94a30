//go:build purego

package gemm

import "testing"

// TestPuregoIsPortable checks that with the purego tag the portable
// micro-kernel is the only one, and the one in use.
func TestPuregoIsPortable(t *testing.T) {
	if ks := availableKernels(); len(ks) != 1 || ks[0] != &genericKernel || activeKernel != &genericKernel {
		t.Errorf("active micro-kernel %s of %d, want only %s", activeKernel.name, len(ks), genericKernel.name)
	}
}
