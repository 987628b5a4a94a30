package checkpoint

import (
	"bytes"
	"io"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/cifar-resnet/trainer/config"
)

// rawEncode writes f's MessagePack body without validating it.
func rawEncode(w io.Writer, f *File) error {
	return msgpack.NewEncoder(w).Encode(f)
}

// smallFile returns a valid file with one parameter of two values.
func smallFile() *File {
	return &File{Version: Version, Config: config.Default(), Epoch: 1, Step: 3,
		Params:     []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, -2}}},
		BestParams: []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{0.5, 3}}},
		BestEpoch:  1, BestValAcc: 0.5,
		Optimizer: OptimizerState{Name: "sgd", Step: 1, ParamNames: []string{"w"},
			Slots: map[string][][]float32{"velocity": {{0.25, 0}}}},
		History:    History{Loss: []float64{2}, ValLoss: []float64{2.5}, TrainAcc: []float64{0.1}, ValAcc: []float64{0.5}, LR: []float64{0.1}, Seconds: []float64{1}},
		Partial:    Partial{Batches: 1, LossSum: 1.5, Seconds: 0.25},
		Amendments: []Amendment{{Epoch: 1, Step: 2, Path: "solver.epochs", Old: "1", New: "2"}},
	}
}

// FuzzDecode checks that Decode never panics and that every file it accepts
// encodes to bytes that decode to the same file. Its seed corpus lives in
// testdata/fuzz/FuzzDecode (version-1 files written before the
// configuration was validated, which are now rejected, and arbitrary
// bytes) and is completed here with valid files of both versions. Mutations
// of a version-2 file almost never keep its checksum, so the decoder
// itself is explored mostly through version-1 inputs.
func FuzzDecode(f *testing.F) {
	small := smallFile()
	var buf bytes.Buffer
	if err := Encode(&buf, small); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()/2])
	small.Amendments = nil
	f.Add(encodeV1(f, small))
	f.Fuzz(func(t *testing.T, b []byte) {
		f1, err := Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		var b1 bytes.Buffer
		if err := Encode(&b1, f1); err != nil {
			t.Fatalf("decoded file does not encode: %v", err)
		}
		f2, err := Decode(bytes.NewReader(b1.Bytes()))
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		// Compare encodings rather than values: NaN is allowed in the
		// history and in the settings of the configuration that the
		// selected optimizer and scheduler do not use (Config.Validate
		// checks those only when they apply), and never equals itself.
		var b2 bytes.Buffer
		if err := Encode(&b2, f2); err != nil {
			t.Fatalf("re-decoded file does not encode: %v", err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatalf("re-encoding changed the file:\n%+v\n%+v", f1, f2)
		}
	})
}

// FuzzCorrupt damages a valid version-2 file: it XORs the byte at pos
// (modulo the length) with x, then keeps the first cut bytes (modulo the
// length plus one; all of them when cut is 0). Decode must reject every
// result that differs from the original.
func FuzzCorrupt(f *testing.F) {
	var buf bytes.Buffer
	if err := Encode(&buf, smallFile()); err != nil {
		f.Fatal(err)
	}
	orig := buf.Bytes()
	n := uint(len(orig))
	f.Add(uint(0), byte(0), uint(0))           // unchanged
	f.Add(uint(0), byte(0x01), uint(0))        // magic
	f.Add(uint(11), byte(0x03), uint(0))       // version 2 -> 1
	f.Add(uint(19), byte(0x01), uint(0))       // body length
	f.Add(n/2, byte(0x80), uint(0))            // body
	f.Add(n-1, byte(0xff), uint(0))            // checksum
	f.Add(uint(0), byte(0), n-1)               // last byte cut
	f.Add(uint(0), byte(0), n-4)               // checksum cut
	f.Add(n/2, byte(0x7d), n/2+1)              // both
	f.Add(uint(0), byte(0), uint(headerSize2)) // header only
	f.Fuzz(func(t *testing.T, pos uint, x byte, cut uint) {
		b := bytes.Clone(orig)
		b[pos%n] ^= x
		if cut %= n + 1; cut > 0 {
			b = b[:cut]
		}
		got, err := Decode(bytes.NewReader(b))
		if bytes.Equal(b, orig) {
			if err != nil {
				t.Fatalf("Decode of the valid file: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("Decode accepted a damaged file (byte %d ^ %#02x, %d of %d bytes): epoch %d", pos%n, x, len(b), n, got.Epoch)
		}
	})
}
