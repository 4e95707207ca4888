// Package buildpackzip packs a buildpack source directory into the zip the
// Cloud Controller stores as a system buildpack: bin/ and the other files
// at the top level, executable bits kept, Go sources and testdata left out,
// plus extra files such as a prebuilt binary. The archive is reproducible:
// entries are sorted and carry a fixed time.
package buildpackzip

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// modTime is the time every entry carries (the zip epoch).
var modTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Extra is a file added to the zip at Name (slash-separated) from Path.
type Extra struct {
	Name string
	Path string
}

// skip reports whether a source path is left out: Go sources, module files
// and testdata, which build the buildpack's binaries but do not ship.
func skip(d fs.DirEntry) bool {
	base := d.Name()
	if d.IsDir() {
		return base == "testdata" || strings.HasPrefix(base, ".")
	}
	return strings.HasSuffix(base, ".go") || base == "go.mod" || base == "go.sum" || strings.HasPrefix(base, ".")
}

// Write zips dir and extras to w.
func Write(w io.Writer, dir string, extras ...Extra) error {
	type entry struct{ name, path string }
	var entries []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if skip(d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			entries = append(entries, entry{filepath.ToSlash(rel), p})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("buildpackzip: %w", err)
	}
	for _, e := range extras {
		entries = append(entries, entry{path.Clean(e.Name), e.Path})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	zw := zip.NewWriter(w)
	for i, e := range entries {
		if i > 0 && entries[i-1].name == e.name {
			return fmt.Errorf("buildpackzip: %s added twice", e.name)
		}
		if err := addFile(zw, e.name, e.path); err != nil {
			return fmt.Errorf("buildpackzip: %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("buildpackzip: %w", err)
	}
	return nil
}

func addFile(zw *zip.Writer, name, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	hdr, err := zip.FileInfoHeader(fi)
	if err != nil {
		return err
	}
	hdr.Name = name
	hdr.Method = zip.Deflate
	hdr.Modified = modTime
	hdr.SetMode(fi.Mode().Perm())
	zw2, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(zw2, f)
	return err
}
