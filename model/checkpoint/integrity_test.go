package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// seal wraps a MessagePack body in the version-2 layout, written here
// independently of marshal: magic, version, body length, body, CRC-32C.
func seal(body []byte) []byte {
	b := []byte(Magic + "\x00\x00\x00\x02")
	b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// encodeV1 returns f as the version-1 code wrote it: magic, version 1 and
// the MessagePack body, which had no amendments field.
func encodeV1(t testing.TB, f *File) []byte {
	t.Helper()
	var body bytes.Buffer
	if err := rawEncode(&body, f); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["amendments"]; !ok {
		t.Fatal("the body has no amendments field to remove")
	}
	delete(m, "amendments")
	b := bytes.NewBufferString(Magic + "\x00\x00\x00\x01")
	enc := msgpack.NewEncoder(b)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCRC32C(t *testing.T) {
	// The check value of CRC-32C (RFC 3720, appendix B.4): the checksum
	// is Castagnoli's, not the IEEE polynomial.
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Errorf("CRC-32C of 123456789 = %08x, want e3069283", got)
	}
}

func TestLayout(t *testing.T) {
	f := sampleFile()
	var body bytes.Buffer
	if err := rawEncode(&body, f); err != nil {
		t.Fatal(err)
	}
	got := encode(t, f)
	if want := seal(body.Bytes()); !bytes.Equal(got, want) {
		t.Fatalf("encoding differs from the version-2 layout:\ngot  %x...%x\nwant %x...%x", got[:24], got[len(got)-8:], want[:24], want[len(want)-8:])
	}
	// The smallest valid file, byte by byte around its body.
	small := &File{Config: sampleFile().Config}
	body.Reset()
	if err := rawEncode(&body, small); err != nil {
		t.Fatal(err)
	}
	b := encode(t, small)
	n := body.Len()
	if len(b) != 8+4+8+n+4 {
		t.Fatalf("%d bytes for a %d-byte body, want %d", len(b), n, 24+n)
	}
	header := append([]byte("\x89RNCKPT\n\x00\x00\x00\x02\x00\x00\x00\x00"), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	if !bytes.Equal(b[:20], header) || !bytes.Equal(b[20:20+n], body.Bytes()) {
		t.Errorf("header %x, want %x", b[:20], header)
	}
}

// TestCorruptionDetected applies random single-byte changes and truncations
// to a valid file, and every single-byte change to its header and
// checksum: Decode must reject each.
func TestCorruptionDetected(t *testing.T) {
	orig := encode(t, sampleFile())
	if _, err := Decode(bytes.NewReader(orig)); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	c := make([]byte, len(orig))
	reject := func(b []byte, what string) {
		t.Helper()
		f, err := Decode(bytes.NewReader(b))
		if err == nil {
			t.Fatalf("Decode accepted %s (epoch %d)", what, f.Epoch)
		}
	}
	for range 1000 {
		copy(c, orig)
		i := r.IntN(len(c))
		c[i] ^= byte(1 + r.IntN(255))
		reject(c, "a corrupt byte at offset "+strconv.Itoa(i))
	}
	for range 100 {
		n := r.IntN(len(orig))
		reject(orig[:n], "a file truncated to "+strconv.Itoa(n)+" bytes")
	}
	// Every value of every byte of the header and of the checksum,
	// including version 1 or 3 in place of 2.
	for _, i := range append(seq(0, headerSize2), seq(len(orig)-checksumSize, len(orig))...) {
		for x := 1; x < 256; x++ {
			copy(c, orig)
			c[i] ^= byte(x)
			reject(c, "a corrupt byte at offset "+strconv.Itoa(i))
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestLoadCorrupt(t *testing.T) {
	// The audit's example: one byte of the body changed.
	b := encode(t, sampleFile())
	b[len(b)/2] ^= 0x7d
	path := filepath.Join(t.TempDir(), "c.ckpt")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	prefix := "checkpoint: " + path + ": checksum mismatch: the file is corrupt (stored CRC-32C "
	if err == nil || !strings.HasPrefix(err.Error(), prefix) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("Load(corrupt) = %v, want an error starting %q", err, prefix)
	}
	// A truncated file.
	if err := os.WriteFile(path, encode(t, sampleFile())[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	want := "checkpoint: " + path + ": size mismatch: the file is corrupt (the header declares a "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "the file holds 976 bytes after the header") || !errors.Is(err, ErrCorrupt) {
		t.Errorf("Load(truncated) = %v, want an error starting %q", err, want)
	}
}

func TestVersion1(t *testing.T) {
	want := sampleFile()
	want.Amendments = nil
	b := encodeV1(t, want)
	if v := binary.BigEndian.Uint32(b[len(Magic):]); v != 1 || bytes.Contains(b, []byte("amendments")) {
		t.Fatalf("encodeV1 wrote version %d or an amendments field", v)
	}
	got, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || !got.Unchecked() {
		t.Errorf("version-1 file: Version %d, Unchecked() %v, want 1 and true", got.Version, got.Unchecked())
	}
	want.Version = 1
	if !reflect.DeepEqual(got, want) {
		t.Errorf("version-1 file decodes to\n%+v\nwant\n%+v", got, want)
	}
	// Saving it again writes version 2, which is checked.
	path := filepath.Join(t.TempDir(), "v2.ckpt")
	if err := Save(path, got); err != nil {
		t.Fatal(err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != Version || again.Unchecked() {
		t.Errorf("re-saved file: Version %d, Unchecked() %v, want %d and false", again.Version, again.Unchecked(), Version)
	}
	again.Version = 1
	if !reflect.DeepEqual(again, want) {
		t.Error("re-saving a version-1 file changed its contents")
	}
	if f := sampleFile(); f.Unchecked() {
		t.Error("a file built in memory reports Unchecked")
	}
}

func TestAmendmentsRoundTrip(t *testing.T) {
	// Nil and empty lists of amendments both survive exactly.
	for _, a := range [][]Amendment{nil, {}} {
		f := sampleFile()
		f.Amendments = a
		got, err := Decode(bytes.NewReader(encode(t, f)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("amendments %#v came back as %#v", a, got.Amendments)
		}
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	// Learn the name of a real temporary file of WriteFileAtomic, then
	// leave one like it behind, as a killed process would.
	var tmpName string
	err := WriteFileAtomic(filepath.Join(dir, "last.ckpt"), func(w io.Writer) error {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 1 {
			return fmt.Errorf("during the write the directory holds %v (%v), want one file", entries, err)
		}
		tmpName = entries[0].Name()
		return errors.New("killed")
	})
	if err == nil || err.Error() != "killed" {
		t.Fatalf("WriteFileAtomic = %v", err)
	}
	stale := []string{tmpName, ".history.csv.tmp-1234", ".training.png.tmp-99"}
	keep := []string{"last.ckpt", "best.ckpt", ".last.ckpt.tmp", "last.ckpt.tmp-1", ".tmp-1", "x.tmp-2", ".lock"}
	for _, name := range append(append([]string(nil), stale...), keep...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A directory and a symbolic link matching the pattern are not
	// regular files.
	keep = append(keep, ".sub.tmp-1", ".link.tmp-2")
	if err := os.Mkdir(filepath.Join(dir, ".sub.tmp-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("last.ckpt", filepath.Join(dir, ".link.tmp-2")); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveStaleTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range stale {
		want = append(want, filepath.Join(dir, name))
	}
	sort.Strings(want)
	if !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	sort.Strings(keep)
	if !reflect.DeepEqual(left, keep) {
		t.Errorf("left %q, want %q", left, keep)
	}
	// Nothing left to remove.
	if removed, err := RemoveStaleTemps(dir); len(removed) != 0 || err != nil {
		t.Errorf("second RemoveStaleTemps = %q, %v", removed, err)
	}
	if _, err := RemoveStaleTemps(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("RemoveStaleTemps(missing) = %v", err)
	}
}

// TestHistoryWithoutValLoss decodes a file written before the history
// recorded the validation loss: the column is filled with NaN, one per
// epoch, and the rest is read as written.
func TestHistoryWithoutValLoss(t *testing.T) {
	want := sampleFile()
	var body bytes.Buffer
	if err := rawEncode(&body, want); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	h := m["history"].(map[string]any)
	if _, ok := h["val_loss"]; !ok {
		t.Fatal("the body has no history.val_loss field to remove")
	}
	delete(h, "val_loss")
	var old bytes.Buffer
	enc := msgpack.NewEncoder(&old)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(seal(old.Bytes())))
	if err != nil {
		t.Fatalf("Decode of a history without val_loss: %v", err)
	}
	if len(got.History.ValLoss) != 3 {
		t.Fatalf("val_loss has %d entries, want 3", len(got.History.ValLoss))
	}
	for i, v := range got.History.ValLoss {
		if !math.IsNaN(v) {
			t.Errorf("val_loss[%d] = %v, want NaN", i, v)
		}
	}
	// Saved again, the NaNs are kept.
	again, err := Decode(bytes.NewReader(encode(t, got)))
	if err != nil || len(again.History.ValLoss) != 3 || !math.IsNaN(again.History.ValLoss[2]) {
		t.Fatalf("re-encoded: %v, val_loss %v", err, again.History.ValLoss)
	}
	got.History.ValLoss = want.History.ValLoss
	if !reflect.DeepEqual(got, want) {
		t.Error("the rest of the file differs from what was written")
	}
}
