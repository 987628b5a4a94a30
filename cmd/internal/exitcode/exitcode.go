// Package exitcode ends a command of this module that has no exit
// statuses of its own (cmd/bench, cmd/report, cmd/logits): it turns
// the error its run returned into the process's exit status, printing the
// error first.
package exitcode

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Of returns the exit status of the command named name whose run returned
// err: 0 for success and for flag.ErrHelp (-h or -help: the flag package
// has printed the usage), 1 for any other error, which it first prints to
// stderr as one line, "name: err".
func Of(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}
