package kernels

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// TestSumsMatchSources checks kernels.sha256 against the sources and the
// fatbin: a source edited without running go generate fails here.
func TestSumsMatchSources(t *testing.T) {
	recorded := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(Sums), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("kernels.sha256: malformed line %q", line)
		}
		recorded[name] = sum
	}
	actual := map[string]string{}
	err := fs.WalkDir(Sources, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Sources, path)
		s := sha256.Sum256(b)
		actual[path] = hex.EncodeToString(s[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(Fatbin)
	actual["kernels.fatbin"] = hex.EncodeToString(s[:])
	for name, sum := range actual {
		switch rec, ok := recorded[name]; {
		case !ok:
			t.Errorf("%s is not in kernels.sha256: run go generate in graph/cuda/kernels (needs nvcc)", name)
		case rec != sum:
			t.Errorf("%s changed since kernels.fatbin was built (sha256 %s, recorded %s): run go generate in graph/cuda/kernels (needs nvcc)", name, sum[:12], rec[:12])
		}
	}
	for name := range recorded {
		if _, ok := actual[name]; !ok {
			t.Errorf("kernels.sha256 lists %s, which is not a source any more: run go generate", name)
		}
	}
}

// wantKernels is every kernel the sources declare.
var wantKernels = []string{
	"adam_f32", "add_f32", "add_relu_f32", "bn_apply_f32", "bn_backward_data_f32",
	"bn_backward_sums_finish_f32", "bn_backward_sums_partial_f32", "bn_eval_stats_f32", "bn_fold_f32",
	"bn_stats_finish_f32", "bn_stats_partial_f32", "broadcast_rows_f32", "conv3x3_filter_w16_f32", "conv3x3_filter_w32_f32", "conv3x3_w16_f32", "conv3x3_w32_f32", "conv_backward_data_m16_f32", "conv_backward_data_m32_f32",
	"conv_backward_data_m64_f32", "conv_backward_filter_m16_f32", "conv_backward_filter_m32_f32", "conv_backward_filter_m64_f32", "conv_forward_m16_f32",
	"conv_forward_m32_f32", "conv_forward_m64_f32", "fill_f32", "gap_backward_f32", "gap_forward_f32",
	"relu_backward_f32", "relu_f32", "sgd_f32", "sgemm_f32", "smooth_labels_f32",
	"sum_partials_f32", "sum_rows_f32", "xent_backward_f32", "xent_forward_f32",
}

func TestNames(t *testing.T) {
	names, err := Names()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, wantKernels) {
		t.Errorf("Names() = %v\nwant %v", names, wantKernels)
	}
}

// TestFatbinEntries checks the embedded fatbin: PTX for compute_80 and
// machine code for sm_90, uncompressed, each defining every kernel of
// the sources and no other.
func TestFatbinEntries(t *testing.T) {
	entries, err := ParseFatbin(Fatbin)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.String())
		if e.Compressed {
			t.Errorf("%v is compressed; nvcc must be run with --no-compress", e)
		}
	}
	if !slices.Equal(got, []string{"compute_80", "sm_90"}) {
		t.Fatalf("fatbin entries %v, want [compute_80 sm_90]", got)
	}
	ptx, elf := entries[0].Payload, entries[1].Payload
	if !bytes.Contains(ptx, []byte(".target sm_80")) {
		t.Errorf("the PTX does not target sm_80")
	}
	if n := bytes.Count(ptx, []byte(".entry ")); n != len(wantKernels) {
		t.Errorf("the PTX defines %d kernels, the sources %d", n, len(wantKernels))
	}
	if !bytes.HasPrefix(elf, []byte("\x7fELF")) {
		t.Errorf("the sm_90 entry is not an ELF image: starts with %q", elf[:min(4, len(elf))])
	}
	for _, k := range wantKernels {
		if !bytes.Contains(ptx, []byte(".entry "+k+"(")) {
			t.Errorf("the PTX has no kernel %s", k)
		}
		if !bytes.Contains(elf, []byte("\x00"+k+"\x00")) {
			t.Errorf("the sm_90 code has no symbol %s", k)
		}
	}
}

func TestParseFatbinRejects(t *testing.T) {
	le := binary.LittleEndian
	valid := func() []byte {
		// One PTX entry of 8 bytes after a 72-byte entry header.
		b := make([]byte, 16+72+8)
		le.PutUint32(b, fatbinMagic)
		le.PutUint16(b[4:], 1)
		le.PutUint16(b[6:], 16)
		le.PutUint64(b[8:], 72+8)
		e := b[16:]
		le.PutUint16(e, EntryPTX)
		le.PutUint32(e[4:], 72)
		le.PutUint64(e[8:], 8)
		le.PutUint32(e[28:], 80)
		copy(e[72:], "ptx text")
		return b
	}
	entries, err := ParseFatbin(valid())
	if err != nil || len(entries) != 1 || entries[0].String() != "compute_80" || string(entries[0].Payload) != "ptx text" {
		t.Fatalf("ParseFatbin(valid) = %+v, %v", entries, err)
	}
	for _, c := range []struct {
		name   string
		modify func([]byte) []byte
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:10] }, "fatbin: 10 bytes, shorter than its header"},
		{"magic", func(b []byte) []byte { b[0] = 0; return b }, "fatbin: magic 0xba55ed00, want 0xba55ed50"},
		{"total size", func(b []byte) []byte { le.PutUint64(b[8:], 1000); return b }, "fatbin: header size 16 and entry size 1000 do not fit 96 bytes"},
		{"payload size", func(b []byte) []byte { le.PutUint64(b[24:], 9); return b }, "fatbin: entry at byte 0: header size 72 and payload size 9 do not fit 80 bytes"},
		{"kind", func(b []byte) []byte { le.PutUint16(b[16:], 7); return b }, "fatbin: entry at byte 0: unknown kind 7"},
		{"truncated entry", func(b []byte) []byte { le.PutUint64(b[8:], 20); return b }, "fatbin: entry at byte 0: 20 bytes left, shorter than an entry header"},
	} {
		if _, err := ParseFatbin(c.modify(valid())); err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
