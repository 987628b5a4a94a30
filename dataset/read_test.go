package dataset

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// genRecords returns n records in the binary layout, with label i%10 for
// record i and pseudo-random pixels, and the Set they should decode to.
func genRecords(n int, seed uint64) ([]byte, *Set) {
	rng := rand.New(rand.NewPCG(seed, 1))
	raw := make([]byte, n*RecordSize)
	want := &Set{Pixels: make([]byte, n*ImageSize), Labels: make([]uint8, n)}
	for i := range n {
		rec := raw[i*RecordSize : (i+1)*RecordSize]
		rec[0] = uint8(i % NumClasses)
		for j := 1; j < RecordSize; j++ {
			rec[j] = uint8(rng.Uint32())
		}
		want.Labels[i] = rec[0]
		copy(want.Pixels[i*ImageSize:], rec[1:])
	}
	return raw, want
}

type file struct {
	name string
	data []byte
}

// trainFiles returns the five training files, of 3, 4, 5, 6 and 7 records,
// and the Set that LoadTrain should return for them.
func trainFiles() ([]file, *Set) {
	var files []file
	want := &Set{}
	for i, name := range TrainFiles {
		raw, s := genRecords(3+i, uint64(i+1))
		files = append(files, file{name, raw})
		want.Pixels = append(want.Pixels, s.Pixels...)
		want.Labels = append(want.Labels, s.Labels...)
	}
	return files, want
}

func writeFiles(t *testing.T, dir string, files []file) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tarGz returns a .tar.gz archive holding files under prefix (for example
// "cifar-10-batches-bin/"), preceded by a directory entry when prefix is
// not empty.
func tarGz(t testing.TB, prefix string, files []file) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if prefix != "" {
		if err := tw.WriteHeader(&tar.Header{Name: prefix, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		hdr := &tar.Header{Name: prefix + f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.data))}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeArchive(t *testing.T, name string, files []file) {
	t.Helper()
	if err := os.WriteFile(name, tarGz(t, BatchesDir+"/", files), 0o644); err != nil {
		t.Fatal(err)
	}
}

func equalSet(t *testing.T, got, want *Set) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Fatalf("Len() = %d, want %d", got.Len(), want.Len())
	}
	if !bytes.Equal(got.Labels, want.Labels) {
		t.Fatalf("Labels = %v, want %v", got.Labels, want.Labels)
	}
	if !bytes.Equal(got.Pixels, want.Pixels) {
		for i := range got.Pixels {
			if got.Pixels[i] != want.Pixels[i] {
				t.Fatalf("Pixels[%d] = %d, want %d", i, got.Pixels[i], want.Pixels[i])
			}
		}
	}
}

func TestConstants(t *testing.T) {
	if ImageSize != 3072 || RecordSize != 3073 {
		t.Fatalf("ImageSize, RecordSize = %d, %d, want 3072, 3073", ImageSize, RecordSize)
	}
	if ClassNames[0] != "airplane" || ClassNames[9] != "truck" {
		t.Fatalf("ClassNames = %q", ClassNames)
	}
}

// TestPixelOrder checks that channel c, row y, column x of a record lands
// at Pixels[k*ImageSize + c*1024 + y*32 + x].
func TestPixelOrder(t *testing.T) {
	const n = 4
	raw := make([]byte, n*RecordSize)
	for k := range n {
		rec := raw[k*RecordSize:]
		rec[0] = uint8(9 - k)
		for c := range Channels {
			for y := range Height {
				for x := range Width {
					// A value that identifies (k, c, y, x) up to overflow.
					rec[1+c*1024+y*32+x] = uint8(k*7 + c*61 + y*3 + x*5)
				}
			}
		}
	}
	// A distinctive byte at c=1, y=2, x=3 of record 2.
	raw[2*RecordSize+1+1*1024+2*32+3] = 0xAB
	dir := t.TempDir()
	writeFiles(t, dir, []file{{TestFile, raw}})
	s, err := LoadTest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != n || len(s.Pixels) != n*ImageSize {
		t.Fatalf("Len() = %d, len(Pixels) = %d", s.Len(), len(s.Pixels))
	}
	if got := s.Pixels[2*3072+1*1024+2*32+3]; got != 0xAB {
		t.Fatalf("Pixels[2*3072+1*1024+2*32+3] = %#x, want 0xab", got)
	}
	for k := range n {
		if s.Labels[k] != uint8(9-k) {
			t.Errorf("Labels[%d] = %d, want %d", k, s.Labels[k], 9-k)
		}
		for c := range Channels {
			for y := range Height {
				for x := range Width {
					want := uint8(k*7 + c*61 + y*3 + x*5)
					if k == 2 && c == 1 && y == 2 && x == 3 {
						want = 0xAB
					}
					if got := s.Image(k)[c*1024+y*32+x]; got != want {
						t.Fatalf("image %d (c=%d, y=%d, x=%d) = %d, want %d", k, c, y, x, got, want)
					}
				}
			}
		}
	}
}

