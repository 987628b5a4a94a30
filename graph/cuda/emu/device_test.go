package emu_test

// These tests exercise package cuda's binding end to end on the device
// emu.OpenDevice picks: a GPU where there is one, else the CPU emulator.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/cifar-resnet/trainer/graph/cuda"
	"github.com/cifar-resnet/trainer/graph/cuda/emu"
	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
)

var (
	dev     *cuda.Device
	kind    string
	openErr error
)

func TestMain(m *testing.M) {
	dev, kind, openErr = emu.OpenDevice()
	code := m.Run()
	if dev != nil {
		if err := dev.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// device returns the test device, skipping the test when the machine has
// neither a GPU nor a compiler for the emulator.
func device(t *testing.T) *cuda.Device {
	t.Helper()
	emu.Require(t, openErr)
	return dev
}

// emulator returns the device for a test of a check only the emulator
// makes, skipping the test with why on a GPU.
func emulator(t *testing.T, why string) *cuda.Device {
	t.Helper()
	d := device(t)
	if kind != "CPU emulator" {
		t.Skip(why)
	}
	return d
}

// emulatorKernels is emulator with the kernels loaded, unloaded at the
// end of the test.
func emulatorKernels(t *testing.T, why string) (*cuda.Device, *kernels.Module) {
	t.Helper()
	d := emulator(t, why)
	m, err := kernels.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Unload() })
	return d, m
}

// alloc returns bytes of device memory of d, freed at the end of the
// test.
func alloc(t *testing.T, d *cuda.Device, bytes uint64) cuda.Ptr {
	t.Helper()
	p, err := d.Alloc(bytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Free(p) })
	return p
}

func TestDeviceInfo(t *testing.T) {
	d := device(t)
	free, total, err := d.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	if free > total || total != d.TotalMem {
		t.Errorf("MemInfo: free %d, total %d; device has %d bytes", free, total, d.TotalMem)
	}
	if kind != "CPU emulator" {
		t.Logf("running on %v", d)
		return
	}
	if s := d.String(); s != "cuda:0 (CUDA emulator (CPU), compute 9.0, 1.0 GiB)" {
		t.Errorf("String() = %q", s)
	}
	if d.Multiprocessors != 1 {
		t.Errorf("Multiprocessors = %d, want 1", d.Multiprocessors)
	}
	v, err := cuda.DriverVersion()
	if err != nil || v != 11080 {
		t.Errorf("DriverVersion() = %d, %v; want 11080", v, err)
	}
}

func TestMemoryRoundTrip(t *testing.T) {
	d := device(t)
	src := []float32{1, -2.5, 3, float32(math.Inf(1)), 0, 7}
	a := alloc(t, d, uint64(4*len(src)))
	b := alloc(t, d, uint64(4*len(src)))
	if err := cuda.Upload(d, a, src); err != nil {
		t.Fatal(err)
	}
	if err := d.Copy(b, a, uint64(4*len(src))); err != nil {
		t.Fatal(err)
	}
	// Words 1 and 2 of b become 2.0.
	if err := d.Fill32(b.Add(4), math.Float32bits(2), 2); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(src))
	if err := cuda.Download(d, got, b); err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 2, 2, float32(math.Inf(1)), 0, 7}; !slices.Equal(got, want) {
		t.Errorf("after upload, copy and fill: %v, want %v", got, want)
	}

	s, err := d.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Fill32Async(a, 0, uint64(len(src))); err != nil {
		t.Fatal(err)
	}
	if err := s.CopyAsync(a.Add(8), b, 8); err != nil {
		t.Fatal(err)
	}
	if err := s.Synchronize(); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := cuda.Download(d, got, a); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 0, 1, 2, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("after the stream's fill and copy: %v, want %v", got, want)
	}
	if err := d.Synchronize(); err != nil {
		t.Fatal(err)
	}
}

