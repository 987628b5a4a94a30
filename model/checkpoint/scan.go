package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxDepth bounds the nesting of arrays and maps in a file body; the
// deepest a valid file needs is 5 (file, optimizer, slots, arrays, values).
const maxDepth = 16

var errTruncated = errors.New("unexpected end of data")

// checkStructure reports whether b holds exactly one well-formed MessagePack
// value, nested at most maxDepth deep, in which no array, map, string,
// binary or extension declares more elements or bytes than remain in b.
func checkStructure(b []byte) error {
	n, err := skipValue(b, 0, 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%d bytes of trailing data", len(b)-n)
	}
	return nil
}

// skipValue returns the offset just past the value that starts at b[off].
func skipValue(b []byte, off, depth int) (int, error) {
	if off >= len(b) {
		return 0, errTruncated
	}
	c := b[off]
	off++
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		// Fixint, negative fixint, nil, false, true.
		return off, nil
	case c >= 0x80 && c <= 0x8f:
		return skipElems(b, off, 2*int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return skipElems(b, off, int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return skipBytes(b, off, int(c&0x1f))
	}
	switch c {
	case 0xcc, 0xd0: // uint8, int8
		return skipBytes(b, off, 1)
	case 0xcd, 0xd1: // uint16, int16
		return skipBytes(b, off, 2)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return skipBytes(b, off, 4)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return skipBytes(b, off, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 (type byte first)
		return skipBytes(b, off, 1+1<<(c-0xd4))
	case 0xc4, 0xd9: // bin8, str8
		n, off, err := readLen(b, off, 1)
		if err != nil {
			return 0, err
		}
		return skipBytes(b, off, n)
	case 0xc5, 0xda: // bin16, str16
		n, off, err := readLen(b, off, 2)
		if err != nil {
			return 0, err
		}
		return skipBytes(b, off, n)
	case 0xc6, 0xdb: // bin32, str32
		n, off, err := readLen(b, off, 4)
		if err != nil {
			return 0, err
		}
		return skipBytes(b, off, n)
	case 0xc7, 0xc8, 0xc9: // ext8, ext16, ext32 (type byte after the length)
		n, off, err := readLen(b, off, 1<<(c-0xc7))
		if err != nil {
			return 0, err
		}
		return skipBytes(b, off, 1+n)
	case 0xdc, 0xdd: // array16, array32
		n, off, err := readLen(b, off, 2<<(c-0xdc))
		if err != nil {
			return 0, err
		}
		return skipElems(b, off, n, depth)
	case 0xde, 0xdf: // map16, map32
		n, off, err := readLen(b, off, 2<<(c-0xde))
		if err != nil {
			return 0, err
		}
		return skipElems(b, off, 2*n, depth)
	}
	return 0, fmt.Errorf("invalid type code 0x%02x at offset %d", c, off-1)
}

// readLen reads a big-endian length of size 1, 2 or 4 bytes at b[off].
func readLen(b []byte, off, size int) (n, next int, err error) {
	if len(b)-off < size {
		return 0, 0, errTruncated
	}
	switch size {
	case 1:
		n = int(b[off])
	case 2:
		n = int(binary.BigEndian.Uint16(b[off:]))
	default:
		n = int(binary.BigEndian.Uint32(b[off:]))
	}
	return n, off + size, nil
}

func skipBytes(b []byte, off, n int) (int, error) {
	if n > len(b)-off {
		return 0, errTruncated
	}
	return off + n, nil
}

// skipElems skips n values starting at b[off], each at least one byte long.
func skipElems(b []byte, off, n, depth int) (int, error) {
	if depth >= maxDepth {
		return 0, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	if n > len(b)-off {
		return 0, errTruncated
	}
	var err error
	for i := 0; i < n; i++ {
		if off, err = skipValue(b, off, depth+1); err != nil {
			return 0, err
		}
	}
	return off, nil
}