func TestLoadPathKinds(t *testing.T) {
	files, want := trainFiles()
	testRaw, testWant := genRecords(5, 99)
	all := append(files[:len(files):len(files)], file{TestFile, testRaw})

	t.Run("batches dir", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, filepath.Join(dir, BatchesDir), all)
		checkLoad(t, dir, want, testWant)
	})
	t.Run("flat dir", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, all)
		checkLoad(t, dir, want, testWant)
	})
	t.Run("archive", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "any-name.tar.gz")
		writeArchive(t, name, all)
		checkLoad(t, name, want, testWant)
	})
	t.Run("archive in dir", func(t *testing.T) {
		dir := t.TempDir()
		writeArchive(t, filepath.Join(dir, ArchiveName), all)
		checkLoad(t, dir, want, testWant)
	})
	t.Run("archive without dir entries", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "flat.tar.gz")
		if err := os.WriteFile(name, tarGz(t, "", all), 0o644); err != nil {
			t.Fatal(err)
		}
		checkLoad(t, name, want, testWant)
	})
	t.Run("archive out of order", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "shuffled.tar.gz")
		shuffled := []file{all[5], all[2], all[0], all[4], all[1], all[3]}
		writeArchive(t, name, shuffled)
		checkLoad(t, name, want, testWant)
	})
}

func checkLoad(t *testing.T, path string, wantTrain, wantTest *Set) {
	t.Helper()
	s, err := LoadTrain(path)
	if err != nil {
		t.Fatal(err)
	}
	equalSet(t, s, wantTrain)
	s, err = LoadTest(path)
	if err != nil {
		t.Fatal(err)
	}
	equalSet(t, s, wantTest)
	// The same file twice, and files out of order.
	s, err = LoadFiles(path, TestFile, TrainFiles[1], TestFile)
	if err != nil {
		t.Fatal(err)
	}
	n1 := wantTrain.Len()
	_ = n1
	second := &Set{Pixels: wantTrain.Pixels[3*ImageSize : 7*ImageSize], Labels: wantTrain.Labels[3:7]}
	combined := &Set{}
	for _, part := range []*Set{wantTest, second, wantTest} {
		combined.Pixels = append(combined.Pixels, part.Pixels...)
		combined.Labels = append(combined.Labels, part.Labels...)
	}
	equalSet(t, s, combined)
}

// TestPreferBatchesDir checks that cifar-10-batches-bin/ wins over files
// lying next to it.
func TestPreferBatchesDir(t *testing.T) {
	dir := t.TempDir()
	a, wantA := genRecords(2, 1)
	b, _ := genRecords(3, 2)
	writeFiles(t, filepath.Join(dir, BatchesDir), []file{{TestFile, a}})
	writeFiles(t, dir, []file{{TestFile, b}})
	s, err := LoadTest(dir)
	if err != nil {
		t.Fatal(err)
	}
	equalSet(t, s, wantA)
}

