package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/config"
)

// sampleFile returns a small valid file whose values exercise float bits:
// negative zero, subnormals, extremes.
func sampleFile() *File {
	r := rand.New(rand.NewPCG(1, 2))
	tensor := func(name string, shape ...int) Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(r.NormFloat64())
		}
		return Tensor{Name: name, Shape: shape, Data: data}
	}
	params := []Tensor{
		tensor("stem.conv.weight", 4, 3, 3, 3),
		tensor("stem.bn.weight", 4),
		tensor("stem.bn.bias", 4),
		tensor("fc.weight", 10, 4),
		tensor("fc.bias", 10),
		tensor("scale"),
	}
	params[0].Data[0] = float32(math.Copysign(0, -1))
	params[0].Data[1] = math.SmallestNonzeroFloat32
	params[0].Data[2] = math.MaxFloat32
	params[0].Data[3] = -math.MaxFloat32
	stats := []Tensor{tensor("stem.bn.running_mean", 4), tensor("stem.bn.running_var", 4)}
	clone := func(ts []Tensor) []Tensor {
		out := make([]Tensor, len(ts))
		for i, t := range ts {
			out[i] = Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
			for j := range out[i].Data {
				out[i].Data[j] *= 0.5
			}
		}
		return out
	}
	names := make([]string, len(params))
	mom := make([][]float32, len(params))
	for i, p := range params {
		names[i] = p.Name
		mom[i] = append([]float32(nil), p.Data...)
	}
	return &File{
		Version:    Version,
		Config:     config.Default(),
		Epoch:      3,
		Step:       3*383 + 17,
		Params:     params,
		Stats:      stats,
		BestParams: clone(params),
		BestStats:  clone(stats),
		BestValAcc: 0.4321,
		BestEpoch:  2,
		Optimizer: OptimizerState{
			Name:       "sgd",
			Step:       3*383 + 17,
			ParamNames: names,
			Slots:      map[string][][]float32{"velocity": mom},
		},
		Schedule: ScheduleState{Name: "onecycle", Step: 3*383 + 17},
		History: History{
			Loss:     []float64{2.1, 1.7, 1.0 / 3},
			ValLoss:  []float64{2.2, 1.8, 0.5},
			TrainAcc: []float64{0.2, 0.35, 0.5},
			ValAcc:   []float64{0.25, 0.4321, 0.42},
			LR:       []float64{0.004, 0.1, math.SmallestNonzeroFloat64},
			Seconds:  []float64{12.5, 12.25, math.MaxFloat64},
		},
		Partial: Partial{Batches: 17, LossSum: 17 * 0.93, Seconds: 0.5625},
		Seed:    -7,
		Amendments: []Amendment{
			{Epoch: 2, Step: 2 * 383, Path: "solver.epochs", Old: "2", New: "4"},
			{Epoch: 3, Step: 3 * 383, Path: "solver.num_val_samples", Old: "0", New: "1000"},
		},
	}
}

func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

// sameBits reports whether two tensor lists hold identical float bits.
func sameBits(a, b []Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].Data) != len(b[i].Data) {
			return false
		}
		for j := range a[i].Data {
			if math.Float32bits(a[i].Data[j]) != math.Float32bits(b[i].Data[j]) {
				return false
			}
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	want := sampleFile()
	got, err := Decode(bytes.NewReader(encode(t, want)))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\ngot  %+v\nwant %+v", got, want)
	}
	if !sameBits(got.Params, want.Params) || !sameBits(got.BestParams, want.BestParams) || !sameBits(got.Stats, want.Stats) {
		t.Error("round trip changed float bits")
	}
	if math.Float32bits(got.Params[0].Data[0]) != 1<<31 {
		t.Error("negative zero lost")
	}
}

