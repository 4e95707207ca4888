// Package localfs is the blobstore's local filesystem backend.
//
// Layout under the configured directory:
//
//	LOCK                      flock'ed by the one process that owns the directory
//	tmp/<random>.part         uploads in progress
//	objects/<bucket>/<key>    one plain file per object; key slashes are directories
//
// Each object file holds exactly the object's bytes, so reads can use
// sendfile and an operator can copy a file out. Its size and digests live
// in the extended attribute user.anvil.blob (version byte, size, SHA-256,
// SHA-1), written to the temp file before it is renamed into place, so
// content and metadata appear together. The filesystem must support user
// extended attributes (ext4, xfs, btrfs, tmpfs ≥ Linux 6.6); Open checks.
//
// Writes: a Put streams into tmp/ (space reserved up front with fallocate
// when the size is known, writeback started every 8 MiB), checks size and
// digests, writes the metadata, fsyncs the file, renames it over
// objects/<bucket>/<key> and fsyncs the directory. A crash at any point
// leaves at most a file in tmp/, which Open removes: only one process may
// own the directory (LOCK), so everything in tmp/ at start is garbage.
// Objects are never modified in place, which is why an open object keeps
// reading the version it opened.
//
// Concurrency: Puts and Copies to one key race only at the rename, and the
// last rename wins. A conditional Put (IfMatch/IfNoneMatch) checks and
// renames under a per-key lock (one of 64 stripes). Delete removes empty
// parent directories; a Put whose parent vanished that way recreates it
// and retries the rename.
//
// A key cannot be both an object and a prefix of other keys ("a" and
// "a/b"): the second Put fails with storage.ErrConflict. Anvil's keys (GUIDs,
// GUID/stack, partitioned SHA-1s) never clash this way.
package localfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

const (
	objectsDir = "objects"
	tmpDir     = "tmp"
	lockName   = "LOCK"
	dirPerm    = 0o750
	filePerm   = 0o640
	// renameAttempts bounds the retries of a rename whose parent directory
	// a concurrent Delete removed.
	renameAttempts = 16
)

// Store is a local filesystem backend. Its methods are safe for concurrent
// use.
type Store struct {
	dir     string
	root    *os.Root
	lock    *os.File
	logger  *slog.Logger
	stripes [64]sync.Mutex
}

var _ storage.Backend = (*Store)(nil)

// Open takes ownership of dir (creating it if needed): it locks it, checks
// that the filesystem supports user extended attributes and removes the
// temp files of uploads a previous process did not finish. It fails if
// another process owns dir.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(abs, lockName), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	if err := withFd(lock, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("localfs: %s is in use by another blobstore process", abs)
		}
		return nil, fmt.Errorf("localfs: lock %s: %w", abs, err)
	}
	s := &Store{dir: abs, lock: lock, logger: logger}
	if err := s.init(); err != nil {
		s.Close()
		return nil, fmt.Errorf("localfs: %w", err)
	}
	return s, nil
}

func (s *Store) init() error {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return err
	}
	s.root = root
	for _, d := range []string{objectsDir, tmpDir} {
		if err := root.MkdirAll(d, dirPerm); err != nil {
			return err
		}
	}
	n, err := s.sweep()
	if err != nil {
		return fmt.Errorf("sweep %s: %w", tmpDir, err)
	}
	if n > 0 {
		s.logger.Info("removed incomplete uploads", "count", n, "dir", filepath.Join(s.dir, tmpDir))
	}
	return s.probeXattr()
}

// sweep removes everything in tmp/.
func (s *Store) sweep() (int, error) {
	d, err := s.root.Open(tmpDir)
	if err != nil {
		return 0, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, err
	}
	for _, n := range names {
		if err := s.root.RemoveAll(path.Join(tmpDir, n)); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}

func (s *Store) probeXattr() error {
	f, name, err := s.createTemp()
	if err != nil {
		return err
	}
	defer s.root.Remove(name)
	defer f.Close()
	err = withFd(f, func(fd int) error { return unix.Fsetxattr(fd, "user.anvil.probe", []byte{1}, 0) })
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("the filesystem of %s does not support user extended attributes, which hold object digests", s.dir)
	}
	return err
}

// Close releases the directory.
func (s *Store) Close() error {
	var errs []error
	if s.root != nil {
		errs = append(errs, s.root.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // closing releases the flock
	}
	return errors.Join(errs...)
}

// Dir returns the absolute path of the directory.
func (s *Store) Dir() string { return s.dir }

// TempDir returns the directory of uploads in progress. It is emptied at
// Open; other scratch files of the blobstore may live there too.
func (s *Store) TempDir() string { return filepath.Join(s.dir, tmpDir) }

// FreeBytes returns the bytes available to the blobstore on the filesystem.
func (s *Store) FreeBytes() (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return 0, fmt.Errorf("localfs: statfs: %w", err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Check reports whether the directory is still usable.
func (s *Store) Check(context.Context) error {
	if _, err := s.FreeBytes(); err != nil {
		return err
	}
	if _, err := s.root.Stat(objectsDir); err != nil {
		return fmt.Errorf("localfs: %w", err)
	}
	return nil
}

// objectName returns the root-relative path of an object.
func objectName(bucket, key string) (string, error) {
	if !apiblob.ValidBucket(bucket) {
		return "", fmt.Errorf("%w: unknown bucket %q", storage.ErrInvalidKey, bucket)
	}
	if err := apiblob.ValidateKey(key); err != nil {
		return "", fmt.Errorf("%w: %w", storage.ErrInvalidKey, err)
	}
	return objectsDir + "/" + bucket + "/" + key, nil
}

// createTemp creates a new file in tmp/.
func (s *Store) createTemp() (*os.File, string, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	name := tmpDir + "/" + hex.EncodeToString(b[:]) + ".part"
	f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, "", classify(err)
	}
	return f, name, nil
}

func (s *Store) stripe(name string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(name))
	return &s.stripes[h.Sum32()%uint32(len(s.stripes))]
}

// syncDir fsyncs a root-relative directory, so a rename or removal in it
// is durable.
func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// classify maps filesystem errors to storage errors.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %w", storage.ErrNoSpace, err)
	}
	return err
}

// notFound reports whether err means a path does not name an object.
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
