// Package checkpoint reads and writes the training-state file of a run: the
// configuration, the learnable parameters and batch norm statistics (current
// and best), the optimizer and schedule state, the per-epoch history and the
// amendments made to the configuration on resume, so that an interrupted run
// can resume exactly where it stopped.
//
// A file of the current format version 2 is, in order:
//
//   - the 8-byte [Magic];
//   - the format [Version] as a 4-byte big-endian unsigned integer;
//   - the length in bytes of the body, as an 8-byte big-endian unsigned
//     integer;
//   - the body: one MessagePack map holding the [File];
//   - the CRC-32C (Castagnoli) checksum of all the bytes before it, as a
//     4-byte big-endian unsigned integer.
//
// The declared length makes every truncation detectable, and the checksum
// every change of a single byte (see [Version]). Version-1 files, written
// before the checksum existed, are the magic, the version and the body
// alone; they are still read, and [File.Unchecked] reports them.
//
// [Decode] treats its input as hostile: a corrupt, truncated, foreign or
// wrong-version file gives an error, never a panic or a huge allocation,
// and even a file whose checksum matches is fully validated, its
// configuration included.
package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/cifar-resnet/trainer/config"
)

// Version is the current format version, the one Encode and Save write.
// Decode and Load read it and version 1.
//
// Version 2 added the body length and the checksum. The checksum is
// CRC-32C rather than a cryptographic hash such as SHA-256 because it
// guards against accidents (a flipped bit, a torn write), not forgery, and
// for that a CRC gives a guarantee a hash does not: CRC-32C detects every
// error confined to 32 consecutive bits, so every single-byte change, while
// a random corruption of any other kind goes unnoticed with probability
// about 2^-32. It is also
// computed in hardware on common processors.
const Version = 2

// uncheckedVersion is the oldest format version read: it has neither the
// body length nor the checksum.
const uncheckedVersion = 1

// Magic is written first so foreign files are recognised.
const Magic = "\x89RNCKPT\n"

// MaxSize is the largest file, in bytes, that Decode and Load accept.
const MaxSize = 1 << 30

// headerSize is the length of Magic followed by the 4-byte version: the
// whole header of a version-1 file.
const headerSize = len(Magic) + 4

// Sizes of the parts a version-2 file adds: the body length after the
// version, and the checksum after the body.
const (
	lengthSize   = 8
	checksumSize = 4
	// headerSize2 is the length of the header of a version-2 file.
	headerSize2 = headerSize + lengthSize
)

// castagnoli is the CRC-32C table of the checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by the errors of Decode and Load for a file whose
// checksum or declared length does not match its contents.
var ErrCorrupt = errors.New("the file is corrupt")

// Tensor is one named array of float32 values stored in row-major order.
type Tensor struct {
	// Name identifies the tensor, for example "stem.conv.weight".
	Name string `msgpack:"name"`
	// Shape lists the dimensions; each is positive. An empty shape is a
	// scalar holding one value.
	Shape []int `msgpack:"shape"`
	// Data holds the product of Shape values.
	Data []float32 `msgpack:"data"`
}

// OptimizerState is the state an optimizer needs to resume.
type OptimizerState struct {
	// Name is the optimizer's name, as in config.Optimizer.Name.
	Name string `msgpack:"name"`
	// Step counts the updates the optimizer has applied.
	Step int64 `msgpack:"step"`
	// Slots maps a slot name (for example "velocity", "m" or "v") to one
	// array per entry of ParamNames, each as long as that parameter's
	// Data.
	Slots map[string][][]float32 `msgpack:"slots"`
	// ParamNames names the parameters the optimizer updates, in the
	// order of the inner slices of Slots. Each is the name of a tensor
	// in File.Params.
	ParamNames []string `msgpack:"param_names"`
}

