package safetensors

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// file builds a safetensors file from a header and a buffer, as another
// writer could lay it out.
func file(header string, buf []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), buf...)
}

// Encode writes exactly the bytes of the format: the little-endian header
// length, the JSON header padded with spaces to 8 bytes, then the data.
func TestEncodeBytes(t *testing.T) {
	f := &File{
		Metadata: map[string]string{"format": "pt"},
		Tensors: []Tensor{
			Float32("w", []int{2}, []float32{1, -2}),
			Int64("n", nil, []int64{258}),
		},
	}
	got, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}`
	// 8 + 130 bytes, padded with 6 spaces to 144.
	padded := header + strings.Repeat(" ", 6)
	want := file(padded, []byte{
		0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, // 1.0, -2.0
		2, 1, 0, 0, 0, 0, 0, 0, // 258
	})
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode =\n%q\nwant\n%q", got, want)
	}
}

// A file laid out by another writer (no padding, tensors listed in another
// order than their data) decodes to its values, in the order of the data.
func TestDecodeForeignLayout(t *testing.T) {
	b := file(`{"b":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]},"a":{"data_offsets":[0,4],"shape":[],"dtype":"F32"}}`,
		[]byte{0, 0, 0x40, 0x40, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40})
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata != nil {
		t.Errorf("Metadata = %v, want nil", f.Metadata)
	}
	if len(f.Tensors) != 2 || f.Tensors[0].Name != "a" || f.Tensors[1].Name != "b" {
		t.Fatalf("tensors %+v, want a then b", f.Tensors)
	}
	a, _ := f.Tensors[0].Float32s()
	bv, _ := f.Tensors[1].Float32s()
	if !reflect.DeepEqual(a, []float32{3}) || !reflect.DeepEqual(bv, []float32{1, 2}) {
		t.Errorf("a = %v, b = %v; want [3], [1 2]", a, bv)
	}
	if got, ok := f.Tensor("b"); !ok || !reflect.DeepEqual(got.Shape, []int{1, 2}) {
		t.Errorf("Tensor(b) = %+v, %v", got, ok)
	}
	if _, ok := f.Tensor("c"); ok {
		t.Error("Tensor(c) found")
	}
}

func TestRoundTrip(t *testing.T) {
	f := &File{
		Metadata: map[string]string{"arch": "16x2/1,32x2/2", "quote\"": "é"},
		Tensors: []Tensor{
			Float32("stem.0.weight", []int{2, 1, 1, 2}, []float32{0.5, -0.25, 1e-30, 3.4e38}),
			Int64("stem.1.num_batches_tracked", []int{}, []int64{-7}),
			Float32("empty", []int{0, 3}, nil),
			{Name: "raw", DType: U8, Shape: []int{3}, Data: []byte{1, 2, 3}},
		},
	}
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Metadata, f.Metadata) {
		t.Errorf("metadata %v, want %v", g.Metadata, f.Metadata)
	}
	if len(g.Tensors) != len(f.Tensors) {
		t.Fatalf("%d tensors, want %d", len(g.Tensors), len(f.Tensors))
	}
	for i, want := range f.Tensors {
		got := g.Tensors[i]
		if got.Name != want.Name || got.DType != want.DType || len(got.Shape) != len(want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %d = %+v, want %+v", i, got, want)
		}
	}
	n, err := g.Tensors[1].Int64s()
	if err != nil || !reflect.DeepEqual(n, []int64{-7}) {
		t.Errorf("Int64s = %v, %v", n, err)
	}
	if _, err := g.Tensors[1].Float32s(); err == nil || !strings.Contains(err.Error(), `"stem.1.num_batches_tracked" is I64, want F32`) {
		t.Errorf("Float32s of an I64 tensor: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		ts   []Tensor
		want string
	}{
		{"duplicate", []Tensor{Float32("a", []int{1}, []float32{1}), Float32("a", []int{1}, []float32{1})}, `two tensors are named "a"`},
		{"reserved", []Tensor{Float32(MetadataKey, []int{1}, []float32{1})}, `reserved name "__metadata__"`},
		{"empty name", []Tensor{Float32("", []int{1}, []float32{1})}, `reserved name ""`},
		{"size", []Tensor{Float32("a", []int{2}, []float32{1})}, `tensor "a" of shape [2] has 4 bytes of data, want 8`},
		{"dtype", []Tensor{{Name: "a", DType: "F128", Shape: []int{1}, Data: make([]byte, 16)}}, `unknown type "F128"`},
	} {
		if _, err := Encode(&File{Tensors: c.ts}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Encode error %v, want %q", c.name, err, c.want)
		}
	}
}

// Every malformed file is an error that says what is wrong.
func TestDecodeErrors(t *testing.T) {
	four := []byte{1, 2, 3, 4}
	long := binary.LittleEndian.AppendUint64(nil, 1<<40)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"huge header", long, "over the limit"},
		{"truncated header", file(`{"a":{}}`, nil)[:12], "runs past the end"},
		{"not an object", file(`["a"]`, nil), "not a JSON object"},
		{"not JSON", file(`{"a":`, nil), "header"},
		{"bad UTF-8", file("{\"\xff\":1}", nil), "UTF-8"},
		{"duplicate key", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four), `"a" appears twice`},
		{"unknown dtype", file(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,4]}}`, four), `unknown dtype "F128"`},
		{"missing offsets", file(`{"a":{"dtype":"F32","shape":[1]}}`, four), "needs dtype, shape and data_offsets"},
		{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, four), "has no shape"},
		{"unknown field", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, four), "unknown field"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, four), "invalid shape [-1]"},
		{"huge shape", file(`{"a":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,4]}}`, four), "invalid shape"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, four), "spans 4 bytes, want 8"},
		{"past the buffer", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, four), "outside the 4-byte buffer"},
		{"reversed offsets", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, four), "outside"},
		{"gap", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, four), "bytes 0 to 2 of the buffer belong to no tensor"},
		{"trailing bytes", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, four), "bytes 2 to 4 of the buffer belong to no tensor"},
		{"overlap", file(`{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, four), `tensor "b" overlaps`},
		{"metadata not strings", file(`{"__metadata__":{"a":1}}`, nil), "must be an object of strings"},
		{"metadata null", file(`{"__metadata__":null}`, nil), "must be an object of strings"},
		{"text after the object", file(`{} x`, nil), "data after the JSON object"},
		{"empty name", file(`{"":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), "empty name"},
	} {
		f, err := Decode(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
			t.Errorf("%s: Decode = %v, %v; want an error containing %q", c.name, f, err, c.want)
		}
	}
}

