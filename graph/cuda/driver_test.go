package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestMissingDriverLibrary(t *testing.T) {
	_, err := openDriver("libcuda-absent.so.1")
	want := "cuda: libcuda-absent.so.1 not found: no NVIDIA driver on this machine (device: cuda needs one); use device: cpu"
	if err == nil || err.Error() != want {
		t.Fatalf("openDriver of a missing library: got %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNoDriver) {
		t.Errorf("error %v does not wrap ErrNoDriver", err)
	}
}

func TestBrokenDriverLibrary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "libcuda.so.1")
	if err := os.WriteFile(path, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := openDriver(path)
	if err == nil || !strings.HasPrefix(err.Error(), "cuda: cannot load "+path+": ") ||
		!strings.HasSuffix(err.Error(), "(the NVIDIA driver installation looks broken); use device: cpu") {
		t.Fatalf("openDriver of a non-ELF file: got %v", err)
	}
	if errors.Is(err, ErrNoDriver) {
		t.Errorf("a broken library is reported as a missing driver: %v", err)
	}
}

func TestDriverLibraryWithoutCUDA(t *testing.T) {
	// libc loads but has none of the driver's functions.
	_, err := openDriver("libc.so.6")
	want := "cuda: libc.so.6 has no cuInit: the NVIDIA driver is too old for this program; update it or use device: cpu"
	if err == nil || err.Error() != want {
		t.Fatalf("openDriver(libc.so.6): got %v, want %q", err, want)
	}
}

// TestOpenWithoutGPU checks the error Open gives on a machine without a
// GPU: without the driver it names the missing library; with the driver
// but no device it says so.
func TestOpenWithoutGPU(t *testing.T) {
	dev, err := Open(0)
	if err == nil {
		dev.Close()
		t.Skip("a GPU is present; this test checks the errors of machines without one")
	}
	switch {
	case errors.Is(err, ErrNoDriver):
		want := "cuda: libcuda.so.1 not found: no NVIDIA driver on this machine (device: cuda needs one); use device: cpu"
		if err.Error() != want {
			t.Fatalf("Open(0) without a driver: got %q, want %q", err, want)
		}
	case errors.Is(err, ErrorNoDevice):
		want := "cuda: the NVIDIA driver (libcuda.so.1) is installed but finds no GPU (cuda: cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected); use device: cpu"
		if err.Error() != want {
			t.Fatalf("Open(0) with a driver but no GPU: got %q, want %q", err, want)
		}
	default:
		t.Fatalf("Open(0) failed with an unexpected error: %v", err)
	}
	if Available() == nil {
		t.Errorf("Available() = nil although Open failed with %v", err)
	}
}

func TestSetDriverLibraryAfterLoad(t *testing.T) {
	_ = Available() // loads the driver or fails to, once
	err := SetDriverLibrary("/elsewhere/libcuda.so.1")
	want := "cuda: the driver library " + DriverLibrary + " is already loaded; cannot switch to /elsewhere/libcuda.so.1"
	if err == nil || err.Error() != want {
		t.Fatalf("SetDriverLibrary after loading: got %v, want %q", err, want)
	}
}

func TestErrorText(t *testing.T) {
	err := error(&Error{Func: "cuMemAlloc_v2", Detail: "12345678 bytes", Code: ErrorOutOfMemory})
	want := "cuda: cuMemAlloc_v2 (12345678 bytes): CUDA_ERROR_OUT_OF_MEMORY: out of memory"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if !errors.Is(err, ErrorOutOfMemory) || errors.Is(err, ErrorInvalidValue) {
		t.Errorf("errors.Is does not find exactly CUDA_ERROR_OUT_OF_MEMORY in %v", err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&Error{Func: "cuCtxSynchronize", Code: ErrorIllegalAddress}, "cuda: cuCtxSynchronize: CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered"},
		{&Error{Func: "cuModuleGetFunction", Detail: "conv_fwd", Code: ErrorNotFound}, "cuda: cuModuleGetFunction (conv_fwd): CUDA_ERROR_NOT_FOUND: named symbol not found"},
		{&Error{Func: "cuLaunchKernel", Code: 12345}, "cuda: cuLaunchKernel: CUDA_ERROR_12345"},
		{&Error{Func: "cuLaunchKernel", Code: 12345, desc: "from the driver"}, "cuda: cuLaunchKernel: CUDA_ERROR_12345: from the driver"},
		{Result(209), "CUDA_ERROR_NO_BINARY_FOR_GPU: no kernel image is available for execution on the device"},
	} {
		if c.err.Error() != c.want {
			t.Errorf("got %q, want %q", c.err, c.want)
		}
	}
}

