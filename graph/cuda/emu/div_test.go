package emu

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// divCheck compares the kernels' Div with plain integer division: every
// divisor up to 2,000 and 300 random ones below 2³¹, each with the
// dividends below 2¹², 2,000 random ones below 2³¹ and the 200 at the top
// of the range and below the largest multiple of the divisor. It prints
// the number of wrong quotients and of divisions checked.
const divCheck = `#include "emu.h"
dim3 threadIdx, blockIdx, blockDim, gridDim;
void __syncthreads() {}
#include "common.cuh"
#include <cstdio>
#include <random>

int main() {
	std::mt19937 r(1);
	long long wrong = 0, checked = 0;
	auto check = [&](int d, int n) {
		checked++;
		if (Div(d).div(n) != n / d) wrong++;
	};
	auto all = [&](int d) {
		for (int n = 0; n < 4096; n++) check(d, n);
		for (int i = 0; i < 2000; i++) check(d, (int)(r() & 0x7fffffff));
		int top = 0x7fffffff / d * d;
		for (int k = 0; k < 200; k++) {
			check(d, 0x7fffffff - k);
			if (top - k >= 0) check(d, top - k);
		}
	};
	for (int d = 1; d <= 2000; d++) all(d);
	for (int i = 0; i < 300; i++) all(1 + (int)(r() % 0x7fffffff));
	all(0x7fffffff);
	printf("%lld wrong of %lld\n", wrong, checked);
}
`

// TestDivMatchesDivision compiles divCheck with the kernels' sources as
// the emulator compiles them and runs it: Div must give every quotient
// plain division gives.
func TestDivMatchesDivision(t *testing.T) {
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if _, err := exec.LookPath(cxx); err != nil {
		t.Skipf("%v: %v", ErrNoCompiler, err)
	}
	dir := t.TempDir()
	srcs, err := sources()
	if err != nil {
		t.Fatal(err)
	}
	srcs["div_check.cc"] = []byte(divCheck)
	for name, b := range srcs {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "div_check")
	args := []string{"-std=c++17", "-O2", "-o", bin, "div_check.cc"}
	cmd := exec.Command(cxx, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cxx, strings.Join(args, " "), err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	if got, want := strings.TrimSpace(string(out)), "0 wrong of 14947296"; got != want {
		t.Errorf("Div against division: %s, want %s", got, want)
	}
}