func TestLoadErrors(t *testing.T) {
	files, _ := trainFiles()
	badLabel := bytes.Clone(files[2].data)
	badLabel[2*RecordSize] = 12
	validArchive := tarGz(t, BatchesDir+"/", files)

	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) string // returns the path to load
		load     func(string) (*Set, error)
		contains []string
		excludes []string
		notExist bool
	}{
		{
			name:     "missing dir",
			setup:    func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") },
			load:     LoadTrain,
			contains: []string{"nope: no such file or directory; put " + ArchiveName + " or cifar-10-batches-bin/ in "},
			excludes: []string{"data.download"}, // would not help: the data would be taken as present
			notExist: true,
		},
		{
			name:     "empty dir",
			setup:    func(t *testing.T, dir string) string { return dir },
			load:     LoadTrain,
			contains: []string{filepath.Join(BatchesDir, "data_batch_1.bin"), "put " + ArchiveName},
			excludes: []string{"data.download"},
			notExist: true,
		},
		{
			name: "missing archive",
			setup: func(t *testing.T, dir string) string {
				writeArchive(t, filepath.Join(dir, ArchiveName), files)
				return filepath.Join(dir, "cifar-10-binery.tar.gz")
			},
			load:     LoadTrain,
			contains: []string{"cifar-10-binery.tar.gz: no such file (did you mean " + filepath.Join(dir0(), ArchiveName) + "?)"},
			excludes: []string{"put "},
			notExist: true,
		},
		{
			name: "missing file in batches dir",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, filepath.Join(dir, BatchesDir), files[:4])
				return dir
			},
			load:     LoadTrain,
			contains: []string{filepath.Join(dir0(), BatchesDir, "data_batch_5.bin"), "file not found"},
			notExist: true,
		},
		{
			name: "missing file in flat dir",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, []file{files[0], files[1], files[3]})
				return dir
			},
			load:     LoadTrain,
			contains: []string{"data_batch_3.bin", "file not found"},
			notExist: true,
		},
		{
			name: "missing test file",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, filepath.Join(dir, BatchesDir), files)
				return dir
			},
			load:     LoadTest,
			contains: []string{TestFile, "file not found"},
			notExist: true,
		},
		{
			name: "size not a multiple",
			setup: func(t *testing.T, dir string) string {
				bad := append([]file{}, files...)
				bad[3] = file{bad[3].name, bad[3].data[:len(bad[3].data)-100]}
				writeFiles(t, dir, bad)
				return dir
			},
			load:     LoadTrain,
			contains: []string{"data_batch_4.bin", "not a multiple of the record size 3073"},
		},
		{
			name: "empty file",
			setup: func(t *testing.T, dir string) string {
				writeFiles(t, dir, []file{{TestFile, nil}})
				return dir
			},
			load:     LoadTest,
			contains: []string{TestFile, "empty"},
		},
		{
			name: "label out of range",
			setup: func(t *testing.T, dir string) string {
				bad := append([]file{}, files...)
				bad[2] = file{bad[2].name, badLabel}
				writeFiles(t, dir, bad)
				return dir
			},
			load:     LoadTrain,
			contains: []string{"data_batch_3.bin", "record 2", "label 12"},
		},
		{
			name: "label out of range in archive",
			setup: func(t *testing.T, dir string) string {
				bad := append([]file{}, files...)
				bad[2] = file{bad[2].name, badLabel}
				name := filepath.Join(dir, "bad.tar.gz")
				writeArchive(t, name, bad)
				return name
			},
			load:     LoadTrain,
			contains: []string{"bad.tar.gz", "data_batch_3.bin", "record 2", "label 12"},
		},
		{
			name: "size not a multiple in archive",
			setup: func(t *testing.T, dir string) string {
				bad := append([]file{}, files...)
				bad[4] = file{bad[4].name, append(bytes.Clone(bad[4].data), 1, 2, 3)}
				name := filepath.Join(dir, "bad.tar.gz")
				writeArchive(t, name, bad)
				return name
			},
			load:     LoadTrain,
			contains: []string{"bad.tar.gz", "data_batch_5.bin", "not a multiple"},
		},
		{
			name: "truncated archive",
			setup: func(t *testing.T, dir string) string {
				name := filepath.Join(dir, "cut.tar.gz")
				if err := os.WriteFile(name, validArchive[:len(validArchive)/2], 0o644); err != nil {
					t.Fatal(err)
				}
				return name
			},
			load:     LoadTrain,
			contains: []string{"cut.tar.gz", "truncated or corrupt archive"},
		},
		{
			name: "truncated archive in dir",
			setup: func(t *testing.T, dir string) string {
				name := filepath.Join(dir, ArchiveName)
				if err := os.WriteFile(name, validArchive[:len(validArchive)/2], 0o644); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			load:     LoadTrain,
			contains: []string{ArchiveName, "truncated or corrupt archive"},
		},
		{
			name: "missing entry",
			setup: func(t *testing.T, dir string) string {
				name := filepath.Join(dir, "train-only.tar.gz")
				if err := os.WriteFile(name, validArchive, 0o644); err != nil {
					t.Fatal(err)
				}
				return name
			},
			load:     LoadTest,
			contains: []string{"train-only.tar.gz", "no entry cifar-10-batches-bin/test_batch.bin"},
			notExist: true,
		},
		{
			name: "entry in wrong directory",
			setup: func(t *testing.T, dir string) string {
				name := filepath.Join(dir, "other.tar.gz")
				if err := os.WriteFile(name, tarGz(t, "other/", files), 0o644); err != nil {
					t.Fatal(err)
				}
				return name
			},
			load:     LoadTrain,
			contains: []string{"other.tar.gz", "no entry cifar-10-batches-bin/data_batch_1.bin"},
			notExist: true,
		},
		{
			name: "not gzip",
			setup: func(t *testing.T, dir string) string {
				name := filepath.Join(dir, "plain.bin")
				if err := os.WriteFile(name, files[0].data, 0o644); err != nil {
					t.Fatal(err)
				}
				return name
			},
			load:     LoadTrain,
			contains: []string{"plain.bin", "not a valid .tar.gz archive"},
		},
		{
			name: "gzip but not tar",
			setup: func(t *testing.T, dir string) string {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				zw.Write(bytes.Repeat([]byte("not a tar file "), 100))
				zw.Close()
				name := filepath.Join(dir, "gz.tar.gz")
				if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return name
			},
			load:     LoadTrain,
			contains: []string{"gz.tar.gz", "truncated or corrupt archive"},
		},
		{
			name:     "bad name",
			setup:    func(t *testing.T, dir string) string { return dir },
			load:     func(p string) (*Set, error) { return LoadFiles(p, "../x.bin") },
			contains: []string{`"../x.bin"`},
		},
		{
			name:     "no names",
			setup:    func(t *testing.T, dir string) string { return dir },
			load:     func(p string) (*Set, error) { return LoadFiles(p) },
			contains: []string{"no file names"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.setup(t, dir)
			s, err := tt.load(path)
			if err == nil {
				t.Fatalf("got %d images, want error", s.Len())
			}
			if s != nil {
				t.Errorf("got non-nil Set with error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "dataset: ") {
				t.Errorf("error %q lacks the dataset: prefix", msg)
			}
			for _, want := range tt.contains {
				want = strings.ReplaceAll(want, dir0(), dir)
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			for _, bad := range tt.excludes {
				if strings.Contains(msg, bad) {
					t.Errorf("error %q contains %q", msg, bad)
				}
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.notExist)
			}
		})
	}
}

