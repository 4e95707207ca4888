package containerd

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// extractTarball extracts tb into the container root filesystem mounted at
// rootDir. Every entry, and every directory the extraction creates, is
// owned by tb.UID:tb.GID. Only directories, regular files, symlinks and
// hard links are extracted; set-id bits and extended attributes (file
// capabilities among them) are dropped. All file operations go through
// os.Root, so no entry and no symlink, in the tarball or in the stack,
// leads outside the container's root filesystem.
func extractTarball(ctx context.Context, rootDir string, tb runtime.Tarball) error {
	f, err := os.Open(tb.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	}

	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := extractor{uid: int(tb.UID), gid: int(tb.GID)}
	dest := strings.TrimPrefix(path.Clean("/"+tb.Destination), "/")
	if err := x.mkdirs(root, dest); err != nil {
		return fmt.Errorf("destination %s: %w", tb.Destination, err)
	}
	if dest != "" {
		if root, err = root.OpenRoot(dest); err != nil {
			return fmt.Errorf("destination %s: %w", tb.Destination, err)
		}
		defer root.Close()
	}
	return x.extract(ctx, root, tar.NewReader(r))
}

type extractor struct {
	uid, gid int
}

// mkdirs creates the missing directories of dir (relative to root), owned
// by the extractor's user.
func (x extractor) mkdirs(root *os.Root, dir string) error {
	if dir == "" || dir == "." {
		return nil
	}
	if fi, err := root.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if err := x.mkdirs(root, path.Dir(dir)); err != nil {
		return err
	}
	if err := root.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return root.Lchown(dir, x.uid, x.gid)
}

func (x extractor) extract(ctx context.Context, root *os.Root, tr *tar.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tarball: %w", err)
		}
		if err := x.entry(root, hdr, tr); err != nil {
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
	}
}

func (x extractor) entry(root *os.Root, hdr *tar.Header, r io.Reader) error {
	name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
	mode := fs.FileMode(hdr.Mode).Perm() // no setuid, setgid or sticky bits
	if name == "" {
		return nil // the destination itself
	}
	if err := x.mkdirs(root, path.Dir(name)); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(name, mode); err != nil {
			if fi, serr := root.Lstat(name); serr != nil || !fi.IsDir() {
				return err
			}
		}
	case tar.TypeReg:
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return root.Lchown(name, x.uid, x.gid)
	case tar.TypeLink:
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		target := strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
		return root.Link(target, name)
	default:
		return nil // devices, FIFOs and the like are skipped
	}
	if err := root.Lchown(name, x.uid, x.gid); err != nil {
		return err
	}
	// Chmod after chown (chown clears set-id bits) and because the umask
	// narrowed the mode at creation.
	if err := root.Chmod(name, mode); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && !hdr.ModTime.IsZero() {
		return root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	}
	return nil
}

// removeNonDir removes what is at name unless it is a directory.
func removeNonDir(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", name)
	}
	return root.Remove(name)
}
