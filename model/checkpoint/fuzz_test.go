package checkpoint

import (
	"bytes"
	"io"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// rawEncode writes f's MessagePack body without validating it.
func rawEncode(w io.Writer, f *File) error {
	return msgpack.NewEncoder(w).Encode(f)
}

// FuzzDecode checks that Decode never panics and that every file it accepts
// encodes to bytes that decode to the same file. Its seed corpus lives in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	small := &File{Version: Version, Epoch: 1,
		Params:     []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, -2}}},
		BestParams: []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{0.5, 3}}},
		BestEpoch:  1, BestValAcc: 0.5,
		Optimizer: OptimizerState{Name: "sgd", Step: 1, ParamNames: []string{"w"},
			Slots: map[string][][]float32{"velocity": {{0.25, 0}}}},
		History: History{Loss: []float64{2}, TrainAcc: []float64{0.1}, ValAcc: []float64{0.5}, LR: []float64{0.1}, Seconds: []float64{1}},
	}
	var buf bytes.Buffer
	if err := Encode(&buf, small); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()/2])
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
		// Compare encodings rather than values: NaN in the configuration
		// or history is allowed and never equals itself.
		var b2 bytes.Buffer
		if err := Encode(&b2, f2); err != nil {
			t.Fatalf("re-decoded file does not encode: %v", err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatalf("re-encoding changed the file:\n%+v\n%+v", f1, f2)
		}
	})
}
