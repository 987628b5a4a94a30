package dataset

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// serve returns a server that answers every request with body.
func serve(t *testing.T, body []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// dirEntries returns the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestDownload(t *testing.T) {
	files, want := trainFiles()
	body := tarGz(t, BatchesDir+"/", files)
	srv := serve(t, body)
	dir := filepath.Join(t.TempDir(), "data") // created by Download
	var calls [][2]int64
	opt := DownloadOptions{
		Client:   srv.Client(),
		Progress: func(done, total int64) { calls = append(calls, [2]int64{done, total}) },
	}
	got, err := Download(context.Background(), srv.URL+"/cifar.tar.gz", strings.ToUpper(md5Hex(body)), dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, ArchiveName); got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
	data, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, body) {
		t.Errorf("downloaded %d bytes that differ from the %d served", len(data), len(body))
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Errorf("dir holds %q, want only %s", names, ArchiveName)
	}
	// Progress: (0, size) first, then rising to (size, size).
	size := int64(len(body))
	if len(calls) < 2 || calls[0] != [2]int64{0, size} || calls[len(calls)-1] != [2]int64{size, size} {
		t.Errorf("progress calls %v, want (0, %d) first and (%d, %d) last", calls, size, size, size)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] <= calls[i-1][0] || calls[i][1] != size {
			t.Errorf("progress call %d: %v after %v", i, calls[i], calls[i-1])
		}
	}
	// The archive is loadable.
	s, err := LoadTrain(got)
	if err != nil {
		t.Fatal(err)
	}
	equalSet(t, s, want)

	// With the zero options and without a checksum.
	dir2 := t.TempDir()
	if _, err := Download(context.Background(), srv.URL, "", dir2, DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestDownloadErrors(t *testing.T) {
	body := []byte("this is not the archive you are looking for")
	good := serve(t, body)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	short := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write(body) // fewer bytes than announced
	}))
	t.Cleanup(short.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	// A server that sends the headers and 3 of 100 bytes, then nothing.
	stalled := silent(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Length", "100")
		w.Write(body[:3])
		w.(http.Flusher).Flush()
	})
	// A server that accepts the connection but never answers.
	mute := silent(t, func(w http.ResponseWriter) {})

	for _, tt := range []struct {
		name     string
		url      string
		md5      string
		contains []string
	}{
		{"checksum mismatch", good.URL, DownloadMD5, []string{"MD5 checksum mismatch", md5Hex(body), DownloadMD5, "by hand"}},
		{"not found", notFound.URL + "/x.tar.gz", md5Hex(body), []string{"404", notFound.URL + "/x.tar.gz", "by hand"}},
		{"short body", short.URL, md5Hex(body), []string{short.URL, "by hand"}},
		{"no server", downURL, md5Hex(body), []string{"download failed", "by hand", ArchiveName}},
		{"stalled body", stalled.URL, md5Hex(body), []string{"dataset: download " + stalled.URL + ": no data received for 200ms; fetch ", "by hand"}},
		{"no headers", mute.URL, md5Hex(body), []string{"dataset: download " + mute.URL + ": no response within 200ms; fetch ", "by hand"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opt := DownloadOptions{StallTimeout: 200 * time.Millisecond}
			path, err := Download(context.Background(), tt.url, tt.md5, dir, opt)
			if err == nil {
				t.Fatalf("Download = %q, want error", path)
			}
			msg := err.Error()
			for _, want := range append(tt.contains, dir) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Errorf("files left behind: %q", names)
			}
		})
	}
}