// dir0 is a placeholder for the test's temporary directory in expected
// error messages.
func dir0() string { return "\x00DIR\x00" }

// TestTruncatedArchives cuts an archive at many points: loading must
// return an error that names the archive, and must never panic.
func TestTruncatedArchives(t *testing.T) {
	files, want := trainFiles()
	data := tarGz(t, BatchesDir+"/", files)
	name := filepath.Join(t.TempDir(), "cut.tar.gz")
	step := max(1, len(data)/300)
	for cut := 0; cut < len(data); cut += step {
		if err := os.WriteFile(name, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := LoadTrain(name)
		if err == nil {
			t.Fatalf("cut at %d of %d: got %d images, want error", cut, len(data), s.Len())
		}
		if !strings.Contains(err.Error(), "cut.tar.gz") {
			t.Fatalf("cut at %d: error %q does not name the archive", cut, err)
		}
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadTrain(name)
	if err != nil {
		t.Fatal(err)
	}
	equalSet(t, s, want)
}

// TestCorruptArchive flips bytes inside the compressed stream.
func TestCorruptArchive(t *testing.T) {
	files, want := trainFiles()
	data := tarGz(t, BatchesDir+"/", files)
	name := filepath.Join(t.TempDir(), "corrupt.tar.gz")
	rng := rand.New(rand.NewPCG(7, 7))
	for range 100 {
		bad := bytes.Clone(data)
		bad[rng.IntN(len(bad))] ^= uint8(1 + rng.IntN(255))
		if err := os.WriteFile(name, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := LoadTrain(name)
		if err != nil {
			if !strings.Contains(err.Error(), "corrupt.tar.gz") {
				t.Fatalf("error %q does not name the archive", err)
			}
			continue
		}
		// A flip in a part that is not checked (the gzip header's
		// timestamp, the trailer, the tar padding) may go unnoticed, but
		// then the images must be intact.
		equalSet(t, s, want)
	}
}

func TestSubset(t *testing.T) {
	_, s := genRecords(10, 3)
	sub := s.Subset([]int{7, 2, 7})
	if sub.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", sub.Len())
	}
	for j, i := range []int{7, 2, 7} {
		if sub.Labels[j] != s.Labels[i] || !bytes.Equal(sub.Image(j), s.Image(i)) {
			t.Errorf("image %d of subset differs from image %d", j, i)
		}
	}
	sub.Pixels[0]++
	if sub.Pixels[0] == s.Pixels[7*ImageSize] {
		t.Error("Subset shares memory with the original")
	}
	if empty := s.Subset(nil); empty.Len() != 0 || len(empty.Pixels) != 0 {
		t.Errorf("Subset(nil) has %d images", empty.Len())
	}
}

// idSet returns n images whose first two pixel bytes hold the image index.
func idSet(n int) *Set {
	s := &Set{Pixels: make([]byte, n*ImageSize), Labels: make([]uint8, n)}
	for i := range n {
		s.Pixels[i*ImageSize] = uint8(i)
		s.Pixels[i*ImageSize+1] = uint8(i >> 8)
		s.Labels[i] = uint8(i % NumClasses)
	}
	return s
}

func ids(s *Set) []int {
	out := make([]int, s.Len())
	for i := range out {
		out[i] = int(s.Pixels[i*ImageSize]) | int(s.Pixels[i*ImageSize+1])<<8
		if int(s.Labels[i]) != out[i]%NumClasses {
			panic("label does not match image")
		}
	}
	return out
}

func TestSplit(t *testing.T) {
	const n, nval = 1000, 150
	s := idSet(n)
	train, val, err := s.Split(nval, 42)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != n-nval || val.Len() != nval {
		t.Fatalf("sizes %d, %d, want %d, %d", train.Len(), val.Len(), n-nval, nval)
	}
	seen := make([]int, n)
	for _, id := range append(ids(train), ids(val)...) {
		seen[id]++
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("image %d appears %d times", id, k)
		}
	}
	// Shuffled, not a prefix.
	inOrder := true
	for i, id := range ids(val) {
		if id != i {
			inOrder = false
		}
	}
	if inOrder {
		t.Error("validation set is the first images in order")
	}

	train2, val2, _ := s.Split(nval, 42)
	if !slices.Equal(ids(train), ids(train2)) || !slices.Equal(ids(val), ids(val2)) {
		t.Error("Split is not deterministic for a seed")
	}
	_, val3, _ := s.Split(nval, 43)
	if slices.Equal(ids(val), ids(val3)) {
		t.Error("Split gives the same validation set for seeds 42 and 43")
	}

	train0, val0, err := s.Split(0, 1)
	if err != nil || train0.Len() != n || val0.Len() != 0 {
		t.Errorf("Split(0) = %d, %d, %v", train0.Len(), val0.Len(), err)
	}
	for _, bad := range []int{-1, n, n + 1} {
		if _, _, err := s.Split(bad, 1); err == nil {
			t.Errorf("Split(%d) on %d images: no error", bad, n)
		}
	}
}

// archivePath returns the real training archive, or "" if it is absent.
func archivePath() string {
	if p := os.Getenv("CIFAR10_ARCHIVE"); p != "" {
		return p
	}
	for _, p := range []string{
		"../../shared/cifar10/cifar-10-binary-train.tar.gz",
		"../shared/cifar10/cifar-10-binary-train.tar.gz",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// TestRealArchive checks the real training archive. It runs only when
// CIFAR10_ARCHIVE is set, to keep the tests fast and self-contained.
func TestRealArchive(t *testing.T) {
	path := os.Getenv("CIFAR10_ARCHIVE")
	if path == "" {
		t.Skip("CIFAR10_ARCHIVE not set")
	}
	s, err := LoadTrain(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 50000 || len(s.Pixels) != 50000*ImageSize {
		t.Fatalf("Len() = %d, len(Pixels) = %d", s.Len(), len(s.Pixels))
	}
	var counts [NumClasses]int
	for _, l := range s.Labels {
		counts[l]++
	}
	for c, k := range counts {
		if k != 5000 {
			t.Errorf("class %d (%s): %d images, want 5000", c, ClassNames[c], k)
		}
	}
}

// BenchmarkLoadTrainArchive loads the 50,000 training images from the real
// archive, found in ../../shared/cifar10 or named by CIFAR10_ARCHIVE.
func BenchmarkLoadTrainArchive(b *testing.B) {
	path := archivePath()
	if path == "" {
		b.Skip("training archive not found; set CIFAR10_ARCHIVE")
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		s, err := LoadTrain(path)
		if err != nil {
			b.Fatal(err)
		}
		if s.Len() != 50000 {
			b.Fatalf("Len() = %d, want 50000", s.Len())
		}
	}
}
