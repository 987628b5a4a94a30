//go:build purego

package simd

import (
	"slices"
	"testing"
)

// TestPuregoIsPortable checks that with the purego tag the portable
// implementation is the only one, and the one in use.
func TestPuregoIsPortable(t *testing.T) {
	if got := Implementations(); !slices.Equal(got, []string{"go"}) {
		t.Errorf("implementations %v, want [go]", got)
	}
	if active != &generic || FastConv() {
		t.Errorf("active implementation %q (fast convolution routines %v), want the portable one", Active(), FastConv())
	}
}
