// Package rundir guards the folder of a training run, where the trainer
// writes its checkpoints, history and plots: one trainer at a time.
package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockFile is the name of the lock file in a run folder.
const LockFile = ".lock"

// ErrLocked is wrapped by the error of Acquire when another process holds the
// folder.
var ErrLocked = errors.New("the run folder is in use")

// A Lock is an exclusive hold on a run folder. The operating system
// releases it when the process exits, however it exits, so a crashed
// trainer never leaves a folder locked.
type Lock struct {
	f    *os.File
	path string
}

// Acquire takes the run folder dir for this process, creating dir if needed.
// If another process holds it, Lock returns an error wrapping ErrLocked
// that names the folder and the holder's process ID. The lock file holds
// the ID of the process that holds it and the time it took it; it is left
// in place when the lock is released.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rundir: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("rundir: %w", err)
	}
	if err := lockFile(f); err != nil {
		holder := describeHolder(f)
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("rundir: %s: %w by another trainer (%s); wait for it to finish, stop it, or use another output folder", dir, ErrLocked, holder)
		}
		return nil, fmt.Errorf("rundir: %s: %w", path, err)
	}
	stamp := fmt.Sprintf("pid %d\nsince %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(stamp), 0)
	}
	if err != nil {
		unlockFile(f)
		f.Close()
		return nil, fmt.Errorf("rundir: %s: %w", path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// Release gives the folder up. It is safe to call more than once and on
// a nil Lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("rundir: %s: %w", l.path, err)
	}
	return nil
}

// describeHolder reads the holder's process ID and start time from the
// lock file, for messages.
func describeHolder(f *os.File) string {
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	var pid, since string
	for _, line := range strings.Split(string(b[:n]), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			if _, err := strconv.Atoi(v); err == nil {
				pid = v
			}
		case "since":
			since = v
		}
	}
	switch {
	case pid == "":
		return "process ID unknown"
	case since == "":
		return "PID " + pid
	}
	return fmt.Sprintf("PID %s, since %s", pid, since)
}
