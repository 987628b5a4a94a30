package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/cifar-resnet/trainer/trainer/sweep"
)

// invocation is how the user started this program, such as "bin/trainer"
// or "go run ./cmd/trainer": the start of the commands it prints for the
// user to run next (resume, status). main sets it; tests may too.
var invocation = "trainer"

// goRunDir matches the folder in which "go run" builds and runs a
// program: a temporary .../go-build123456/b001/exe, or, since Go 1.24,
// which keeps the executables of go run in the build cache,
// $GOCACHE/27/278c…(64 hex digits)-d.
var goRunDir = regexp.MustCompile(`(^|/)go-build[0-9]+/b[0-9]+/exe$|(^|/)[0-9a-f]{2}/[0-9a-f]{64}-d$`)

// invocationOf returns the command that starts this program again: argv0
// as the user typed it, or, for a program started by "go run" (whose
// binary lives in a temporary build folder), "go run" and the package,
// relative to cwd (./cmd/trainer) when cwd lies in the module's tree.
func invocationOf(argv0 string, bi *debug.BuildInfo, cwd string) string {
	if !goRunDir.MatchString(filepath.ToSlash(filepath.Dir(argv0))) {
		return shellQuote(argv0)
	}
	if bi == nil || bi.Path == "" || bi.Path == "command-line-arguments" {
		return "go run ."
	}
	pkg := bi.Path
	if rel, ok := strings.CutPrefix(bi.Path, bi.Main.Path); ok && bi.Main.Path != "" {
		if root := moduleRoot(cwd, bi.Main.Path); root != "" {
			if r, err := filepath.Rel(cwd, filepath.Join(root, filepath.FromSlash(rel))); err == nil {
				r = filepath.ToSlash(r)
				if !strings.HasPrefix(r, "../") && r != ".." && r != "." {
					r = "./" + r
				}
				pkg = r
			}
		}
	}
	return "go run " + pkg
}

// moduleRoot returns the folder at or above dir whose go.mod declares
// module path, or "".
func moduleRoot(dir, path string) string {
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					f.Close()
					if strings.Trim(strings.TrimSpace(m), `"`) == path {
						return dir
					}
					return ""
				}
			}
			f.Close()
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// shellQuote quotes s for a POSIX shell where needed.
var shellQuote = sweep.ShellQuote

// shellJoin joins args quoted for a POSIX shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// resumeCommand returns the training command line args with its -resume
// and -force flags removed and "-resume last" added, after inv: the
// command that continues the run the user started.
func resumeCommand(inv string, args []string, last string) string {
	var kept []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			kept = append(kept, a)
			continue
		}
		switch name {
		case "resume":
			if !hasValue {
				i++ // its value
			}
			continue
		case "force":
			continue
		}
		kept = append(kept, a)
	}
	kept = append(kept, "-resume", last)
	return inv + " " + shellJoin(kept)
}
