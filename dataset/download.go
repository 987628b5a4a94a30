package dataset

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Location and checksum of the official binary distribution.
const (
	DownloadURL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
	DownloadMD5 = "c32a1d4ab5d03f1284b67883e8d87530"
)

// DefaultStallTimeout is the stall timeout of a download whose
// [DownloadOptions] leave StallTimeout at zero.
const DefaultStallTimeout = time.Minute

// DownloadOptions configures [Download] and [Ensure]. The zero value is
// ready to use.
type DownloadOptions struct {
	// Client performs the request; nil means [http.DefaultClient].
	Client *http.Client

	// Progress, if not nil, is called on the goroutine of the download
	// with the number of bytes received so far and the total announced by
	// the server, or -1 if the server announced none: once with done 0
	// when the server has answered, then after each piece of the body.
	// It is not called if the server does not answer with status 200 OK.
	Progress func(done, total int64)

	// StallTimeout is the longest wait for the server's response headers
	// (connecting included) and, once the body flows, for the next byte
	// of it. There is no limit on the time of the whole download. Zero
	// means [DefaultStallTimeout].
	StallTimeout time.Duration
}

// A stallError is the cause of a download cancelled by its stall timeout.
type stallError struct{ msg string }

func (e *stallError) Error() string { return e.msg }

// Download fetches url into dir/cifar-10-binary.tar.gz, creating dir if
// needed, and returns the path of that file.
//
// The body is written to a temporary file in dir, checked against md5hex
// (the hexadecimal MD5 sum; an empty md5hex skips the check), synced to
// disk and renamed into place, so the final file appears only once it is
// complete and correct. On failure no file is left behind.
//
// The download fails if the server sends neither its response headers nor
// a byte of the body for opt.StallTimeout. Cancelling ctx aborts it.
func Download(ctx context.Context, url, md5hex, dir string, opt DownloadOptions) (string, error) {
	client := opt.Client
	if client == nil {
		client = http.DefaultClient
	}
	stall := opt.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	dest := filepath.Join(dir, ArchiveName)
	byHand := fmt.Sprintf("fetch %s by hand and put it in %s as %s, or put the %s/ it contains there", url, dir, ArchiveName, BatchesDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}

	// A watchdog cancels the request, with a stallError as the cause, when
	// the server keeps silent for stall: first while waiting for the
	// headers, then between two pieces of the body.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	noResponse := &stallError{fmt.Sprintf("no response within %v", stall)}
	noData := &stallError{fmt.Sprintf("no data received for %v", stall)}
	watchdog := time.AfterFunc(stall, func() { cancel(noResponse) })
	defer func() { watchdog.Stop() }() // the watchdog of the moment
	// stalled returns the error for a download cancelled by the watchdog,
	// or nil if the watchdog has not fired.
	stalled := func() error {
		var s *stallError
		if !errors.As(context.Cause(ctx), &s) {
			return nil
		}
		return fmt.Errorf("dataset: download %s: %w; %s", url, s, byHand)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("dataset: download %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if err := stalled(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("dataset: download failed: %w; %s", err, byHand)
	}
	defer resp.Body.Close()
	watchdog.Stop()
	watchdog = time.AfterFunc(stall, func() { cancel(noData) })
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dataset: download %s: HTTP status %s; %s", url, resp.Status, byHand)
	}

	tmp, err := os.CreateTemp(dir, "."+ArchiveName+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	if opt.Progress != nil {
		opt.Progress(0, resp.ContentLength)
	}
	body := &watchedReader{r: resp.Body, watchdog: watchdog, stall: stall, progress: opt.Progress, total: resp.ContentLength}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), body)
	if err != nil {
		if err := stalled(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("dataset: download %s: %w; %s", url, err, byHand)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", fmt.Errorf("dataset: download %s: got %d bytes, want %d; %s", url, n, resp.ContentLength, byHand)
	}
	if md5hex != "" {
		if sum := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(sum, md5hex) {
			return "", fmt.Errorf("dataset: download %s: MD5 checksum mismatch: got %s, want %s; %s", url, sum, md5hex, byHand)
		}
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("dataset: %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("dataset: %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	ok = true
	syncDir(dir)
	return dest, nil
}

// A watchedReader reads a response body. Each piece that arrives resets
// the watchdog to stall and is reported to progress, if not nil.
type watchedReader struct {
	r        io.Reader
	watchdog *time.Timer
	stall    time.Duration
	progress func(done, total int64)
	done     int64
	total    int64
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.watchdog.Reset(w.stall)
		w.done += int64(n)
		if w.progress != nil {
			w.progress(w.done, w.total)
		}
	}
	return n, err
}

// syncDir makes a rename in dir durable, where the system supports it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Ensure returns the path from which to load the data set, for use with
// [LoadTrain], [LoadTest] and [LoadFiles].
//
// If dir is a file (an archive), or a directory that holds
// cifar-10-batches-bin/, the .bin files themselves or cifar-10-binary.tar.gz,
// Ensure returns dir. If dir does not exist and its name is that of a file,
// such as an archive ending in .tar.gz, Ensure returns an error that says
// so, and names a similar archive in the same directory, if there is one:
// it neither downloads into nor creates a directory of that name.
// Otherwise, if download is true, it downloads the official archive from
// [DownloadURL] into dir with [Download] and returns the archive's path;
// if download is false, it returns an error that says where to put the
// files. Errors for missing data wrap [fs.ErrNotExist].
func Ensure(ctx context.Context, dir string, download bool, opt DownloadOptions) (string, error) {
	return ensure(ctx, DownloadURL, DownloadMD5, dir, download, opt)
}

func ensure(ctx context.Context, url, md5hex, dir string, download bool, opt DownloadOptions) (string, error) {
	if dir == "" {
		return "", errors.New("dataset: empty data directory")
	}
	if present(dir) {
		return dir, nil
	}
	if _, err := os.Stat(dir); namesFile(dir) && errors.Is(err, fs.ErrNotExist) {
		return "", notFound("dataset: data.dir: %s does not exist%s; set data.dir to an existing archive, or to a directory into which to download %s", dir, didYouMean(dir), ArchiveName)
	}
	if !download {
		return "", notFound("dataset: no CIFAR-10 data in %s; %s, or set data.download: true", dir, placeHint(dir))
	}
	return Download(ctx, url, md5hex, dir, opt)
}

// present reports whether dir looks like it holds the data set.
func present(dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	if fi.Mode().IsRegular() {
		return true
	}
	if !fi.IsDir() {
		return false
	}
	if isDir(filepath.Join(dir, BatchesDir)) || isFile(filepath.Join(dir, ArchiveName)) || isFile(filepath.Join(dir, TestFile)) {
		return true
	}
	return hasAny(dir, TrainFiles[:])
}
