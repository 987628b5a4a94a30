package dataset

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// maxEntrySize bounds the size of one .bin file. It protects against
// corrupt archive headers that announce absurd sizes.
const maxEntrySize = 1 << 32

// chunkRecords is the number of records read from a file in one call.
const chunkRecords = 1024

// LoadTrain reads the training set, the records of data_batch_1.bin through
// data_batch_5.bin in that order, from path. See [LoadFiles] for the forms
// path may take.
func LoadTrain(path string) (*Set, error) {
	return LoadFiles(path, TrainFiles[:]...)
}

// LoadTest reads the test set, the records of test_batch.bin, from path.
// See [LoadFiles] for the forms path may take.
func LoadTest(path string) (*Set, error) {
	return LoadFiles(path, TestFile)
}

// LoadFiles reads the named files of the binary distribution, such as
// "data_batch_1.bin", and returns their records concatenated in the order
// of names.
//
// path may name
//
//   - a directory that contains cifar-10-batches-bin/, which holds the files;
//   - a directory that holds the files itself;
//   - a gzip-compressed tar archive such as cifar-10-binary.tar.gz. It is
//     read as a stream, without unpacking it to disk. An entry matches a name
//     when its base name equals the name and it lies in a directory named
//     cifar-10-batches-bin or at the top of the archive.
//
// If a directory holds the files in neither of the two places but contains
// cifar-10-binary.tar.gz, the files are read from that archive.
//
// LoadFiles returns an error that names the offending file if a file is
// missing, if its size is not a multiple of [RecordSize], if a record has a
// label above 9, or if the archive is truncated or corrupt. Errors for
// missing files wrap [fs.ErrNotExist].
func LoadFiles(path string, names ...string) (*Set, error) {
	if len(names) == 0 {
		return nil, errors.New("dataset: no file names given")
	}
	for _, name := range names {
		if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
			return nil, fmt.Errorf("dataset: invalid file name %q: want a base name such as %q", name, TrainFiles[0])
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if namesFile(path) {
				return nil, notFound("dataset: %s: no such file%s", path, didYouMean(path))
			}
			return nil, notFound("dataset: %s: no such file or directory; %s", path, placeHint(path))
		}
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if !fi.IsDir() {
		return loadArchive(path, names)
	}

	dir := path
	sub := filepath.Join(dir, BatchesDir)
	for _, d := range []string{sub, dir} {
		if hasAll(d, names) {
			return loadDir(d, names)
		}
	}
	if archive := filepath.Join(dir, ArchiveName); isFile(archive) {
		return loadArchive(archive, names)
	}
	// Report the first missing file where the files were most likely meant
	// to be: in cifar-10-batches-bin/ unless dir itself holds some of them.
	where := sub
	if !isDir(sub) && hasAny(dir, names) {
		where = dir
	}
	missing := names[0]
	for _, name := range names {
		if !isFile(filepath.Join(where, name)) {
			missing = name
			break
		}
	}
	return nil, notFound("dataset: %s: file not found; %s", filepath.Join(where, missing), placeHint(dir))
}

// A notFoundError reports missing data. It matches [fs.ErrNotExist].
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return fs.ErrNotExist }

func notFound(format string, args ...any) error {
	return &notFoundError{fmt.Sprintf(format, args...)}
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.IsDir()
}

func hasAll(dir string, names []string) bool {
	for _, name := range names {
		if !isFile(filepath.Join(dir, name)) {
			return false
		}
	}
	return true
}

func hasAny(dir string, names []string) bool {
	for _, name := range names {
		if isFile(filepath.Join(dir, name)) {
			return true
		}
	}
	return false
}

// checkSize reports whether size is a plausible size for a .bin file and
// returns its number of records.
func checkSize(size int64) (int, error) {
	switch {
	case size == 0:
		return 0, errors.New("file is empty")
	case size%RecordSize != 0:
		return 0, fmt.Errorf("size %d is not a multiple of the record size %d", size, RecordSize)
	case size > maxEntrySize:
		return 0, fmt.Errorf("size %d is too large", size)
	}
	return int(size / RecordSize), nil
}

// loadDir reads the named files from dir.
func loadDir(dir string, names []string) (*Set, error) {
	files := make([]string, len(names))
	counts := make([]int, len(names))
	total := 0
	for i, name := range names {
		files[i] = filepath.Join(dir, name)
		fi, err := os.Stat(files[i])
		if err != nil {
			return nil, fmt.Errorf("dataset: %w", err)
		}
		n, err := checkSize(fi.Size())
		if err != nil {
			return nil, fmt.Errorf("dataset: %s: %w", files[i], err)
		}
		counts[i] = n
		total += n
	}
	s := &Set{
		Pixels: make([]byte, total*ImageSize),
		Labels: make([]uint8, total),
	}
	buf := make([]byte, min(chunkRecords, slices.Max(counts))*RecordSize)
	off := 0
	for i, file := range files {
		if err := loadFile(file, s, off, counts[i], buf); err != nil {
			return nil, err
		}
		off += counts[i]
	}
	return s, nil
}

