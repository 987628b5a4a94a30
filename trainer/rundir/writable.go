package rundir

import (
	"fmt"
	"os"
)

// CheckWritable creates the folder dir if needed and checks that a file
// can be created in it, so that a run fails before its first epoch rather
// than after hours of training. key is the configuration key that names
// the folder, for the error message.
func CheckWritable(key, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: cannot create the folder: %w", key, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("%s: %s is not writable: %w", key, dir, err)
	}
	name := f.Name()
	err = f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("%s: %s: %w", key, dir, err)
	}
	return nil
}
