package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// writebackEvery is how many bytes a Put writes before it asks the kernel
// to start writing them back, so the final fsync has little left to do.
const writebackEvery = 8 << 20

// Put stores r's content under (bucket, key). See the package comment for
// the steps and guarantees.
func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	name, err := objectName(bucket, key)
	if err != nil {
		return storage.Info{}, err
	}
	if opts.MaxSize >= 0 && opts.Size > opts.MaxSize {
		return storage.Info{}, fmt.Errorf("%w: %d bytes, the limit is %d", storage.ErrTooLarge, opts.Size, opts.MaxSize)
	}
	f, tmp, err := s.createTemp()
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: put %s: %w", name, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			s.root.Remove(tmp)
		}
	}()
	if opts.Size > 0 {
		if err := reserve(f, opts.Size); err != nil {
			return storage.Info{}, fmt.Errorf("localfs: put %s: reserve %d bytes: %w", name, opts.Size, err)
		}
	}
	d, err := storage.Ingest(&writeback{f: f}, r, opts.MaxSize)
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: put %s: %w", name, classify(err))
	}
	if err := d.Check(opts); err != nil {
		return storage.Info{}, fmt.Errorf("localfs: put %s: %w", name, err)
	}
	if err := s.seal(f, d); err != nil {
		return storage.Info{}, fmt.Errorf("localfs: put %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("localfs: put %s: %w", name, err)
	}
	info, err := s.commit(f, tmp, name, opts)
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: put %s: %w", name, err)
	}
	committed = true
	info.Bucket, info.Key = bucket, key
	return info, nil
}

// Copy copies src to dst (copy_file_range where the filesystem has it) and
// commits it like a Put. The digests are the source's.
func (s *Store) Copy(ctx context.Context, src, dst storage.Ref) (storage.Info, error) {
	srcName, err := objectName(src.Bucket, src.Key)
	if err != nil {
		return storage.Info{}, err
	}
	dstName, err := objectName(dst.Bucket, dst.Key)
	if err != nil {
		return storage.Info{}, err
	}
	in, err := s.openObject(srcName)
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: copy %s: %w", srcName, err)
	}
	defer in.Close()
	d, err := readMeta(in.f, in.size)
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: copy %s: %w", srcName, err)
	}
	f, tmp, err := s.createTemp()
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: copy to %s: %w", dstName, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			s.root.Remove(tmp)
		}
	}()
	if d.Size > 0 {
		if err := reserve(f, d.Size); err != nil {
			return storage.Info{}, fmt.Errorf("localfs: copy to %s: %w", dstName, err)
		}
	}
	n, err := io.Copy(f, in.f)
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: copy to %s: %w", dstName, classify(err))
	}
	if n != d.Size {
		return storage.Info{}, fmt.Errorf("localfs: copy %s: %w: copied %d bytes of %d", srcName, storage.ErrCorrupt, n, d.Size)
	}
	if err := s.seal(f, d); err != nil {
		return storage.Info{}, fmt.Errorf("localfs: copy to %s: %w", dstName, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("localfs: copy to %s: %w", dstName, err)
	}
	info, err := s.commit(f, tmp, dstName, storage.PutOptions{})
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: copy to %s: %w", dstName, err)
	}
	committed = true
	info.Bucket, info.Key = dst.Bucket, dst.Key
	return info, nil
}

// seal writes the metadata and makes the temp file durable.
func (s *Store) seal(f *os.File, d storage.Digest) error {
	if err := writeMeta(f, d); err != nil {
		return fmt.Errorf("write metadata: %w", classify(err))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", classify(err))
	}
	return nil
}

// commit renames the sealed temp file f over name, checking opts'
// preconditions under the key's lock, and closes f.
func (s *Store) commit(f *os.File, tmp, name string, opts storage.PutOptions) (storage.Info, error) {
	st, err := f.Stat()
	if err != nil {
		return storage.Info{}, err
	}
	d, err := readMeta(f, st.Size())
	if err != nil {
		return storage.Info{}, err
	}
	if err := f.Close(); err != nil {
		return storage.Info{}, classify(err)
	}
	mu := s.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	if opts.IfMatch != "" || opts.IfNoneMatch {
		if err := s.precondition(name, opts); err != nil {
			return storage.Info{}, err
		}
	}
	dir := path.Dir(name)
	for attempt := 1; ; attempt++ {
		if err := s.root.MkdirAll(dir, dirPerm); err != nil {
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EEXIST) {
				return storage.Info{}, fmt.Errorf("%w: a key above %s is an object", storage.ErrConflict, name)
			}
			return storage.Info{}, classify(err)
		}
		err := s.root.Rename(tmp, name)
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, syscall.ENOENT) && attempt < renameAttempts:
			continue // a concurrent Delete removed the empty parent
		case errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST):
			return storage.Info{}, fmt.Errorf("%w: %s is a prefix of other keys", storage.ErrConflict, name)
		case errors.Is(err, syscall.ENOTDIR):
			return storage.Info{}, fmt.Errorf("%w: a key above %s is an object", storage.ErrConflict, name)
		}
		return storage.Info{}, classify(err)
	}
	if err := s.syncDir(dir); err != nil {
		return storage.Info{}, fmt.Errorf("fsync %s: %w", dir, err)
	}
	return storage.Info{Size: d.Size, SHA256: d.SHA256, SHA1: d.SHA1, Modified: st.ModTime()}, nil
}

func (s *Store) precondition(name string, opts storage.PutOptions) error {
	cur, err := s.statName(name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if opts.IfMatch != "" {
			return fmt.Errorf("%w: If-Match %s but there is no object", storage.ErrPreconditionFailed, opts.IfMatch)
		}
		return nil
	case err != nil:
		return err
	case opts.IfNoneMatch:
		return fmt.Errorf("%w: the object exists", storage.ErrPreconditionFailed)
	case opts.IfMatch != "*" && opts.IfMatch != cur.ETag():
		return fmt.Errorf("%w: the object's ETag is %s, not %s", storage.ErrPreconditionFailed, cur.ETag(), opts.IfMatch)
	}
	return nil
}

// reserve allocates size bytes for f without changing its length, so a
// full disk fails the upload at once. Filesystems without fallocate are
// fine: the writes fail instead.
func reserve(f *os.File, size int64) error {
	err := withFd(f, func(fd int) error { return unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 0, size) })
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return nil
	}
	return classify(err)
}

// writeback writes to f and starts writeback of every writebackEvery bytes
// (sync_file_range, asynchronous), so dirty pages do not pile up for the
// final fsync.
type writeback struct {
	f       *os.File
	off     int64
	flushed int64
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if err != nil {
		return n, err
	}
	if w.off-w.flushed >= writebackEvery {
		start, length := w.flushed, w.off-w.flushed
		_ = withFd(w.f, func(fd int) error {
			return unix.SyncFileRange(fd, start, length, unix.SYNC_FILE_RANGE_WRITE)
		}) // advisory: the fsync in seal is what counts
		w.flushed = w.off
	}
	return n, nil
}