// TestResultTable checks the table of CUDA results: unique names, each
// one a CUDA_ERROR_ name with a description, and, where the headers of
// CUDA 11.8 are installed, exactly the codes cuda.h declares.
func TestResultTable(t *testing.T) {
	seen := map[string]Result{}
	for r, e := range results {
		if r != Success && !strings.HasPrefix(e.name, "CUDA_ERROR_") || e.desc == "" {
			t.Errorf("result %d: name %q, description %q", r, e.name, e.desc)
		}
		if o, dup := seen[e.name]; dup {
			t.Errorf("name %s used by results %d and %d", e.name, o, r)
		}
		seen[e.name] = r
	}
	for r, name := range map[Result]string{Success: "CUDA_SUCCESS", ErrorInvalidValue: "CUDA_ERROR_INVALID_VALUE",
		ErrorOutOfMemory: "CUDA_ERROR_OUT_OF_MEMORY", ErrorNoDevice: "CUDA_ERROR_NO_DEVICE", ErrorInvalidImage: "CUDA_ERROR_INVALID_IMAGE",
		ErrorNoBinaryForGPU: "CUDA_ERROR_NO_BINARY_FOR_GPU", ErrorNotFound: "CUDA_ERROR_NOT_FOUND",
		ErrorIllegalAddress: "CUDA_ERROR_ILLEGAL_ADDRESS", ErrorLaunchFailed: "CUDA_ERROR_LAUNCH_FAILED"} {
		if r.Name() != name {
			t.Errorf("Result(%d).Name() = %s, want %s", r, r.Name(), name)
		}
	}
	header, err := os.ReadFile("/usr/include/cuda.h")
	if err != nil {
		t.Skipf("cuda.h not installed (%v); the table's codes are not compared with it", err)
	}
	if !regexp.MustCompile(`(?m)^#define CUDA_VERSION 11080$`).Match(header) {
		t.Skip("the installed cuda.h is not CUDA 11.8's; the table's codes are not compared with it")
	}
	decl := regexp.MustCompile(`\b(CUDA_SUCCESS|CUDA_ERROR_[A-Z_]+)\s*=\s*(\d+)`)
	declared := 0
	for _, m := range decl.FindAllStringSubmatch(string(header), -1) {
		code, _ := strconv.Atoi(m[2])
		declared++
		if got := Result(code).Name(); got != m[1] {
			t.Errorf("cuda.h declares %s = %d; the table names %d %s", m[1], code, code, got)
		}
	}
	if declared != len(results) {
		t.Errorf("cuda.h declares %d results, the table has %d", declared, len(results))
	}
}

// TestOpenDriverConcurrently loads a missing and a broken driver library
// from many goroutines at once: each error must describe its own library.
// dlerror's message belongs to the thread that called dlopen, and a
// goroutine may move to another thread in between unless it is locked to
// its thread.
func TestOpenDriverConcurrently(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "libcuda.so.1")
	if err := os.WriteFile(broken, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 300 {
				path, missing := "libcuda-absent.so.1", g%2 == 0
				if !missing {
					path = broken
				}
				_, err := openDriver(path)
				if errors.Is(err, ErrNoDriver) != missing {
					select {
					case errs <- err.Error():
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
