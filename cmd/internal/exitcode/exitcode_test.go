package exitcode

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tt := range []struct {
		err     error
		code    int
		printed string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{fmt.Errorf("parse: %w", flag.ErrHelp), 0, ""},
		{errors.New("-batch and -iters must be positive"), 1, "bench: -batch and -iters must be positive\n"},
	} {
		var stderr bytes.Buffer
		if code := Of("bench", tt.err, &stderr); code != tt.code || stderr.String() != tt.printed {
			t.Errorf("Of(%v) = %d, printed %q; want %d, %q", tt.err, code, stderr.String(), tt.code, tt.printed)
		}
	}
}