// silent returns a server that answers every request with start, then
// sends nothing more until the client goes away or the test ends.
func silent(t *testing.T, start func(w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start(w)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	return srv
}

// TestDownloadSlowButSteady checks that the stall timeout bounds the gaps
// between pieces of the body, not the whole download: 12 pieces, 40 ms
// apart, take longer than the 400 ms timeout.
func TestDownloadSlowButSteady(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 12)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		for i := 0; i < len(body); i += 10 {
			time.Sleep(40 * time.Millisecond)
			w.Write(body[i : i+10])
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	opt := DownloadOptions{StallTimeout: 400 * time.Millisecond}
	got, err := Download(context.Background(), srv.URL, md5Hex(body), dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(got); err != nil || !bytes.Equal(data, body) {
		t.Errorf("downloaded %q, %v, want %q", data, err, body)
	}
}

func TestDownloadCancel(t *testing.T) {
	srv := serve(t, []byte("data"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := Download(ctx, srv.URL, "", dir, DownloadOptions{}); err == nil {
		t.Fatal("no error with a cancelled context")
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("files left behind: %q", names)
	}
}

func TestEnsure(t *testing.T) {
	files, want := trainFiles()
	body := tarGz(t, BatchesDir+"/", files)
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	opt := DownloadOptions{Client: srv.Client()}

	// Files present: no download.
	for _, setup := range []func(dir string) string{
		func(dir string) string { writeFiles(t, filepath.Join(dir, BatchesDir), files); return dir },
		func(dir string) string { writeFiles(t, dir, files); return dir },
		func(dir string) string { writeArchive(t, filepath.Join(dir, ArchiveName), files); return dir },
		func(dir string) string {
			name := filepath.Join(dir, "train.tar.gz")
			writeArchive(t, name, files)
			return name
		},
	} {
		path := setup(t.TempDir())
		got, err := ensure(ctx, srv.URL, md5Hex(body), path, true, opt)
		if err != nil || got != path {
			t.Errorf("ensure(%s) = %q, %v, want %q", path, got, err, path)
		}
	}
	if calls != 0 {
		t.Errorf("%d downloads with the files present", calls)
	}

	// Missing, no download.
	dir := t.TempDir()
	_, err := Ensure(ctx, dir, false, DownloadOptions{})
	if err == nil {
		t.Fatal("Ensure on an empty dir without download: no error")
	}
	for _, want := range []string{dir, ArchiveName, BatchesDir + "/", "data.download: true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	// Missing, download.
	got, err := ensure(ctx, srv.URL, md5Hex(body), dir, true, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(dir, ArchiveName) || calls != 1 {
		t.Errorf("ensure = %q after %d downloads", got, calls)
	}
	s, err := LoadTrain(got)
	if err != nil {
		t.Fatal(err)
	}
	equalSet(t, s, want)
	// Now present.
	if got, err := ensure(ctx, srv.URL, md5Hex(body), dir, true, opt); err != nil || got != dir || calls != 1 {
		t.Errorf("second ensure = %q, %v after %d downloads", got, err, calls)
	}
}

// TestEnsurePartialHint checks that with download on, data that Ensure
// takes as present but LoadTrain finds incomplete gets an error that does
// not suggest turning download on.
func TestEnsurePartialHint(t *testing.T) {
	files, _ := trainFiles()
	dir := t.TempDir()
	writeFiles(t, dir, files[:2])
	path, err := Ensure(context.Background(), dir, true, DownloadOptions{})
	if err != nil || path != dir {
		t.Fatalf("Ensure = %q, %v, want %q", path, err, dir)
	}
	_, err = LoadTrain(path)
	if err == nil {
		t.Fatal("LoadTrain of 2 of 5 files: no error")
	}
	want := "dataset: " + filepath.Join(dir, "data_batch_3.bin") + ": file not found; put " + ArchiveName + " or " + BatchesDir + "/ in " + dir
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestEnsureMissingArchive checks that a data.dir that names a missing
// archive is neither created nor downloaded into, with download on or off.
func TestEnsureMissingArchive(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	t.Cleanup(srv.Close)
	opt := DownloadOptions{Client: srv.Client()}
	for _, tt := range []struct {
		name     string
		archives []string // archives in the directory of path
		path     string   // base name of data.dir
		mean     string   // suggested archive, "" for none
	}{
		{"typo", []string{ArchiveName}, "cifar-10-binery.tar.gz", ArchiveName},
		{"nearest of two", []string{ArchiveName, "train.tar.gz"}, "trian.tar.gz", "train.tar.gz"},
		{"tgz", []string{"a.tgz", ArchiveName}, "b.tgz", "a.tgz"},
		{"no archive", nil, "cifar-10-binary.tar.gz", ""},
		{"bin file", nil, "data_batch_1.bin", ""},
	} {
		for _, download := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s download=%v", tt.name, download), func(t *testing.T) {
				dir := t.TempDir()
				for _, name := range tt.archives {
					if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				os.Mkdir(filepath.Join(dir, "dir.tar.gz"), 0o755) // a directory is not suggested
				path := filepath.Join(dir, tt.path)
				got, err := ensure(context.Background(), srv.URL, "", path, download, opt)
				if err == nil {
					t.Fatalf("ensure = %q, want error", got)
				}
				mean := ""
				if tt.mean != "" {
					mean = " (did you mean " + filepath.Join(dir, tt.mean) + "?)"
				}
				want := "dataset: data.dir: " + path + " does not exist" + mean +
					"; set data.dir to an existing archive, or to a directory into which to download " + ArchiveName
				if err.Error() != want {
					t.Errorf("error %q\nwant  %q", err, want)
				}
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error %v does not wrap fs.ErrNotExist", err)
				}
				if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was created: %v", path, err)
				}
			})
		}
	}
	if calls != 0 {
		t.Errorf("%d downloads", calls)
	}
}
