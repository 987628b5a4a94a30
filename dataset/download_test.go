package dataset

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	var progress bytes.Buffer
	got, err := Download(context.Background(), srv.Client(), srv.URL+"/cifar.tar.gz", strings.ToUpper(md5Hex(body)), dir, &progress)
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
	if progress.Len() == 0 {
		t.Error("no progress bar drawn")
	}
	// The archive is loadable.
	s, err := LoadTrain(got)
	if err != nil {
		t.Fatal(err)
	}
	equalSet(t, s, want)

	// Without a progress writer and without a checksum.
	dir2 := t.TempDir()
	if _, err := Download(context.Background(), nil, srv.URL, "", dir2, nil); err != nil {
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
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var progress bytes.Buffer
			path, err := Download(context.Background(), nil, tt.url, tt.md5, dir, &progress)
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

func TestDownloadCancel(t *testing.T) {
	srv := serve(t, []byte("data"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := Download(ctx, nil, srv.URL, "", dir, nil); err == nil {
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
		got, err := ensure(ctx, srv.Client(), srv.URL, md5Hex(body), path, true, nil)
		if err != nil || got != path {
			t.Errorf("ensure(%s) = %q, %v, want %q", path, got, err, path)
		}
	}
	if calls != 0 {
		t.Errorf("%d downloads with the files present", calls)
	}

	// Missing, no download.
	dir := t.TempDir()
	_, err := Ensure(ctx, dir, false, nil)
	if err == nil {
		t.Fatal("Ensure on an empty dir without download: no error")
	}
	for _, want := range []string{dir, ArchiveName, BatchesDir + "/", "data.download: true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	// Missing, download.
	got, err := ensure(ctx, srv.Client(), srv.URL, md5Hex(body), dir, true, nil)
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
	if got, err := ensure(ctx, srv.Client(), srv.URL, md5Hex(body), dir, true, nil); err != nil || got != dir || calls != 1 {
		t.Errorf("second ensure = %q, %v after %d downloads", got, err, calls)
	}
}
