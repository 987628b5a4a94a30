package dataset

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/cheggaaa/pb/v3"
)

// Location and checksum of the official binary distribution.
const (
	DownloadURL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
	DownloadMD5 = "c32a1d4ab5d03f1284b67883e8d87530"
)

// Download fetches url into dir/cifar-10-binary.tar.gz, creating dir if
// needed, and returns the path of that file.
//
// The body is written to a temporary file in dir, checked against md5hex
// (the hexadecimal MD5 sum; an empty md5hex skips the check), synced to
// disk and renamed into place, so the final file appears only once it is
// complete and correct. On failure no file is left behind.
//
// If progress is not nil, a progress bar is drawn on it. client performs
// the request; nil means [http.DefaultClient]. Cancelling ctx aborts the
// download.
func Download(ctx context.Context, client *http.Client, url, md5hex, dir string, progress io.Writer) (string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	dest := filepath.Join(dir, ArchiveName)
	byHand := fmt.Sprintf("fetch %s by hand and put it in %s as %s, or put the %s/ it contains there", url, dir, ArchiveName, BatchesDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("dataset: download %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("dataset: download failed: %w; %s", err, byHand)
	}
	defer resp.Body.Close()
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

	var body io.Reader = resp.Body
	if progress != nil {
		bar := pb.New64(resp.ContentLength)
		bar.SetWriter(progress)
		bar.Set(pb.Bytes, true)
		bar.SetTemplate(pb.Full)
		bar.Start()
		defer bar.Finish()
		body = bar.NewProxyReader(body)
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), body)
	if err != nil {
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
// Ensure returns dir. Otherwise, if download is true, it downloads the
// official archive from [DownloadURL] into dir with [Download], drawing a
// progress bar on progress, and returns the archive's path. Otherwise it
// returns an error that says where to put the files.
func Ensure(ctx context.Context, dir string, download bool, progress io.Writer) (string, error) {
	return ensure(ctx, nil, DownloadURL, DownloadMD5, dir, download, progress)
}

func ensure(ctx context.Context, client *http.Client, url, md5hex, dir string, download bool, progress io.Writer) (string, error) {
	if dir == "" {
		return "", errors.New("dataset: empty data directory")
	}
	if present(dir) {
		return dir, nil
	}
	if !download {
		return "", notFound("dataset: no CIFAR-10 data in %s; %s", dir, placeHint(dir))
	}
	return Download(ctx, client, url, md5hex, dir, progress)
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
