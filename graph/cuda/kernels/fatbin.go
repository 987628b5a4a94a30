package kernels

import (
	"encoding/binary"
	"fmt"
)

// The fatbin container, as nvcc writes it (the layout is undocumented; it
// is the one cuobjdump reads): a 16-byte header, then entries one after
// another, each a header of its own followed by its payload.
//
//	header: magic uint32 (0xBA55ED50), version uint16, header size uint16,
//	        size of the entries uint64
//	entry:  kind uint16 (1 PTX, 2 ELF), version uint16, header size uint32,
//	        payload size uint64, compressed size uint32, unknown uint32,
//	        PTX version minor uint16, major uint16, architecture uint32
//	        (80 for sm_80), ..., flags uint64 at offset 40
//
// All fields are little-endian.
const (
	fatbinMagic          = 0xBA55ED50
	fatbinHeaderSize     = 16
	fatbinEntryMinHeader = 48
	fatbinFlagCompressed = 0x2000
)

// Kinds of fatbin entries.
const (
	EntryPTX = 1 // PTX text, compiled by the driver for the device
	EntryELF = 2 // machine code (a cubin) for one architecture
)

// Entry is one image in a fatbin.
type Entry struct {
	// Kind is EntryPTX or EntryELF.
	Kind int
	// Arch is the architecture: 80 for PTX of compute_80, 90 for sm_90
	// code.
	Arch int
	// Compressed reports whether nvcc compressed the payload.
	Compressed bool
	// Payload is the image, as stored (PTX text may be padded with NULs).
	Payload []byte
}

// String names the entry as nvcc's -gencode does: "compute_80" for PTX,
// "sm_90" for machine code.
func (e Entry) String() string {
	if e.Kind == EntryPTX {
		return fmt.Sprintf("compute_%d", e.Arch)
	}
	return fmt.Sprintf("sm_%d", e.Arch)
}

// ParseFatbin splits a fatbin into its entries, checking every size
// against the data.
func ParseFatbin(b []byte) ([]Entry, error) {
	if len(b) < fatbinHeaderSize {
		return nil, fmt.Errorf("fatbin: %d bytes, shorter than its header", len(b))
	}
	le := binary.LittleEndian
	if m := le.Uint32(b); m != fatbinMagic {
		return nil, fmt.Errorf("fatbin: magic %#x, want %#x", m, fatbinMagic)
	}
	hsize := int(le.Uint16(b[6:]))
	size := le.Uint64(b[8:])
	if hsize < fatbinHeaderSize || uint64(len(b)-hsize) < size {
		return nil, fmt.Errorf("fatbin: header size %d and entry size %d do not fit %d bytes", hsize, size, len(b))
	}
	rest := b[hsize : uint64(hsize)+size]
	var entries []Entry
	for off := 0; len(rest) > 0; {
		if len(rest) < fatbinEntryMinHeader {
			return nil, fmt.Errorf("fatbin: entry at byte %d: %d bytes left, shorter than an entry header", off, len(rest))
		}
		kind := int(le.Uint16(rest))
		ehsize := uint64(le.Uint32(rest[4:]))
		psize := le.Uint64(rest[8:])
		if ehsize < fatbinEntryMinHeader || ehsize > uint64(len(rest)) || psize > uint64(len(rest))-ehsize {
			return nil, fmt.Errorf("fatbin: entry at byte %d: header size %d and payload size %d do not fit %d bytes", off, ehsize, psize, len(rest))
		}
		if kind != EntryPTX && kind != EntryELF {
			return nil, fmt.Errorf("fatbin: entry at byte %d: unknown kind %d", off, kind)
		}
		entries = append(entries, Entry{
			Kind:       kind,
			Arch:       int(le.Uint32(rest[28:])),
			Compressed: le.Uint64(rest[40:])&fatbinFlagCompressed != 0,
			Payload:    rest[ehsize : ehsize+psize],
		})
		n := int(ehsize + psize)
		rest = rest[n:]
		off += n
	}
	return entries, nil
}