func TestRoundTripEmpty(t *testing.T) {
	want := &File{Version: Version, Config: config.Default()}
	got, err := Decode(bytes.NewReader(encode(t, want)))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestEncodeVersionZero(t *testing.T) {
	f := sampleFile()
	f.Version = 0
	got, err := Decode(bytes.NewReader(encode(t, f)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != Version {
		t.Errorf("Version = %d, want %d", got.Version, Version)
	}
	// A file read from version 1 is written in the current version.
	f.Version = 1
	b := encode(t, f)
	if v := binary.BigEndian.Uint32(b[len(Magic):]); v != Version {
		t.Errorf("a version-1 file was written as version %d, want %d", v, Version)
	}
	for _, v := range []int{Version + 1, -1} {
		f.Version = v
		if err := Encode(&bytes.Buffer{}, f); err == nil {
			t.Errorf("Encode accepted version %d", v)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "last.ckpt")
	want := sampleFile()
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("Save/Load round trip differs")
	}
	// Saving again replaces the file.
	want.Epoch, want.History, want.Amendments = 0, History{}, nil
	want.BestEpoch = 0
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	if got, err = Load(path); err != nil || got.Epoch != 0 {
		t.Fatalf("after second Save: epoch %v, err %v", got, err)
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.ckpt")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load(missing) = %v", err)
	}
}

func TestTruncated(t *testing.T) {
	b := encode(t, sampleFile())
	for _, n := range []int{0, 1, len(Magic) - 1, len(Magic), headerSize - 1, headerSize, headerSize + 1, headerSize + 10, len(b) / 3, len(b) / 2, len(b) - 5, len(b) - 1} {
		if _, err := Decode(bytes.NewReader(b[:n])); err == nil {
			t.Errorf("Decode of %d of %d bytes succeeded", n, len(b))
		}
	}
	path := filepath.Join(t.TempDir(), "cut.ckpt")
	if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(truncated) = %v, want an error naming %s", err, path)
	}
}

func TestTrailingData(t *testing.T) {
	b := append(encode(t, sampleFile()), 0xc0)
	if _, err := Decode(bytes.NewReader(b)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "size mismatch") {
		t.Errorf("Decode with trailing data = %v", err)
	}
	b = append(encodeV1(t, sampleFile()), 0xc0)
	if _, err := Decode(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("Decode of version 1 with trailing data = %v", err)
	}
}

func TestGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200; i++ {
		b := make([]byte, r.IntN(2000))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if i%2 == 0 && len(b) >= headerSize {
			// Valid header, garbage body.
			copy(b, Magic)
			binary.BigEndian.PutUint32(b[len(Magic):], uint32(1+i%4/2))
		}
		if _, err := Decode(bytes.NewReader(b)); err == nil {
			t.Errorf("Decode of %d random bytes succeeded", len(b))
		}
	}
}

func TestCorruptBody(t *testing.T) {
	// Flip every byte of a small valid version-1 file, which has no
	// checksum, in turn: Decode must not panic, and whatever it accepts
	// must be valid.
	f := sampleFile()
	f.Params = f.Params[4:]
	f.BestParams = f.BestParams[4:]
	f.Optimizer.ParamNames = f.Optimizer.ParamNames[4:]
	f.Optimizer.Slots["velocity"] = f.Optimizer.Slots["velocity"][4:]
	b := encodeV1(t, f)
	c := make([]byte, len(b))
	for i := range b {
		for _, x := range []byte{0xff, 0x01, 0x80} {
			copy(c, b)
			c[i] ^= x
			if g, err := Decode(bytes.NewReader(c)); err == nil {
				if err := g.validate(); err != nil {
					t.Fatalf("Decode accepted an invalid file: %v", err)
				}
			}
		}
	}
}

func TestHugeLengths(t *testing.T) {
	// A declared array of 2^32-1 elements must be rejected before the
	// decoder allocates it.
	body := []byte{0x81, 0xa6, 'p', 'a', 'r', 'a', 'm', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}
	b := append([]byte(Magic+"\x00\x00\x00\x01"), body...)
	if _, err := Decode(bytes.NewReader(b)); err == nil {
		t.Error("Decode accepted a huge array")
	}
	// Deep nesting.
	deep := append([]byte(Magic+"\x00\x00\x00\x01"), bytes.Repeat([]byte{0x91}, 10000)...)
	deep = append(deep, 0xc0)
	if _, err := Decode(bytes.NewReader(deep)); err == nil {
		t.Error("Decode accepted deep nesting")
	}
}

func TestWrongMagic(t *testing.T) {
	b := encode(t, sampleFile())
	b[0] = 'P'
	_, err := Decode(bytes.NewReader(b))
	if err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("Decode with wrong magic = %v", err)
	}
	if _, err := Decode(strings.NewReader("version: 1\nepoch: 3\n")); err == nil {
		t.Error("Decode accepted YAML")
	}
}

func TestWrongVersion(t *testing.T) {
	b := encode(t, sampleFile())
	binary.BigEndian.PutUint32(b[len(Magic):], 7)
	_, err := Decode(bytes.NewReader(b))
	if err == nil {
		t.Fatal("Decode accepted version 7")
	}
	if msg := err.Error(); !strings.Contains(msg, "version 7") || !strings.Contains(msg, "versions 1 and 2") {
		t.Errorf("error %q does not name the version read and those supported", msg)
	}
}

