//go:build !unix

package rundir

import (
	"errors"
	"os"
)

// On systems without flock the folder is not locked: errWouldBlock is
// never returned.
var errWouldBlock = errors.New("would block")

func lockFile(f *os.File) error   { return nil }
func unlockFile(f *os.File) error { return nil }
