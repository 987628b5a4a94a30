package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestOutput runs a tiny benchmark and checks the lines that
// bench/compare.sh reads.
func TestOutput(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-batch", "2", "-iters", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "params=43226") {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, key := range []string{"peak_rss_mib", "train_img_per_s", "infer_img_per_s"} {
		f := strings.Fields(lines[i+1])
		if len(f) != 2 || f[0] != key {
			t.Fatalf("line %d = %q, want %q N", i+2, lines[i+1], key)
		}
		if v, err := strconv.ParseFloat(f[1], 64); err != nil || v <= 0 {
			t.Errorf("%s = %q, want a positive number", key, f[1])
		}
	}
	if err := run([]string{"-iters", "0"}, &out); err == nil {
		t.Error("-iters 0 accepted")
	}
}

func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := exitCode(run([]string{"-h"}, &out), &errOut); code != 0 || errOut.Len() != 0 {
		t.Errorf("-h: exit %d, printed %q", code, errOut.String())
	}
	if code := exitCode(run([]string{"-nosuchflag"}, &out), &errOut); code != 1 || !strings.HasPrefix(errOut.String(), "bench: ") {
		t.Errorf("-nosuchflag: exit %d, printed %q", code, errOut.String())
	}
}