func TestUnknownField(t *testing.T) {
	// A body with an extra key is not this format.
	b := []byte(Magic + "\x00\x00\x00\x01")
	b = append(b, 0x81, 0xa3, 'f', 'o', 'o', 0x01)
	if _, err := Decode(bytes.NewReader(b)); err == nil {
		t.Error("Decode accepted an unknown field")
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *File)
		want   string
	}{
		{"data length", func(f *File) { f.Params[1].Data = f.Params[1].Data[:3] }, `"stem.bn.weight" has shape [4] but 3 values`},
		{"zero dim", func(f *File) { f.Stats[0].Shape = []int{0, 4} }, "dimensions must be positive"},
		{"too much data", func(f *File) { f.Params[1].Data = append(f.Params[1].Data, 1) }, "has shape [4] but 5 values"},
		{"negative dim", func(f *File) { f.Stats[0].Shape = []int{-1, -4} }, "dimensions must be positive"},
		{"overflowing shape", func(f *File) { f.Params[5].Shape = []int{1 << 40, 1 << 40, 1 << 40} }, "but 1 values"},
		{"empty name", func(f *File) { f.Stats[1].Name = "" }, "empty name"},
		{"duplicate name", func(f *File) { f.Stats[1].Name = f.Stats[0].Name }, "duplicate"},
		{"NaN", func(f *File) { f.Params[2].Data[1] = float32(math.NaN()) }, "NaN"},
		{"Inf", func(f *File) { f.BestParams[2].Data[1] = float32(math.Inf(-1)) }, "-Inf"},
		{"history length", func(f *File) { f.History.LR = f.History.LR[:2] }, "lr has 2 entries for 3 epochs"},
		{"epoch", func(f *File) { f.Epoch = 4 }, "entries for 4 epochs"},
		{"negative epoch", func(f *File) { f.Epoch = -1 }, "negative epoch"},
		{"best epoch", func(f *File) { f.BestEpoch = 4 }, "best_epoch"},
		{"best shapes", func(f *File) { f.BestParams = f.BestParams[:2] }, "best_params"},
		{"slot count", func(f *File) { f.Optimizer.Slots["v"] = [][]float32{{1}} }, `slot "v" has 1 arrays for 6 parameters`},
		{"slot size", func(f *File) { f.Optimizer.Slots["velocity"][3] = nil }, "has 0 values, want 40"},
		{"slot NaN", func(f *File) { f.Optimizer.Slots["velocity"][0][0] = float32(math.NaN()) }, "NaN"},
		{"unknown param", func(f *File) { f.Optimizer.ParamNames[0] = "nope" }, `"nope" is not in params`},
		{"duplicate param", func(f *File) { f.Optimizer.ParamNames[0] = f.Optimizer.ParamNames[1] }, "duplicate parameter"},
		{"config std", func(f *File) { f.Config.Data.Normalize.Std[1] = 0 },
			"the configuration stored in the checkpoint is invalid: config: data.normalize.std[1]: must be > 0, got 0"},
		{"zero config", func(f *File) { f.Config = config.Config{} }, "the configuration stored in the checkpoint is invalid: config: "},
		{"amendment path", func(f *File) { f.Amendments[1].Path = "" }, "amendment 1 has an empty path"},
		{"amendment epoch", func(f *File) { f.Amendments[0].Epoch = 4 }, "amendment 0 (solver.epochs): epoch 4 out of range [0, 3]"},
		{"negative amendment epoch", func(f *File) { f.Amendments[0].Epoch = -1 }, "epoch -1 out of range [0, 3]"},
		{"amendment step", func(f *File) { f.Amendments[1].Step = 3*383 + 18 }, "amendment 1 (solver.num_val_samples): step 1167 out of range [0, 1166]"},
		{"negative amendment step", func(f *File) { f.Amendments[0].Step = -1 }, "step -1 out of range [0, 1166]"},
		{"partial", func(f *File) { f.Partial.Batches = -1 }, "invalid partial epoch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sampleFile()
			tt.mutate(f)
			err := Encode(&bytes.Buffer{}, f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode = %v, want error containing %q", err, tt.want)
			}
			// Decode rejects the same file written without validation,
			// with a valid checksum or in version 1.
			var buf bytes.Buffer
			if err := rawEncode(&buf, f); err != nil {
				t.Fatal(err)
			}
			for _, b := range [][]byte{seal(buf.Bytes()), append([]byte(Magic+"\x00\x00\x00\x01"), buf.Bytes()...)} {
				_, err = Decode(bytes.NewReader(b))
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Decode = %v, want error containing %q", err, tt.want)
				}
			}
		})
	}
}

func TestSaveFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "last.ckpt")
	good := sampleFile()
	if err := Save(path, good); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := sampleFile()
	bad.Params[0].Data = bad.Params[0].Data[:5]
	if err := Save(path, bad); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Save(invalid) = %v, want an error naming %s", err, path)
	}
	// A failing writer: the temporary file is created, then removed.
	err = WriteFileAtomic(path, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return os.ErrInvalid
	})
	if err == nil {
		t.Error("WriteFileAtomic ignored the writer's error")
	}
	if os.Geteuid() != 0 {
		// An unwritable directory.
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		if err := Save(path, good); err == nil {
			t.Error("Save into a read-only directory succeeded")
		}
		os.Chmod(dir, 0o755)
	}
	now, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(now, old) {
		t.Error("failed Save changed the previous file")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only last.ckpt", names)
	}
}

func TestSaveMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "x.ckpt")
	if err := Save(path, sampleFile()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Save into a missing directory = %v", err)
	}
}

func TestMatchShapes(t *testing.T) {
	a := sampleFile().Params
	if err := MatchShapes(a, sampleFile().Params); err != nil {
		t.Errorf("MatchShapes(same) = %v", err)
	}
	b := sampleFile().Params
	b[3].Shape = []int{10, 8}
	err := MatchShapes(a, b)
	want := `checkpoint: tensor 3: want "fc.weight" with shape [10 4], got "fc.weight" with shape [10 8]`
	if err == nil || err.Error() != want {
		t.Errorf("MatchShapes = %v\nwant %s", err, want)
	}
	b = sampleFile().Params
	b[1].Name = "stem.bn.gamma"
	if err := MatchShapes(a, b); err == nil || !strings.Contains(err.Error(), `got "stem.bn.gamma"`) {
		t.Errorf("MatchShapes(renamed) = %v", err)
	}
	if err := MatchShapes(a, a[:4]); err == nil || !strings.Contains(err.Error(), `missing "fc.bias" with shape [10]`) {
		t.Errorf("MatchShapes(short) = %v", err)
	}
	if err := MatchShapes(a[:4], a); err == nil || !strings.Contains(err.Error(), `unexpected "fc.bias"`) {
		t.Errorf("MatchShapes(long) = %v", err)
	}
}

func TestDeterministic(t *testing.T) {
	f := sampleFile()
	mom := f.Optimizer.Slots["velocity"]
	for _, k := range []string{"m", "v", "a", "z", "q", "b"} {
		f.Optimizer.Slots[k] = mom
	}
	want := encode(t, f)
	for i := 0; i < 20; i++ {
		if got := encode(t, f); !bytes.Equal(got, want) {
			t.Fatal("encoding the same file twice gave different bytes")
		}
	}
	g, err := Decode(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, f) {
		t.Error("round trip with several slots differs")
	}
}

func TestHistoryBest(t *testing.T) {
	for _, tc := range []struct {
		valAcc   []float64
		improved []bool
		best     int
	}{
		{nil, []bool{}, 0},
		{[]float64{0.3}, []bool{true}, 1},
		{[]float64{0.3, 0.5, 0.5, 0.4, 0.6, 0.6}, []bool{true, true, false, false, true, false}, 5},
		{[]float64{0.3, 0.2, 0.1}, []bool{true, false, false}, 1},
		{[]float64{0, 0, 0.1}, []bool{true, false, true}, 3},
	} {
		h := History{ValAcc: tc.valAcc}
		if got := h.Improved(); !reflect.DeepEqual(got, tc.improved) {
			t.Errorf("Improved(%v) = %v, want %v", tc.valAcc, got, tc.improved)
		}
		if got := h.Best(); got != tc.best {
			t.Errorf("Best(%v) = %d, want %d", tc.valAcc, got, tc.best)
		}
	}
}

func TestWriteBytesAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.txt")
	for _, data := range []string{"first version\n", "second\n"} {
		if err := WriteBytesAtomic(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != data {
			t.Fatalf("after writing %q: read %q, %v", data, got, err)
		}
	}
	if err := WriteBytesAtomic(filepath.Join(path, "below a file"), nil); err == nil {
		t.Error("writing below a regular file succeeded")
	}
}
