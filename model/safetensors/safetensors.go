// Package safetensors reads and writes the safetensors file format of
// Hugging Face (https://github.com/huggingface/safetensors), in which
// PyTorch users exchange a state_dict without pickle:
//
//   - N, the length of the header in bytes, as an 8-byte little-endian
//     unsigned integer;
//   - the header: N bytes of UTF-8 JSON, one object that maps each tensor's
//     name to {"dtype": "F32", "shape": [16, 3, 3, 3], "data_offsets":
//     [BEGIN, END]}, and the optional key "__metadata__" to an object of
//     strings; it may end with spaces;
//   - the byte buffer: the tensors' values, little-endian and row-major,
//     tensor t in bytes [BEGIN, END) of the buffer.
//
// The tensors fill the buffer exactly: no gap, no overlap, no byte after
// the last. [Decode] treats its input as hostile and checks all of this, so
// a truncated, corrupt or foreign file is an error that says what is wrong,
// never a panic or a huge allocation.
package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// DType names the element type of a tensor, as the header spells it.
type DType string

// The element types of the format.
const (
	Bool DType = "BOOL"
	U8   DType = "U8"
	I8   DType = "I8"
	I16  DType = "I16"
	U16  DType = "U16"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I32  DType = "I32"
	U32  DType = "U32"
	F32  DType = "F32"
	F64  DType = "F64"
	I64  DType = "I64"
	U64  DType = "U64"
	// F8E5M2 and F8E4M3 are the 8-bit floating-point types.
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
)

// dtypeSizes gives the size in bytes of one element of each type.
var dtypeSizes = map[DType]int{
	Bool: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8,
}

// Size returns the size in bytes of one element, or 0 for a type the
// format does not define.
func (d DType) Size() int { return dtypeSizes[d] }

// MetadataKey is the header key of the free-form string metadata.
const MetadataKey = "__metadata__"

// MaxHeaderSize is the longest header Decode accepts, in bytes: 100 MB, as
// the reference implementation.
const MaxHeaderSize = 100_000_000

// prefixSize is the length of the header-length prefix.
const prefixSize = 8

// Tensor is one named array.
type Tensor struct {
	// Name is the tensor's key in the header, such as "stem.0.weight".
	Name  string
	DType DType
	// Shape lists the dimensions; an empty Shape is a scalar of one
	// element.
	Shape []int
	// Data holds the values, little-endian and row-major: the product of
	// Shape times DType.Size() bytes.
	Data []byte
}

// Float32 returns a tensor of type F32 holding values.
func Float32(name string, shape []int, values []float32) Tensor {
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: F32, Shape: shape, Data: b}
}

// Int64 returns a tensor of type I64 holding values.
func Int64(name string, shape []int, values []int64) Tensor {
	b := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: I64, Shape: shape, Data: b}
}