func loadFile(file string, s *Set, off, n int, buf []byte) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	err = decode(f, s.Pixels[off*ImageSize:(off+n)*ImageSize], s.Labels[off:off+n], buf)
	if err != nil {
		return fmt.Errorf("dataset: %s: %w", file, err)
	}
	return nil
}

// A labelError reports a record whose label is not in [0, 9].
type labelError struct {
	record int
	label  byte
}

func (e *labelError) Error() string {
	return fmt.Sprintf("record %d: label %d out of range [0, %d]", e.record, e.label, NumClasses-1)
}

// decode reads len(labels) records from r into pixels and labels, using
// buf, whose length is a multiple of RecordSize, as scratch space.
func decode(r io.Reader, pixels []byte, labels []uint8, buf []byte) error {
	n := len(labels)
	per := len(buf) / RecordSize
	for done := 0; done < n; {
		k := min(per, n-done)
		chunk := buf[:k*RecordSize]
		if _, err := io.ReadFull(r, chunk); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		for j := range k {
			rec := chunk[j*RecordSize : (j+1)*RecordSize]
			if rec[0] >= NumClasses {
				return &labelError{record: done + j, label: rec[0]}
			}
			labels[done+j] = rec[0]
			copy(pixels[(done+j)*ImageSize:(done+j+1)*ImageSize], rec[1:])
		}
		done += k
	}
	return nil
}

// A segment locates the records of one file within the records read so far.
type segment struct{ off, n int }

// loadArchive reads the named files from the .tar.gz archive at file.
func loadArchive(file string, names []string) (*Set, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: not a valid .tar.gz archive: %w", file, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)

	wanted := make(map[string]bool, len(names))
	for _, name := range names {
		wanted[name] = true
	}
	found := make(map[string]segment, len(wanted))
	var (
		pixels []byte
		labels []uint8
		buf    []byte
	)
	for len(found) < len(wanted) {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dataset: %s: truncated or corrupt archive: %w", file, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		entry := path.Clean(hdr.Name)
		base, dir := path.Base(entry), path.Dir(entry)
		if !wanted[base] || (dir != "." && path.Base(dir) != BatchesDir) {
			continue
		}
		if _, dup := found[base]; dup {
			continue
		}
		n, err := checkSize(hdr.Size)
		if err != nil {
			return nil, fmt.Errorf("dataset: %s: %s: %w", file, entry, err)
		}
		if pixels == nil {
			// The files of the official archive all have the same size,
			// so this is usually the exact total.
			pixels = make([]byte, 0, n*len(wanted)*ImageSize)
			labels = make([]uint8, 0, n*len(wanted))
			buf = make([]byte, min(chunkRecords, n)*RecordSize)
		}
		off := len(labels)
		pixels = slices.Grow(pixels, n*ImageSize)[:(off+n)*ImageSize]
		labels = slices.Grow(labels, n)[:off+n]
		if err := decode(tr, pixels[off*ImageSize:], labels[off:], buf); err != nil {
			if _, ok := err.(*labelError); ok {
				return nil, fmt.Errorf("dataset: %s: %s: %w", file, entry, err)
			}
			return nil, fmt.Errorf("dataset: %s: %s: truncated or corrupt archive: %w", file, entry, err)
		}
		found[base] = segment{off, n}
	}
	// Read to the end of the stream so that gzip verifies its checksum:
	// DEFLATE alone does not catch every corruption.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("dataset: %s: truncated or corrupt archive: %w", file, err)
	}
	for _, name := range names {
		if _, ok := found[name]; !ok {
			return nil, notFound("dataset: %s: no entry %s/%s in archive", file, BatchesDir, name)
		}
	}
	return assemble(pixels, labels, names, found), nil
}

// assemble arranges the records of the segments in the order of names.
func assemble(pixels []byte, labels []uint8, names []string, found map[string]segment) *Set {
	next := 0
	inOrder := true
	for _, name := range names {
		seg := found[name]
		if seg.off != next {
			inOrder = false
			break
		}
		next += seg.n
	}
	if inOrder && next == len(labels) {
		return &Set{Pixels: pixels, Labels: labels}
	}
	total := 0
	for _, name := range names {
		total += found[name].n
	}
	s := &Set{
		Pixels: make([]byte, 0, total*ImageSize),
		Labels: make([]uint8, 0, total),
	}
	for _, name := range names {
		seg := found[name]
		s.Pixels = append(s.Pixels, pixels[seg.off*ImageSize:(seg.off+seg.n)*ImageSize]...)
		s.Labels = append(s.Labels, labels[seg.off:seg.off+seg.n]...)
	}
	return s
}
