package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cifar-resnet/trainer/config"
)

// This file words the advice given with errors about missing data.

// placeHint tells the user where the data files belong.
func placeHint(dir string) string {
	return fmt.Sprintf("put %s or %s/ in %s", ArchiveName, BatchesDir, dir)
}

// namesFile reports whether path, by its extension, names a file (an
// archive or a .bin file) rather than a directory.
func namesFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz", ".tgz", ".tar", ".zip", ".bin":
		return true
	}
	return false
}

// isArchiveName reports whether name is that of a gzip-compressed tar
// archive, the kind [LoadFiles] reads.
func isArchiveName(name string) bool {
	name = strings.ToLower(name)
	return strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz")
}

// didYouMean returns " (did you mean P?)", where P is the archive in the
// directory of path whose name is closest to that of path, or "" if that
// directory holds no archive.
func didYouMean(path string) string {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return ""
	}
	best, bestDist := "", 0
	for _, e := range entries { // sorted by name: ties go to the first
		if !e.Type().IsRegular() || !isArchiveName(e.Name()) {
			continue
		}
		if d := config.EditDistance(base, e.Name()); best == "" || d < bestDist {
			best, bestDist = e.Name(), d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", filepath.Join(dir, best))
}
