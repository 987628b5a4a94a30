package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcquireExcludesSecondHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	a, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire returned %v, want ErrLocked", err)
	}
	for _, want := range []string{dir, fmt.Sprintf("PID %d", os.Getpid()), "another output folder"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	b, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer b.Release()
	stamp, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(stamp), fmt.Sprintf("pid %d\nsince ", os.Getpid())) {
		t.Errorf("lock file holds %q", stamp)
	}
}

func TestAcquireUnusableFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(filepath.Join(file, "run"))
	if err == nil || errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), file) {
		t.Fatalf("Acquire under a file returned %v", err)
	}
}

func TestReleaseNil(t *testing.T) {
	var l *Lock
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckWritable(t *testing.T) {
	tmp := t.TempDir()
	ok := filepath.Join(tmp, "a", "b")
	if err := CheckWritable("output.models_dir", ok); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(ok); err != nil || len(entries) != 0 {
		t.Fatalf("CheckWritable left %v (%v) in the folder", entries, err)
	}
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckWritable("output.plots_dir", filepath.Join(file, "plots"))
	if err == nil || !strings.HasPrefix(err.Error(), "output.plots_dir: ") || !strings.Contains(err.Error(), file) {
		t.Fatalf("CheckWritable under a file returned %v", err)
	}
}
