// Package toolchain packs the lean Go toolchain that go_buildpack bundles:
// the go command, the compiler, assembler and linker, and the standard
// library's sources, from a GOROOT, as a reproducible gzipped tarball whose
// entries sit under go/. What a `go build` of an app with CGO_ENABLED=0 does
// not need is left out: tests and testdata, the toolchain's own sources
// (src/cmd), docs, api/, misc/, test/, gofmt, and the cover, vet, fix and cgo
// tools.
package toolchain

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// tools are the programs of pkg/tool/<goos>_<goarch> a build runs
// (preprofile for a default.pgo).
var tools = map[string]bool{"asm": true, "compile": true, "link": true, "preprofile": true, "buildid": true}

// Keep reports whether the slash-separated path rel (relative to GOROOT) is
// packed; for a directory, false skips everything under it.
func Keep(rel string, dir bool) bool {
	parts := strings.Split(rel, "/")
	switch {
	case rel == "VERSION" || rel == "go.env" || rel == "LICENSE":
		return !dir
	case parts[0] == "bin":
		return len(parts) == 1 || rel == "bin/go"
	case parts[0] == "lib":
		return len(parts) == 1 || parts[1] == "fips140"
	case parts[0] == "pkg":
		switch {
		case len(parts) == 1:
			return true
		case parts[1] == "include":
			return true
		case parts[1] == "tool":
			if len(parts) == 2 {
				return true
			}
			if parts[2] != runtime.GOOS+"_"+runtime.GOARCH {
				return false
			}
			return len(parts) == 3 || (len(parts) == 4 && tools[parts[3]])
		}
		return false
	case parts[0] == "src":
		if len(parts) > 1 && parts[1] == "cmd" {
			return false
		}
		base := parts[len(parts)-1]
		if dir {
			return base != "testdata"
		}
		return !strings.HasSuffix(base, "_test.go")
	}
	return false
}

// modTime is the time every entry carries.
var modTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Write packs goroot's kept files into w as a gzipped tarball under go/.
// Entries are in walk (lexical) order with fixed times and owners, so the
// same GOROOT always gives the same bytes.
func Write(w io.Writer, goroot string) error {
	if _, err := os.Stat(filepath.Join(goroot, "bin", "go")); err != nil {
		return fmt.Errorf("toolchain: %s is not a GOROOT: %w", goroot, err)
	}
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return fmt.Errorf("toolchain: %w", err)
	}
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(goroot, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !Keep(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return add(tw, p, path.Join("go", rel), d)
	})
	if err != nil {
		return fmt.Errorf("toolchain: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("toolchain: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("toolchain: %w", err)
	}
	return nil
}

func add(tw *tar.Writer, p, name string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, ModTime: modTime, Format: tar.FormatPAX}
	switch {
	case fi.IsDir():
		hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, name+"/", 0o755
		return tw.WriteHeader(hdr)
	case fi.Mode().IsRegular():
		hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, fi.Size(), 0o644
		if fi.Mode()&0o111 != 0 {
			hdr.Mode = 0o755
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
		return tw.WriteHeader(hdr)
	default:
		return nil // sockets, devices: none in a GOROOT
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
