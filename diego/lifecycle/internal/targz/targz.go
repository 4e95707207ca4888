// Package targz writes and reads the gzipped tarballs the lifecycle produces:
// droplets and build-artifacts caches. Entries are named "./<path>" like
// `tar -C dir -czf out .`, keep modes and symlinks, and are written in
// lexical order so the same tree gives the same archive.
package targz

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Source is one directory to put into an archive under Prefix ("" for the
// archive root, or a slash-separated path such as "app").
type Source struct {
	Dir    string
	Prefix string
}

// WriteFile writes the sources into a new gzipped tarball at dst.
func WriteFile(dst string, sources ...Source) (err error) {
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("targz: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("targz: %w", cerr)
		}
	}()
	return Write(f, sources...)
}

// Write writes the sources as a gzipped tarball to w. A source directory
// that does not exist contributes nothing.
func Write(w io.Writer, sources ...Source) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}); err != nil {
		return fmt.Errorf("targz: %w", err)
	}
	for _, src := range sources {
		if err := addDir(tw, src); err != nil {
			return fmt.Errorf("targz: %s: %w", src.Dir, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("targz: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("targz: %w", err)
	}
	return nil
}

func addDir(tw *tar.Writer, src Source) error {
	if _, err := os.Lstat(src.Dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(src.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src.Dir, p)
		if err != nil {
			return err
		}
		name := path.Join(src.Prefix, filepath.ToSlash(rel))
		if name == "." {
			return nil // the archive root is written once by Write
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = "./" + name
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return err
		}
		return nil
	})
}

// Extract unpacks a gzipped tarball into dir, refusing entries that would
// land outside it.
func Extract(r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("targz: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("targz: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if name == "." || name == "" {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("targz: entry %q leaves the destination", hdr.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("targz: %w", err)
		}
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, mode|0o700); err != nil {
				return fmt.Errorf("targz: %w", err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, dst); err != nil {
				return fmt.Errorf("targz: %w", err)
			}
		case tar.TypeReg:
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return fmt.Errorf("targz: %w", err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("targz: %w", err)
			}
		}
	}
}
