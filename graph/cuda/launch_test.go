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
	for _, c := range []struct {
		what  string
		d     Dim3
		limit Dim3
		want  string
	}{
		{"block", Dim3{2048, 1, 1}, maxBlock, "cuda: block {2048 1 1}: sizes must be in [1, 1024], [1, 1024] and [1, 64]"},
		{"block", Dim3{1, 1, 65}, maxBlock, "cuda: block {1 1 65}: sizes must be in [1, 1024], [1, 1024] and [1, 64]"},
		{"grid", Dim3{1, 0, 1}, MaxGrid, "cuda: grid {1 0 1}: sizes must be in [1, 2147483647], [1, 65535] and [1, 65535]"},
		{"grid", Dim3{1, 65536, 1}, MaxGrid, "cuda: grid {1 65536 1}: sizes must be in [1, 2147483647], [1, 65535] and [1, 65535]"},
		{"grid", Dim3{1, 1, 65536}, MaxGrid, "cuda: grid {1 1 65536}: sizes must be in [1, 2147483647], [1, 65535] and [1, 65535]"},
		{"grid", Dim3{math.MaxInt32 + 1, 1, 1}, MaxGrid, "cuda: grid {2147483648 1 1}: sizes must be in [1, 2147483647], [1, 65535] and [1, 65535]"},
	} {
		if err := c.d.check(c.what, c.limit); err == nil || err.Error() != c.want {
			t.Errorf("%v.check: got %v, want %q", c.d, err, c.want)
		}
	}
	for _, d := range []Dim3{{math.MaxInt32, 65535, 65535}, {1, 1, 1}} {
		if err := d.check("grid", MaxGrid); err != nil {
			t.Errorf("grid %v refused: %v", d, err)
		}
	}
	if err := (Dim3{1024, 1024, 64}).check("block", maxBlock); err != nil {
		t.Errorf("block sizes at the limits refused: %v", err)
	}
}

// TestLaunchLimits checks that Launch refuses, before calling the driver,
// a launch beyond a GPU's limits.
func TestLaunchLimits(t *testing.T) {
	f := &Function{Name: "k"} // no module: the driver must not be reached
	for _, c := range []struct {
		grid, block Dim3
		want        string
	}{
		{Dim3{1, 70000, 1}, Dim3{256, 1, 1}, "k: cuda: grid {1 70000 1}: sizes must be in [1, 2147483647], [1, 65535] and [1, 65535]"},
		{Dim3{1, 1, 1}, Dim3{32, 32, 2}, "k: cuda: block {32 32 2}: 2048 threads, more than 1024"},
	} {
		if err := f.Launch(c.grid, c.block, nil); err == nil || err.Error() != c.want {
			t.Errorf("Launch(%v, %v): got %v, want %q", c.grid, c.block, err, c.want)
		}
	}
}