func TestRead(t *testing.T) {
	b, err := Encode(&File{Tensors: []Tensor{Float32("a", []int{1}, []float32{1})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Errorf("Read at the size limit: %v", err)
	}
	if _, err := Read(bytes.NewReader(b), int64(len(b)-1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Read over the size limit: %v", err)
	}
	var w bytes.Buffer
	if err := Write(&w, &File{Tensors: []Tensor{Float32("a", []int{1}, []float32{1})}}); err != nil || !bytes.Equal(w.Bytes(), b) {
		t.Errorf("Write = %q, %v; want %q", w.Bytes(), err, b)
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// encodes and decodes again to the same tensors.
func FuzzDecode(f *testing.F) {
	good, _ := Encode(&File{Metadata: map[string]string{"k": "v"}, Tensors: []Tensor{
		Float32("a", []int{2}, []float32{1, 2}), Int64("n", nil, []int64{3}),
	}})
	f.Add(good)
	f.Add(file(`{"b":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]},"a":{"data_offsets":[0,4],"shape":[],"dtype":"F32"}}`, make([]byte, 12)))
	f.Add(file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(g)
		if err != nil {
			t.Fatalf("Encode of a decoded file: %v", err)
		}
		h, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode of a re-encoded file: %v", err)
		}
		if len(h.Tensors) != len(g.Tensors) || !reflect.DeepEqual(h.Metadata, g.Metadata) {
			t.Fatalf("re-encoded file differs: %+v vs %+v", h, g)
		}
		for i := range g.Tensors {
			if h.Tensors[i].Name != g.Tensors[i].Name || !bytes.Equal(h.Tensors[i].Data, g.Tensors[i].Data) {
				t.Fatalf("tensor %d differs", i)
			}
		}
	})
}