// TestHostMemory checks page-locked host memory: zeroed when allocated,
// Upload from it and Download into it, and (on the emulator) FreeHost
// refusing a slice it did not allocate.
func TestHostMemory(t *testing.T) {
	d := device(t)
	h, err := cuda.AllocHost[float32](d, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := make([]float32, 5); !slices.Equal(h, want) {
		t.Errorf("fresh host memory: %v, want %v", h, want)
	}
	copy(h, []float32{1, 2, -3, 4.5, 5})
	a := alloc(t, d, 4*5)
	if err := cuda.Upload(d, a, h); err != nil {
		t.Fatal(err)
	}
	if err := d.Fill32(a, math.Float32bits(9), 1); err != nil {
		t.Fatal(err)
	}
	if err := cuda.Download(d, h[1:], a); err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 9, 2, -3, 4.5}; !slices.Equal(h, want) {
		t.Errorf("after upload, fill and download: %v, want %v", h, want)
	}
	if err := cuda.FreeHost(d, h); err != nil {
		t.Fatal(err)
	}
	// The driver's answer to a pointer it did not allocate is not
	// documented beyond its error code; only the emulator's is checked.
	if kind == "CPU emulator" {
		err = cuda.FreeHost(d, make([]float32, 5))
		if want := "cuda: cuMemFreeHost: CUDA_ERROR_INVALID_VALUE: invalid argument"; err == nil || err.Error() != want {
			t.Errorf("FreeHost of Go memory: got %v, want %q", err, want)
		}
	}
	if _, err := cuda.AllocHost[float32](d, 0); err == nil {
		t.Error("AllocHost of 0 elements succeeded")
	}
}

// TestEvents checks the order events give: an upload queued on a
// non-blocking stream, which the legacy default stream waits for before
// copying its destination on. The 16 MiB upload takes long enough on a
// GPU for a missing wait to show as stale data; each round writes other
// values.
func TestEvents(t *testing.T) {
	d := device(t)
	const n = 4 << 20
	h, err := cuda.AllocHost[float32](d, n)
	if err != nil {
		t.Fatal(err)
	}
	defer cuda.FreeHost(d, h)
	staging := alloc(t, d, 4*n)
	dst := alloc(t, d, 4*n)
	copies, err := d.NewNonBlockingStream()
	if err != nil {
		t.Fatal(err)
	}
	defer copies.Destroy()
	staged, err := d.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n)
	for round := range 3 {
		for i := range h {
			h[i] = float32(i%1000 + round)
		}
		if err := d.Fill32(dst, 0, n); err != nil {
			t.Fatal(err)
		}
		if err := cuda.UploadAsync(copies, d, staging, h); err != nil {
			t.Fatal(err)
		}
		if err := staged.Record(copies); err != nil {
			t.Fatal(err)
		}
		if err := staged.Wait(nil); err != nil {
			t.Fatal(err)
		}
		if err := d.Copy(dst, staging, 4*n); err != nil {
			t.Fatal(err)
		}
		if err := cuda.Download(d, got, dst); err != nil {
			t.Fatal(err)
		}
		if err := staged.Synchronize(); err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(got, func(v float32) bool { return v != 0 }); i < 0 || !slices.Equal(got, h) {
			t.Fatalf("round %d: the copy after the wait read stale data (first nonzero value at %d)", round, i)
		}
	}
	if err := staged.Destroy(); err != nil {
		t.Fatal(err)
	}
	// Only the emulator's answer to a destroyed event is checked.
	if kind == "CPU emulator" {
		want := "cuda: cuEventRecord: CUDA_ERROR_INVALID_HANDLE: invalid resource handle"
		if err := staged.Record(nil); err == nil || err.Error() != want {
			t.Errorf("Record of a destroyed event: %v, want %q", err, want)
		}
	}
}