// EncodeMsgpack implements msgpack.CustomEncoder. It writes the same map
// as the default struct encoding, with the slots in sorted order so that
// equal states encode to equal bytes.
func (o OptimizerState) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(4); err != nil {
		return err
	}
	if err := encodeKeyValues(enc, "name", o.Name, "step", o.Step, "param_names", o.ParamNames); err != nil {
		return err
	}
	if err := enc.EncodeString("slots"); err != nil {
		return err
	}
	if o.Slots == nil {
		return enc.EncodeNil()
	}
	if err := enc.EncodeMapLen(len(o.Slots)); err != nil {
		return err
	}
	keys := make([]string, 0, len(o.Slots))
	for k := range o.Slots {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := encodeKeyValues(enc, k, o.Slots[k]); err != nil {
			return err
		}
	}
	return nil
}

// encodeKeyValues encodes alternating string keys and values.
func encodeKeyValues(enc *msgpack.Encoder, kv ...any) error {
	for i := 0; i < len(kv); i += 2 {
		if err := enc.EncodeString(kv[i].(string)); err != nil {
			return err
		}
		if err := enc.Encode(kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// ScheduleState is the state a learning-rate schedule needs to resume.
type ScheduleState struct {
	// Name is the schedule's name, as in config.Scheduler.Name.
	Name string `msgpack:"name"`
	// Step is the global batch step: the number of batches completed
	// over the whole run.
	Step int64 `msgpack:"step"`
}

// History holds one entry per completed epoch; entry i describes epoch i+1.
// All slices have the same length.
type History struct {
	// Loss is the average training loss over the epoch's batches.
	Loss []float64 `msgpack:"loss"`
	// ValLoss is the mean cross-entropy, -log softmax(logits)[label], of
	// the network in evaluation mode on the validation images on which
	// ValAcc is measured, without label smoothing or distillation. Files
	// written before it was recorded lack it: Decode and Load fill it
	// with NaN, one per epoch.
	ValLoss []float64 `msgpack:"val_loss"`
	// TrainAcc is the training accuracy measured after the epoch, as a
	// fraction in [0, 1].
	TrainAcc []float64 `msgpack:"train_acc"`
	// ValAcc is the validation accuracy measured after the epoch, as a
	// fraction in [0, 1].
	ValAcc []float64 `msgpack:"val_acc"`
	// LR is the learning rate at the end of the epoch.
	LR []float64 `msgpack:"lr"`
	// Seconds is the wall-clock duration of the epoch in seconds.
	Seconds []float64 `msgpack:"seconds"`
}

// Len returns the number of epochs in h, or -1 if its slices differ in
// length.
func (h History) Len() int {
	n := len(h.Loss)
	for _, s := range [][]float64{h.ValLoss, h.TrainAcc, h.ValAcc, h.LR, h.Seconds} {
		if len(s) != n {
			return -1
		}
	}
	return n
}

// Improved returns, for each epoch, whether its validation accuracy is a
// new best: the first epoch's is, and so is every later one that exceeds
// the validation accuracy of the best epoch before it. The trainer keeps
// the weights of these epochs as the best ones.
func (h History) Improved() []bool {
	improved := make([]bool, len(h.ValAcc))
	best := 0.0
	for i, v := range h.ValAcc {
		if i == 0 || v > best {
			improved[i], best = true, v
		}
	}
	return improved
}

// Best returns the best epoch (1-based): the last of the epochs that
// Improved reports, the first with the highest validation accuracy. It
// returns 0 for an empty history.
func (h History) Best() int {
	best := 0
	for i, ok := range h.Improved() {
		if ok {
			best = i + 1
		}
	}
	return best
}

// fillValLoss gives a history read from a file written before ValLoss was
// recorded, which has none, a NaN for each of its epochs.
func (h *History) fillValLoss(epochs int) {
	if epochs == 0 || len(h.ValLoss) != 0 || len(h.Loss) != epochs {
		return
	}
	h.ValLoss = make([]float64, epochs)
	for i := range h.ValLoss {
		h.ValLoss[i] = math.NaN()
	}
}

// File is the whole training state of a run.
type File struct {
	// Version is the format version of the file f was decoded from, set
	// by Decode and Load. Encode always writes Version; it accepts 0 and
	// any version Decode reads, so that a file read from an older
	// version is saved in the current one.
	Version int `msgpack:"-"`
	// Config is the configuration of the run: the one it was started
	// with, except for the changes of the schedule listed in Amendments.
	Config config.Config `msgpack:"config"`
	// Epoch is the number of epochs completed.
	Epoch int `msgpack:"epoch"`
	// Step is the number of batches completed over the whole run.
	Step int64 `msgpack:"step"`
	// Params holds the learnable parameters by name, in model order.
	Params []Tensor `msgpack:"params"`
	// Stats holds the batch norm running means and variances by name.
	Stats []Tensor `msgpack:"stats"`
	// BestParams and BestStats hold the parameters and statistics with the
	// best validation accuracy so far. Both are empty before the first
	// evaluation; otherwise they match Params and Stats in names and
	// shapes.
	BestParams []Tensor `msgpack:"best_params"`
	BestStats  []Tensor `msgpack:"best_stats"`
	// BestValAcc is the validation accuracy of BestParams.
	BestValAcc float64 `msgpack:"best_val_acc"`
	// BestEpoch is the epoch (1-based) that produced BestParams, or 0.
	BestEpoch int `msgpack:"best_epoch"`
	// Optimizer is the optimizer state.
	Optimizer OptimizerState `msgpack:"optimizer"`
	// Schedule is the learning-rate schedule state.
	Schedule ScheduleState `msgpack:"schedule"`
	// History has one entry per completed epoch.
	History History `msgpack:"history"`
	// Partial describes the epoch in progress when the checkpoint was
	// written during an epoch (after an interruption); it is zero at an
	// epoch boundary.
	Partial Partial `msgpack:"partial"`
	// Seed is the seed of the run's random number generator.
	Seed int64 `msgpack:"seed"`
	// Amendments lists the deliberate changes made to the run's
	// configuration when it was resumed, oldest first. Version-1 files
	// have none.
	Amendments []Amendment `msgpack:"amendments"`
}

// Unchecked reports whether f was decoded from a file of format version 1,
// which has no checksum: a corruption of such a file that still decodes to
// a valid File went unnoticed. Saving f again writes the current version,
// which is checked.
func (f *File) Unchecked() bool { return f.Version == uncheckedVersion }

// Amendment is a deliberate change of the run's configuration on resume
// (for example more epochs), recorded with the epoch and step at which it
// took effect.
type Amendment struct {
	// Epoch is the number of epochs completed when the change took
	// effect, in [0, File.Epoch].
	Epoch int `msgpack:"epoch"`
	// Step is the number of batches completed over the whole run when
	// the change took effect, in [0, File.Step].
	Step int64 `msgpack:"step"`
	// Path is the YAML path of the changed setting, as in the errors of
	// config.Config.Validate, for example "solver.epochs"; it is not
	// empty.
	Path string `msgpack:"path"`
	// Old and New are the setting's values before and after the change,
	// as text.
	Old string `msgpack:"old"`
	New string `msgpack:"new"`
}

// Partial is the progress made in an unfinished epoch.
type Partial struct {
	// Batches is the number of batches of the epoch already trained on.
	Batches int `msgpack:"batches"`
	// LossSum is the sum of their losses.
	LossSum float64 `msgpack:"loss_sum"`
	// Seconds is the training time they took.
	Seconds float64 `msgpack:"seconds"`
}

// Encode writes f to w in the current format Version: Magic, the version,
// the body length, the MessagePack body and the checksum. It validates f
// first, as Decode does, and writes nothing if f is invalid.
func Encode(w io.Writer, f *File) error {
	b, err := marshal(f)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// marshal validates f and returns its encoding.
func marshal(f *File) ([]byte, error) {
	if f == nil {
		return nil, errors.New("nil file")
	}
	if f.Version != 0 && f.Version != uncheckedVersion && f.Version != Version {
		return nil, fmt.Errorf("cannot write format version %d (this program writes version %d)", f.Version, Version)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(Magic)
	buf.Write(make([]byte, headerSize2-len(Magic))) // version and length, set below
	if err := msgpack.NewEncoder(&buf).Encode(f); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[len(Magic):], Version)
	binary.BigEndian.PutUint64(b[headerSize:], uint64(len(b)-headerSize2))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// Decode reads one file from r, which must hold nothing else, and validates
// it. Inputs larger than MaxSize are rejected.
func Decode(r io.Reader) (*File, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	f, err := unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return f, nil
}

// readAll reads r to the end, failing if it holds more than MaxSize bytes.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("larger than the %d-byte limit", MaxSize)
	}
	return b, nil
}

// unmarshal decodes and validates a whole file held in b.
func unmarshal(b []byte) (f *File, err error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, errors.New("not a checkpoint file (bad magic)")
	}
	if len(b) < headerSize {
		return nil, errors.New("truncated header")
	}
	v := binary.BigEndian.Uint32(b[len(Magic):headerSize])
	var body []byte
	switch v {
	case uncheckedVersion:
		body = b[headerSize:]
	case Version:
		if body, err = checkedBody(b); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported format version %d (this program reads versions %d and %d)", v, uncheckedVersion, Version)
	}
	// The MessagePack decoder allocates slices as long as their declared
	// length and may panic on some malformed input: check the structure
	// first, so that no declared length exceeds the bytes that remain,
	// and recover from anything the check misses.
	if err := checkStructure(body); err != nil {
		return nil, fmt.Errorf("malformed data: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("malformed data: %v", p)
		}
	}()
	f = new(File)
	dec := msgpack.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("malformed data: %w", err)
	}
	f.Version = int(v)
	f.History.fillValLoss(f.Epoch)
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkedBody returns the body of the version-2 file b after checking its
// declared length and its checksum.
func checkedBody(b []byte) ([]byte, error) {
	if len(b) < headerSize2+checksumSize {
		return nil, fmt.Errorf("truncated header: %w", ErrCorrupt)
	}
	n := binary.BigEndian.Uint64(b[headerSize:headerSize2])
	if have := uint64(len(b) - headerSize2 - checksumSize); n != have {
		return nil, fmt.Errorf("size mismatch: %w (the header declares a %d-byte body, the file holds %d bytes after the header and before the checksum: it was truncated, extended or damaged)", ErrCorrupt, n, have)
	}
	end := len(b) - checksumSize
	stored := binary.BigEndian.Uint32(b[end:])
	if sum := crc32.Checksum(b[:end], castagnoli); sum != stored {
		return nil, fmt.Errorf("checksum mismatch: %w (stored CRC-32C %08x, computed %08x)", ErrCorrupt, stored, sum)
	}
	return b[headerSize2:end], nil
}

// Save writes f to path atomically: it writes a temporary file in the same
// directory, syncs it, renames it to path and syncs the directory. A failed
// Save leaves any previous file at path intact and removes its temporary
// file.
func Save(path string, f *File) error {
	b, err := marshal(f)
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	err = WriteBytesAtomic(path, b)
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return nil
}

// Load reads and validates the file at path. Its errors name the path and
// wrap the underlying error, so errors.Is(err, fs.ErrNotExist) reports a
// missing file.
func Load(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer fd.Close()
	b, err := readAll(fd)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	f, err := unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return f, nil
}

// WriteFileAtomic creates or replaces the file at path with what write
// writes, atomically: write writes to a buffered temporary file in the same
// directory, which is then synced, renamed to path, and the directory
// synced. If write or any step fails, the temporary file is removed, any
// previous file at path is left intact, and the error is returned. The new
// file has mode 0644. A process killed while writing leaves its temporary
// file behind, which RemoveStaleTemps removes.
func WriteFileAtomic(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, tempPattern(base))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// WriteBytesAtomic creates or replaces the file at path with data,
// atomically, as WriteFileAtomic does.
func WriteBytesAtomic(path string, data []byte) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// tempPattern returns the pattern, in the syntax of os.CreateTemp and
// filepath.Match, of the temporary files WriteFileAtomic creates for a file
// named base. tempPattern("*") matches those of every file.
func tempPattern(base string) string {
	return "." + base + ".tmp-*"
}

// RemoveStaleTemps removes the temporary files that WriteFileAtomic leaves
// in dir when its process is killed before it finishes: the regular files
// whose names match "."+base+".tmp-*" for some base. It removes nothing
// else. It returns the paths of the files it removed and an error for each
// file or the directory that it could not handle, together.
//
// A file being written at the same moment matches too, so only the single
// owner of dir may call it, while no write into dir is in progress: the
// trainer calls it after taking the lock of its run directory.
func RemoveStaleTemps(dir string) (removed []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: removing stale temporary files: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if ok, _ := filepath.Match(tempPattern("*"), e.Name()); !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.Remove(path); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: removing stale temporary file: %w", err))
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// syncDir flushes the directory entry of a rename to disk. File systems
// that cannot sync a directory are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}

// MatchShapes reports whether got holds the same tensor names with the same
// shapes, in the same order, as want. The error names the first tensor that
// differs and both shapes, for example when a checkpoint was written by a
// different architecture.
func MatchShapes(want, got []Tensor) error {
	n := min(len(want), len(got))
	for i := 0; i < n; i++ {
		w, g := &want[i], &got[i]
		if w.Name != g.Name || !slices.Equal(w.Shape, g.Shape) {
			return fmt.Errorf("checkpoint: tensor %d: want %q with shape %v, got %q with shape %v",
				i, w.Name, w.Shape, g.Name, g.Shape)
		}
	}
	switch {
	case len(want) > n:
		return fmt.Errorf("checkpoint: want %d tensors, got %d: missing %q with shape %v",
			len(want), len(got), want[n].Name, want[n].Shape)
	case len(got) > n:
		return fmt.Errorf("checkpoint: want %d tensors, got %d: unexpected %q with shape %v",
			len(want), len(got), got[n].Name, got[n].Shape)
	}
	return nil
}

// validate checks the internal consistency of f, and its configuration
// against the rules of config.Config.Validate.
func (f *File) validate() error {
	if err := f.Config.Validate(); err != nil {
		return fmt.Errorf("the configuration stored in the checkpoint is invalid: %w", err)
	}
	if f.Epoch < 0 {
		return fmt.Errorf("negative epoch %d", f.Epoch)
	}
	if f.Step < 0 {
		return fmt.Errorf("negative step %d", f.Step)
	}
	if p := f.Partial; p.Batches < 0 || !isFinite(p.LossSum) || !isFinite(p.Seconds) || p.Seconds < 0 {
		return fmt.Errorf("invalid partial epoch %+v", p)
	}
	lists := []struct {
		what string
		ts   []Tensor
	}{
		{"params", f.Params},
		{"stats", f.Stats},
		{"best_params", f.BestParams},
		{"best_stats", f.BestStats},
	}
	for _, l := range lists {
		if err := checkTensors(l.what, l.ts); err != nil {
			return err
		}
	}
	if len(f.BestParams) > 0 || len(f.BestStats) > 0 {
		if err := MatchShapes(f.Params, f.BestParams); err != nil {
			return fmt.Errorf("best_params do not match params: %w", err)
		}
		if err := MatchShapes(f.Stats, f.BestStats); err != nil {
			return fmt.Errorf("best_stats do not match stats: %w", err)
		}
	}
	if !isFinite(f.BestValAcc) {
		return fmt.Errorf("best_val_acc is %v", f.BestValAcc)
	}
	if f.BestEpoch < 0 || f.BestEpoch > f.Epoch {
		return fmt.Errorf("best_epoch %d out of range [0, %d]", f.BestEpoch, f.Epoch)
	}
	if err := f.checkOptimizer(); err != nil {
		return err
	}
	if f.Schedule.Step < 0 {
		return fmt.Errorf("schedule: negative step %d", f.Schedule.Step)
	}
	h := &f.History
	for _, s := range []struct {
		name string
		v    []float64
	}{
		{"loss", h.Loss},
		{"val_loss", h.ValLoss},
		{"train_acc", h.TrainAcc},
		{"val_acc", h.ValAcc},
		{"lr", h.LR},
		{"seconds", h.Seconds},
	} {
		if len(s.v) != f.Epoch {
			return fmt.Errorf("history: %s has %d entries for %d epochs", s.name, len(s.v), f.Epoch)
		}
	}
	for i, a := range f.Amendments {
		switch {
		case a.Path == "":
			return fmt.Errorf("amendment %d has an empty path", i)
		case a.Epoch < 0 || a.Epoch > f.Epoch:
			return fmt.Errorf("amendment %d (%s): epoch %d out of range [0, %d]", i, a.Path, a.Epoch, f.Epoch)
		case a.Step < 0 || a.Step > f.Step:
			return fmt.Errorf("amendment %d (%s): step %d out of range [0, %d]", i, a.Path, a.Step, f.Step)
		}
	}
	return nil
}

// checkOptimizer checks f.Optimizer against f.Params.
func (f *File) checkOptimizer() error {
	o := &f.Optimizer
	if o.Step < 0 {
		return fmt.Errorf("optimizer: negative step %d", o.Step)
	}
	size := make(map[string]int, len(f.Params))
	for i := range f.Params {
		size[f.Params[i].Name] = len(f.Params[i].Data)
	}
	seen := make(map[string]bool, len(o.ParamNames))
	for i, name := range o.ParamNames {
		if name == "" {
			return fmt.Errorf("optimizer: parameter %d has an empty name", i)
		}
		if seen[name] {
			return fmt.Errorf("optimizer: duplicate parameter %q", name)
		}
		seen[name] = true
		if _, ok := size[name]; !ok {
			return fmt.Errorf("optimizer: parameter %q is not in params", name)
		}
	}
	slots := make([]string, 0, len(o.Slots))
	for k := range o.Slots {
		slots = append(slots, k)
	}
	sort.Strings(slots)
	for _, k := range slots {
		s := o.Slots[k]
		if k == "" {
			return errors.New("optimizer: slot with an empty name")
		}
		if len(s) != len(o.ParamNames) {
			return fmt.Errorf("optimizer: slot %q has %d arrays for %d parameters", k, len(s), len(o.ParamNames))
		}
		for i, a := range s {
			name := o.ParamNames[i]
			if len(a) != size[name] {
				return fmt.Errorf("optimizer: slot %q of parameter %q has %d values, want %d", k, name, len(a), size[name])
			}
			if j := firstNonFinite(a); j >= 0 {
				return fmt.Errorf("optimizer: slot %q of parameter %q: value %d is %v", k, name, j, a[j])
			}
		}
	}
	return nil
}

// checkTensors checks the names, shapes, lengths and values of one list.
func checkTensors(what string, ts []Tensor) error {
	seen := make(map[string]bool, len(ts))
	for i := range ts {
		t := &ts[i]
		if t.Name == "" {
			return fmt.Errorf("%s: tensor %d has an empty name", what, i)
		}
		if seen[t.Name] {
			return fmt.Errorf("%s: duplicate tensor %q", what, t.Name)
		}
		seen[t.Name] = true
		n := 1
		for _, d := range t.Shape {
			if d <= 0 {
				return fmt.Errorf("%s: tensor %q has shape %v: dimensions must be positive", what, t.Name, t.Shape)
			}
			if n > len(t.Data)/d {
				return fmt.Errorf("%s: tensor %q has shape %v but %d values", what, t.Name, t.Shape, len(t.Data))
			}
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("%s: tensor %q has shape %v but %d values", what, t.Name, t.Shape, len(t.Data))
		}
		if j := firstNonFinite(t.Data); j >= 0 {
			return fmt.Errorf("%s: tensor %q: value %d is %v", what, t.Name, j, t.Data[j])
		}
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or infinity in a, or -1.
func firstNonFinite(a []float32) int {
	for i, v := range a {
		if !isFinite(float64(v)) {
			return i
		}
	}
	return -1
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
