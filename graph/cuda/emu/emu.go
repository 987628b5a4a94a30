// Package emu builds a CPU emulation of the CUDA driver, with the
// trainer's kernels compiled in, as a shared library that
// cuda.SetDriverLibrary can load in place of libcuda.so.1. It lets the
// tests of the GPU code run, slowly and on small inputs, on machines
// without a GPU: the kernels are compiled from the same CUDA C sources by
// the host's C++ compiler (emu.h maps CUDA C to C++), each thread of a
// block a fiber, blocks one after another.
//
// Building needs a C++17 compiler (g++, or the one $CXX names); tests
// skip, saying so, when there is none.
package emu

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cifar-resnet/trainer/graph/cuda/kernels"
)

//go:embed csrc/emu.h csrc/driver.cc
var files embed.FS

// LibraryName is the file name of the built library.
const LibraryName = "libcudaemu.so"

// ErrNoCompiler is wrapped by Build's error when no C++ compiler is found.
var ErrNoCompiler = errors.New("no C++ compiler (g++, or $CXX) to build the CUDA emulator")

// flags are the compiler flags of the build. -U_FORTIFY_SOURCE keeps
// _longjmp unchecked where the compiler fortifies by default: the
// emulator's fibers jump between stacks on purpose.
var flags = []string{"-std=c++17", "-O2", "-U_FORTIFY_SOURCE", "-ffp-contract=off", "-fPIC", "-shared", "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas"}

// Build compiles the emulator into a cache directory (under
// os.UserCacheDir, keyed by a hash of the sources, the compiler and its
// flags) unless it is there already, and returns the library's path.
func Build() (string, error) {
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if _, err := exec.LookPath(cxx); err != nil {
		return "", fmt.Errorf("emu: %w: %v", ErrNoCompiler, err)
	}
	srcs, err := sources()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", cxx, strings.Join(flags, " "))
	for _, name := range sortedKeys(srcs) {
		fmt.Fprintf(h, "%s\x00%d\x00%s", name, len(srcs[name]), srcs[name])
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "cifar-trainer", "cuda-emu", hex.EncodeToString(h.Sum(nil))[:16])
	lib := filepath.Join(dir, LibraryName)
	if _, err := os.Stat(lib); err == nil {
		return lib, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("emu: %w", err)
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("emu: %w", err)
	}
	defer os.RemoveAll(work)
	for name, src := range srcs {
		if err := os.WriteFile(filepath.Join(work, name), src, 0o644); err != nil {
			return "", fmt.Errorf("emu: %w", err)
		}
	}
	out := filepath.Join(work, LibraryName)
	args := append(append([]string{}, flags...), "-o", out, "driver.cc")
	cmd := exec.Command(cxx, args...)
	cmd.Dir = work
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("emu: %s %s: %v\n%s", cxx, strings.Join(args, " "), err, msg)
	}
	// Renaming into place is atomic: a concurrent build of the same
	// sources writes the same file.
	if err := os.Rename(out, lib); err != nil {
		return "", fmt.Errorf("emu: %w", err)
	}
	return lib, nil
}

// sources returns every file the build compiles, by name: the emulator's,
// the kernel sources and the registry of kernel names.
func sources() (map[string][]byte, error) {
	srcs := map[string][]byte{}
	csrc, err := fs.Sub(files, "csrc")
	if err != nil {
		return nil, fmt.Errorf("emu: %w", err)
	}
	for _, fsys := range []fs.FS{csrc, kernels.Sources} {
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, path)
			srcs[path] = b
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("emu: %w", err)
		}
	}
	names, err := kernels.Names()
	if err != nil {
		return nil, fmt.Errorf("emu: %w", err)
	}
	var reg strings.Builder
	for _, n := range names {
		fmt.Fprintf(&reg, "REG(%s)\n", n)
	}
	srcs["registry.inc"] = []byte(reg.String())
	return srcs, nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