// TestTimingEvents times a fill of 64 MiB between two timing events, and
// checks that Elapsed refuses an event that records no time and one never
// recorded, as the driver documents.
func TestTimingEvents(t *testing.T) {
	d := device(t)
	const n = 16 << 20 // floats
	p := alloc(t, d, 4*n)
	var evs [3]*cuda.Event
	var err error
	for i := range evs {
		if evs[i], err = d.NewTimingEvent(); err != nil {
			t.Fatal(err)
		}
		defer evs[i].Destroy()
	}
	start, end, unrecorded := evs[0], evs[1], evs[2]
	untimed, err := d.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer untimed.Destroy()
	if err := start.Record(nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Fill32(p, 0x3f800000, n); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*cuda.Event{end, untimed} {
		if err := e.Record(nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Synchronize(); err != nil {
		t.Fatal(err)
	}
	if el, err := cuda.Elapsed(start, end); err != nil || el <= 0 || el > 10*time.Second {
		t.Errorf("Elapsed over a fill of 64 MiB: %v, %v; want a positive time under 10 s", el, err)
	}
	want := "cuda: cuEventElapsedTime: CUDA_ERROR_INVALID_HANDLE: invalid resource handle"
	for name, e := range map[string]*cuda.Event{"an event that records no time": untimed, "an event never recorded": unrecorded} {
		if _, err := cuda.Elapsed(start, e); err == nil || err.Error() != want {
			t.Errorf("Elapsed to %s: %v, want %q", name, err, want)
		}
	}
}

func TestOutOfMemory(t *testing.T) {
	d := device(t)
	n := 2 * d.TotalMem
	_, err := d.Alloc(n)
	want := fmt.Sprintf("cuda: cuMemAlloc_v2 (%d bytes): CUDA_ERROR_OUT_OF_MEMORY: out of memory", n)
	if err == nil || err.Error() != want {
		t.Fatalf("Alloc(%d): got %v, want %q", n, err, want)
	}
	if !errors.Is(err, cuda.ErrorOutOfMemory) {
		t.Errorf("%v does not wrap CUDA_ERROR_OUT_OF_MEMORY", err)
	}
}

func TestDriverErrors(t *testing.T) {
	d := device(t)
	if _, err := d.LoadModule([]byte("not a fatbin at all")); !errors.Is(err, cuda.ErrorInvalidImage) {
		t.Errorf("loading a non-image: got %v, want CUDA_ERROR_INVALID_IMAGE", err)
	}
	mod, err := d.LoadModule(kernels.Fatbin)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Unload()
	_, err = mod.Function("no_such_kernel")
	want := "cuda: cuModuleGetFunction (no_such_kernel): CUDA_ERROR_NOT_FOUND: named symbol not found"
	if err == nil || err.Error() != want {
		t.Errorf("missing kernel: got %v, want %q", err, want)
	}
	if _, err := cuda.Open(1); err == nil || kind == "CPU emulator" && err.Error() != "cuda: device 1 requested, but this machine has 1 (devices 0 to 0)" {
		t.Errorf("Open(1) on a one-device machine: %v", err)
	}
}

// TestEmulatorCatchesStrayWrites checks that the emulator reports a kernel
// writing past its buffer, which the kernel tests rely on.
func TestEmulatorCatchesStrayWrites(t *testing.T) {
	d, m := emulatorKernels(t, "a GPU does not detect small out-of-bounds writes")
	p := alloc(t, d, 4*10)
	if err := m.Fill(p, 1, 11); !errors.Is(err, cuda.ErrorIllegalAddress) {
		t.Errorf("filling 11 floats of a 10-float buffer: got %v, want CUDA_ERROR_ILLEGAL_ADDRESS", err)
	}
	if err := m.Fill(p, 1, 10); err != nil {
		t.Errorf("filling the whole buffer: %v", err)
	}
}

// TestEmulatorCatchesHostPointers checks that the emulator refuses a
// kernel argument pointing into host memory, which works on the emulator
// (its device memory is host memory) but not on a GPU, and one misaligned
// for its type, which x86 tolerates but a GPU does not.
func TestEmulatorCatchesHostPointers(t *testing.T) {
	d, m := emulatorKernels(t, "on a GPU a host pointer faults the context instead")
	host := make([]float32, 4)
	if err := m.Fill(cuda.Ptr(uintptr(unsafe.Pointer(&host[0]))), 1, len(host)); !errors.Is(err, cuda.ErrorInvalidValue) {
		t.Errorf("filling host memory: got %v, want CUDA_ERROR_INVALID_VALUE", err)
	}
	if host[0] != 0 {
		t.Errorf("the refused launch ran: host[0] = %v", host[0])
	}
	// Device pointers must be aligned for their type: the batch norm
	// statistics are doubles.
	p := alloc(t, d, 4*8*4)
	b := kernels.BN{N: 1, C: 2, HW: 1, Momentum: 0.1, Epsilon: 1e-5}
	mean, invstd, run := p+8, p+32, p+64
	if err := m.BNEvalStats(b, mean, invstd, run, run+8); err != nil {
		t.Fatalf("aligned arguments: %v", err)
	}
	if err := m.BNEvalStats(b, mean+4, invstd, run, run+8); !errors.Is(err, cuda.ErrorMisaligned) {
		t.Errorf("statistics (double) at an odd multiple of 4 bytes: got %v, want CUDA_ERROR_MISALIGNED_ADDRESS", err)
	}
}

// TestEmulatorCatchesRaces checks that the emulator reports a launch whose
// result depends on the order of its blocks: an in-place matrix product
// C = A·B with C = A, two 64-column tiles wide, where the first tile's
// block writes columns of A that the second one reads.
func TestEmulatorCatchesRaces(t *testing.T) {
	d, m := emulatorKernels(t, "a GPU does not detect races")
	const M, N = 4, 128
	a := alloc(t, d, 4*M*N)
	b := alloc(t, d, 4*N*N)
	av := make([]float32, M*N)
	bv := make([]float32, N*N)
	for i := range av {
		av[i] = float32(i%7) - 3
	}
	for i := range bv {
		bv[i] = float32(i%5) - 2
	}
	if err := cuda.Upload(d, a, av); err != nil {
		t.Fatal(err)
	}
	if err := cuda.Upload(d, b, bv); err != nil {
		t.Fatal(err)
	}
	c := alloc(t, d, 4*M*N)
	if err := m.Sgemm(false, false, M, N, N, 1, a, N, b, N, 0, c, N); err != nil {
		t.Fatalf("C = A·B into a third buffer: %v", err)
	}
	if err := m.Sgemm(false, false, M, N, N, 1, a, N, b, N, 0, a, N); !errors.Is(err, cuda.ErrorLaunchFailed) {
		t.Errorf("A = A·B in place: got %v, want CUDA_ERROR_LAUNCH_FAILED", err)
	}
}

// TestEmulatorDeviceMemoryIsNotHostMemory checks that device memory faults
// when the host program reads it directly, as it does with a GPU, while
// copies to and from it work.
func TestEmulatorDeviceMemoryIsNotHostMemory(t *testing.T) {
	d := emulator(t, "this checks the emulator's protection of device memory")
	p := alloc(t, d, 64)
	if err := cuda.Upload(d, p, []float32{1.5}); err != nil {
		t.Fatal(err)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	read := func() (v float32, fault any) {
		defer func() { fault = recover() }()
		return *(*float32)(unsafe.Add(nil, p)), nil
	}
	if v, fault := read(); fault == nil {
		t.Errorf("reading device memory from the host gave %v, no fault", v)
	}
	got := make([]float32, 1)
	if err := cuda.Download(d, got, p); err != nil || got[0] != 1.5 {
		t.Errorf("Download after the fault: %v, %v; want 1.5", got, err)
	}
}
