package cuda

import (
	"math"
	"testing"
	"unsafe"
)

func TestPackArgs(t *testing.T) {
	k, err := packArgs([]any{Ptr(0x7f0012345678), -2, int32(7), uint32(0xdeadbeef), float32(1.5), 0.25})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{0x7f0012345678, 0xfffffffe, 7, 0xdeadbeef, 0x3fc00000, 0x3fd0000000000000}
	for i, w := range want {
		if k.slots[i] != w {
			t.Errorf("slot %d = %#x, want %#x", i, k.slots[i], w)
		}
		if k.ptrs[i] != unsafe.Pointer(&k.slots[i]) {
			t.Errorf("kernelParams[%d] does not point at slot %d", i, i)
		}
	}
	// The driver reads a C int through its pointer: the low 4 bytes.
	if v := *(*int32)(k.ptrs[1]); v != -2 {
		t.Errorf("int argument read as a C int: %d, want -2", v)
	}
	if v := *(*float32)(k.ptrs[4]); v != 1.5 {
		t.Errorf("float32 argument read as a C float: %v, want 1.5", v)
	}
	if k.params() != unsafe.Pointer(&k.ptrs[0]) {
		t.Error("params() is not the address of the pointer array")
	}
	empty, err := packArgs(nil)
	if err != nil || empty.params() != nil {
		t.Errorf("no arguments: params %v, error %v; want nil, nil", empty.params(), err)
	}
}

func TestPackArgsRejects(t *testing.T) {
	for _, c := range []struct {
		arg  any
		want string
	}{
		{math.MaxInt32 + 1, "argument 0: int 2147483648 does not fit a C int"},
		{true, "argument 0: unsupported type bool (want Ptr, int, int32, uint32, float32 or float64)"},
		{uintptr(1), "argument 0: unsupported type uintptr (want Ptr, int, int32, uint32, float32 or float64)"},
	} {
		_, err := packArgs([]any{c.arg})
		if err == nil || err.Error() != c.want {
			t.Errorf("packArgs(%v): got %v, want %q", c.arg, err, c.want)
		}
	}
}

func TestDim3(t *testing.T) {
	if g := Grid1(1000, 256); g != (Dim3{4, 1, 1}) {
		t.Errorf("Grid1(1000, 256) = %v, want {4 1 1}", g)
	}
	if g := Grid1(1024, 256); g != (Dim3{4, 1, 1}) {
		t.Errorf("Grid1(1024, 256) = %v, want {4 1 1}", g)
	}
	if err := (Dim3{2048, 1, 1}).check("block", 1024); err == nil || err.Error() != "cuda: block {2048 1 1}: each size must be in [1, 1024]" {
		t.Errorf("block of 2048: got %v", err)
	}
	if err := (Dim3{1, 0, 1}).check("grid", math.MaxInt32); err == nil {
		t.Error("a grid with a zero size is accepted")
	}
}