// Float32s returns the values of an F32 tensor; any other type is an
// error naming the tensor.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.want(F32); err != nil {
		return nil, err
	}
	vs := make([]float32, len(t.Data)/4)
	for i := range vs {
		vs[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return vs, nil
}

// Int64s returns the values of an I64 tensor; any other type is an error
// naming the tensor.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.want(I64); err != nil {
		return nil, err
	}
	vs := make([]int64, len(t.Data)/8)
	for i := range vs {
		vs[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return vs, nil
}

func (t Tensor) want(d DType) error {
	if t.DType != d {
		return fmt.Errorf("safetensors: tensor %q is %s, want %s", t.Name, t.DType, d)
	}
	if n, ok := numel(t.Shape); !ok || n*d.Size() != len(t.Data) {
		return fmt.Errorf("safetensors: tensor %q of shape %v has %d bytes of data, want %d", t.Name, t.Shape, len(t.Data), n*d.Size())
	}
	return nil
}

// numel returns the number of elements of a shape, and false if a
// dimension is negative or the count overflows.
func numel(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 || d != 0 && n > math.MaxInt32/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// File is the contents of a safetensors file.
type File struct {
	// Metadata is the header's "__metadata__"; nil when it has none.
	Metadata map[string]string
	// Tensors are in the order of their data in the buffer.
	Tensors []Tensor
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Encode returns f in the safetensors format: the header lists the
// metadata first, then the tensors in the order of f.Tensors, whose data
// follow in the same order; the header is padded with spaces so that the
// data start at a multiple of 8 bytes. The names must be distinct, not
// empty and not "__metadata__", and each tensor's data must have the size
// its type and shape give.
func Encode(f *File) ([]byte, error) {
	var h bytes.Buffer
	h.WriteByte('{')
	if f.Metadata != nil {
		h.WriteString(strconv.Quote(MetadataKey))
		h.WriteByte(':')
		m, err := json.Marshal(f.Metadata) // keys sorted
		if err != nil {
			return nil, fmt.Errorf("safetensors: metadata: %w", err)
		}
		h.Write(m)
	}
	seen := make(map[string]bool, len(f.Tensors))
	offset := 0
	for i, t := range f.Tensors {
		switch {
		case t.Name == "" || t.Name == MetadataKey:
			return nil, fmt.Errorf("safetensors: tensor %d has the reserved name %q", i, t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("safetensors: two tensors are named %q", t.Name)
		case t.DType.Size() == 0:
			return nil, fmt.Errorf("safetensors: tensor %q has the unknown type %q", t.Name, t.DType)
		}
		seen[t.Name] = true
		n, ok := numel(t.Shape)
		if !ok || n*t.DType.Size() != len(t.Data) {
			return nil, fmt.Errorf("safetensors: tensor %q of shape %v has %d bytes of data, want %d", t.Name, t.Shape, len(t.Data), n*t.DType.Size())
		}
		if i > 0 || f.Metadata != nil {
			h.WriteByte(',')
		}
		name, err := json.Marshal(t.Name)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		entry, err := json.Marshal(header{DType: t.DType, Shape: shape, Offsets: [2]int64{int64(offset), int64(offset + len(t.Data))}})
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		h.Write(name)
		h.WriteByte(':')
		h.Write(entry)
		offset += len(t.Data)
	}
	h.WriteByte('}')
	for (prefixSize+h.Len())%8 != 0 {
		h.WriteByte(' ')
	}
	out := make([]byte, prefixSize, prefixSize+h.Len()+offset)
	binary.LittleEndian.PutUint64(out, uint64(h.Len()))
	out = append(out, h.Bytes()...)
	for _, t := range f.Tensors {
		out = append(out, t.Data...)
	}
	return out, nil
}

// header is one tensor's entry in the header.
type header struct {
	DType   DType    `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Write writes f to w in the safetensors format (see Encode).
func Write(w io.Writer, f *File) error {
	b, err := Encode(f)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// Read reads a whole safetensors file of at most maxSize bytes from r and
// decodes it (see Decode).
func Read(r io.Reader, maxSize int64) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if int64(len(b)) > maxSize {
		return nil, fmt.Errorf("safetensors: the file is larger than %d bytes", maxSize)
	}
	return Decode(b)
}

// Decode parses a safetensors file. The tensors' Data alias b. Every rule
// of the format is checked: the header is one JSON object with no
// duplicate key, each entry has a known dtype, a shape of non-negative
// dimensions and offsets that span exactly the bytes its type and shape
// need, and the tensors fill the buffer without gap or overlap.
func Decode(b []byte) (*File, error) {
	if len(b) < prefixSize {
		return nil, fmt.Errorf("safetensors: the file has %d bytes, too short for the %d-byte header length", len(b), prefixSize)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: the header length %d is over the limit of %d bytes: not a safetensors file", n, MaxHeaderSize)
	}
	if n > uint64(len(b)-prefixSize) {
		return nil, fmt.Errorf("safetensors: the header length %d runs past the end of the %d-byte file (truncated?)", n, len(b))
	}
	head, buf := b[prefixSize:prefixSize+int(n)], b[prefixSize+int(n):]
	if !utf8.Valid(head) {
		return nil, errors.New("safetensors: the header is not valid UTF-8")
	}
	if len(head) == 0 || head[0] != '{' {
		return nil, errors.New("safetensors: the header is not a JSON object")
	}
	entries, meta, err := parseHeader(head)
	if err != nil {
		return nil, err
	}
	f := &File{Metadata: meta}
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	for _, e := range entries {
		h := e.header
		size := h.DType.Size()
		if size == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q has the unknown dtype %q", e.name, h.DType)
		}
		if h.Shape == nil {
			return nil, fmt.Errorf("safetensors: tensor %q has no shape", e.name)
		}
		count, ok := numel(h.Shape)
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q has an invalid shape %v", e.name, h.Shape)
		}
		begin, end := h.Offsets[0], h.Offsets[1]
		if begin < 0 || end < begin || end > int64(len(buf)) {
			return nil, fmt.Errorf("safetensors: tensor %q has data offsets [%d, %d] outside the %d-byte buffer", e.name, begin, end, len(buf))
		}
		if want := int64(count) * int64(size); end-begin != want {
			return nil, fmt.Errorf("safetensors: tensor %q of dtype %s and shape %v spans %d bytes, want %d", e.name, h.DType, h.Shape, end-begin, want)
		}
		spans = append(spans, span{e.name, begin, end})
		f.Tensors = append(f.Tensors, Tensor{Name: e.name, DType: h.DType, Shape: h.Shape, Data: buf[begin:end:end]})
	}
	// Sort by offset (a stable sort keeps empty tensors in header order)
	// and check that the spans tile the buffer.
	order := make([]int, len(spans))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		return cmp.Or(cmp.Compare(spans[i].begin, spans[j].begin), cmp.Compare(spans[i].end, spans[j].end))
	})
	at := int64(0)
	tensors := make([]Tensor, len(order))
	for k, i := range order {
		s := spans[i]
		if s.begin != at {
			if s.begin < at {
				return nil, fmt.Errorf("safetensors: the data of tensor %q overlaps the tensor before it (bytes %d to %d)", s.name, s.begin, at)
			}
			return nil, fmt.Errorf("safetensors: bytes %d to %d of the buffer belong to no tensor", at, s.begin)
		}
		at = s.end
		tensors[k] = f.Tensors[i]
	}
	if at != int64(len(buf)) {
		return nil, fmt.Errorf("safetensors: bytes %d to %d of the buffer belong to no tensor", at, len(buf))
	}
	f.Tensors = tensors
	return f, nil
}

type entry struct {
	name   string
	header header
}

// parseHeader decodes the header object, refusing duplicate keys, unknown
// fields and anything but spaces after the object.
func parseHeader(head []byte) ([]entry, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(head))
	if _, err := dec.Token(); err != nil { // '{', checked by the caller
		return nil, nil, fmt.Errorf("safetensors: header: %w", err)
	}
	var entries []entry
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: header: %w", err)
		}
		key := tok.(string) // object keys are strings
		if seen[key] {
			return nil, nil, fmt.Errorf("safetensors: header: the key %q appears twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("safetensors: header: %q: %w", key, err)
		}
		if key == MetadataKey {
			if err := strictUnmarshal(raw, &meta); err != nil || meta == nil {
				return nil, nil, fmt.Errorf("safetensors: header: %q must be an object of strings", MetadataKey)
			}
			continue
		}
		if key == "" {
			return nil, nil, errors.New("safetensors: header: a tensor has an empty name")
		}
		var h struct {
			DType   *DType    `json:"dtype"`
			Shape   []int     `json:"shape"`
			Offsets *[2]int64 `json:"data_offsets"`
		}
		if err := strictUnmarshal(raw, &h); err != nil {
			return nil, nil, fmt.Errorf("safetensors: header: tensor %q: %w", key, err)
		}
		if h.DType == nil || h.Offsets == nil {
			return nil, nil, fmt.Errorf("safetensors: header: tensor %q needs dtype, shape and data_offsets", key)
		}
		entries = append(entries, entry{key, header{DType: *h.DType, Shape: h.Shape, Offsets: *h.Offsets}})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, fmt.Errorf("safetensors: header: %w", err)
	}
	rest := head[dec.InputOffset():]
	if len(bytes.Trim(rest, " ")) > 0 {
		return nil, nil, errors.New("safetensors: header: data after the JSON object")
	}
	return entries, meta, nil
}

// strictUnmarshal decodes raw into v, refusing unknown fields.
func strictUnmarshal(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
