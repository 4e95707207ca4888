package resources

import (
	"archive/zip"
	"compress/flate"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// resourceTime is the modification time of entries from the cache, which
// has none: the zip epoch, so equal inputs give equal packages.
var resourceTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// errStopped tells the package writer that storage stopped reading.
var errStopped = errors.New("package storage stopped reading")

// entry is one path of the package being assembled.
type entry struct {
	path   string
	kind   kind
	mode   fs.FileMode // permission bits
	size   int64       // uncompressed
	target string      // symlink target
	zf     *zip.File   // from the upload, or nil
	sha1   string      // from the cache: its SHA-1
}

// Assemble builds the package of key from the uploaded zip bits (nil when
// every file was matched) and the cached resources rs (checked by
// DecodeAssembly), and stores it as packages/key. See the package comment
// for the checks.
func (s *Service) Assemble(ctx context.Context, key string, bits io.ReaderAt, bitsSize int64, rs []apiblob.Resource) (storage.Info, error) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return storage.Info{}, ctx.Err()
	}
	entries, err := s.plan(ctx, bits, bitsSize, rs)
	if err != nil {
		return storage.Info{}, fmt.Errorf("assemble %s: %w", key, err)
	}
	pr, pw := io.Pipe()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := s.write(wctx, pw, entries)
		pw.CloseWithError(err) // nil: EOF
		done <- err
	}()
	info, err := s.store.Put(ctx, apiblob.BucketPackages, key, pr, storage.PutOptions{Size: -1, MaxSize: s.cfg.MaxPackageSize})
	pr.CloseWithError(errStopped) // unblocks the writer if Put failed
	cancel()
	werr := <-done
	if err != nil {
		if werr != nil && !errors.Is(werr, errStopped) && !errors.Is(werr, context.Canceled) {
			err = werr // the writer's error is the cause
		}
		return storage.Info{}, fmt.Errorf("assemble %s: %w", key, err)
	}
	return info, nil
}

// plan opens and checks the upload and the resources, and returns the
// package's entries sorted by path.
func (s *Service) plan(ctx context.Context, bits io.ReaderAt, bitsSize int64, rs []apiblob.Resource) ([]*entry, error) {
	var files []*zip.File
	if bits != nil {
		zr, err := s.openZip(bits, bitsSize)
		if err != nil {
			return nil, err
		}
		files = zr.File
	}
	if len(files)+len(rs) > s.cfg.MaxEntries {
		return nil, fmt.Errorf("%w: %d entries, at most %d", ErrLimit, len(files)+len(rs), s.cfg.MaxEntries)
	}
	t := newTree(len(files) + len(rs))
	entries := make([]*entry, 0, len(files)+len(rs))
	var total int64
	for _, f := range files {
		e, err := zipEntry(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
		}
		total += e.size
		if total > s.cfg.MaxUncompressed || total < 0 {
			return nil, fmt.Errorf("%w: more than %d bytes uncompressed", ErrLimit, s.cfg.MaxUncompressed)
		}
		if err := t.add(e); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
		}
		entries = append(entries, e)
	}
	for _, r := range rs {
		p, err := cleanPath(r.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		if p != r.Path {
			return nil, fmt.Errorf("%w: resource path %q names a directory", ErrInvalidRequest, truncate(r.Path))
		}
		mode, err := ParseMode(r.Mode)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		e := &entry{path: p, kind: kindFile, mode: mode, size: r.Size, sha1: r.SHA1}
		total += e.size
		if total > s.cfg.MaxUncompressed || total < 0 {
			return nil, fmt.Errorf("%w: more than %d bytes uncompressed", ErrLimit, s.cfg.MaxUncompressed)
		}
		if err := t.add(e); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
		}
		entries = append(entries, e)
	}
	for _, e := range entries {
		if e.kind == kindSymlink {
			target, err := readLink(e.zf)
			if err != nil {
				return nil, fmt.Errorf("%w: symlink %q: %w", ErrInvalidPackage, truncate(e.path), err)
			}
			e.target = target
		}
	}
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
	}
	// Every resource must be cached now; a concurrent cleanup may still
	// remove one, which write reports the same way.
	for _, e := range entries {
		if e.sha1 == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.cached(ctx, e); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(entries, func(a, b *entry) int { return strings.Compare(a.path, b.path) })
	return entries, nil
}

func (s *Service) cached(ctx context.Context, e *entry) error {
	info, err := s.store.Stat(ctx, apiblob.BucketResources, apiblob.ResourceKey(e.sha1))
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %s (%s)", ErrResourceNotCached, e.sha1, truncate(e.path))
	}
	if err != nil {
		return err
	}
	if info.Size != e.size {
		return fmt.Errorf("%w: %s is %d bytes in the cache, not %d (%s)", ErrResourceNotCached, e.sha1, info.Size, e.size, truncate(e.path))
	}
	return nil
}

// openZip checks the central directory's bounds, then opens it.
func (s *Service) openZip(r io.ReaderAt, size int64) (*zip.Reader, error) {
	if err := checkDirectory(r, size, s.cfg.MaxEntries); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // paths are checked below, our way
		return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
	}
	return zr, nil
}

// zipEntry checks a zip entry and returns what it becomes in the package.
func zipEntry(f *zip.File) (*entry, error) {
	p, err := cleanPath(f.Name)
	if err != nil {
		return nil, err
	}
	m := f.Mode()
	e := &entry{path: p, zf: f, size: int64(f.UncompressedSize64), mode: m.Perm()}
	if f.UncompressedSize64 > 1<<62 || f.CompressedSize64 > 1<<62 {
		return nil, fmt.Errorf("%q: size out of range", truncate(p))
	}
	switch {
	case m.IsDir():
		e.kind, e.mode = kindDir, 0o755
		if f.UncompressedSize64 != 0 {
			return nil, fmt.Errorf("directory %q has content", truncate(p))
		}
	case m&fs.ModeSymlink != 0:
		e.kind = kindSymlink
		if f.UncompressedSize64 > maxLinkTarget {
			return nil, fmt.Errorf("symlink %q: target longer than %d bytes", truncate(p), maxLinkTarget)
		}
	case m.IsRegular():
		e.kind = kindFile
		if strings.HasSuffix(f.Name, "/") {
			return nil, fmt.Errorf("file %q has a directory name", truncate(p))
		}
		if e.mode == 0 {
			e.mode = 0o644
		}
	default:
		return nil, fmt.Errorf("%q is a %v, only files, directories and symlinks are allowed", truncate(p), m.Type())
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return nil, fmt.Errorf("%q uses compression method %d; only stored and deflated entries are allowed", truncate(p), f.Method)
	}
	return e, nil
}

// readLink reads a symlink entry's target.
func readLink(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxLinkTarget {
		return "", fmt.Errorf("target longer than %d bytes", maxLinkTarget)
	}
	return string(b), nil
}

// write streams the package zip to w.
func (s *Service) write(ctx context.Context, w io.Writer, entries []*entry) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch {
		case e.kind == kindDir:
			h := &zip.FileHeader{Name: e.path + "/", Method: zip.Store, Modified: modified(e)}
			h.SetMode(fs.ModeDir | 0o755)
			_, err = zw.CreateHeader(h)
		case e.kind == kindSymlink:
			h := &zip.FileHeader{Name: e.path, Method: zip.Store, Modified: modified(e)}
			h.SetMode(fs.ModeSymlink | 0o777)
			var fw io.Writer
			if fw, err = zw.CreateHeader(h); err == nil {
				_, err = io.WriteString(fw, e.target)
			}
		case e.zf != nil:
			err = s.copyZipFile(ctx, zw, e)
		default:
			err = s.copyResource(ctx, zw, e)
		}
		if err != nil {
			return err
		}
	}
	return zw.Close()
}

func modified(e *entry) time.Time {
	if e.zf != nil && !e.zf.Modified.IsZero() {
		return e.zf.Modified
	}
	return resourceTime
}

// copyZipFile verifies an uploaded file (decompressing it through a size
// limit and checking its CRC-32), adds it to the cache if it belongs there,
// and copies its compressed bytes into the package.
func (s *Service) copyZipFile(ctx context.Context, zw *zip.Writer, e *entry) error {
	sum, err := verify(e)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrInvalidPackage, truncate(e.path), err)
	}
	if s.Cacheable(e.size) {
		if err := s.cache(ctx, e, sum); err != nil {
			return err
		}
	}
	h := &zip.FileHeader{
		Name:               e.path,
		Method:             e.zf.Method,
		CRC32:              e.zf.CRC32,
		CompressedSize64:   e.zf.CompressedSize64,
		UncompressedSize64: e.zf.UncompressedSize64,
		Modified:           modified(e),
	}
	if !asciiOnly(e.path) && utf8.ValidString(e.path) {
		h.Flags |= 0x800 // UTF-8 name
	}
	h.SetMode(e.mode)
	fw, err := zw.CreateRaw(h)
	if err != nil {
		return err
	}
	raw, err := e.zf.OpenRaw()
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrInvalidPackage, truncate(e.path), err)
	}
	n, err := io.Copy(fw, raw)
	if err != nil {
		return err
	}
	if uint64(n) != e.zf.CompressedSize64 {
		return fmt.Errorf("%w: %q: compressed data is %d bytes, not %d", ErrInvalidPackage, truncate(e.path), n, e.zf.CompressedSize64)
	}
	return nil
}

// verify decompresses an uploaded file and returns its SHA-1. It reads at
// most the declared size plus one byte and checks the CRC-32 itself, so a
// lying header cannot make it read more or pass bad data.
func verify(e *entry) (string, error) {
	rc, err := e.zf.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha1.New()
	c := crc32.NewIEEE()
	n, err := io.Copy(io.MultiWriter(h, c), io.LimitReader(rc, e.size+1))
	if err != nil {
		return "", err
	}
	if n != e.size {
		return "", fmt.Errorf("content is %d bytes, the header says %d", n, e.size)
	}
	if c.Sum32() != e.zf.CRC32 {
		return "", errors.New("CRC-32 mismatch")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cache stores an uploaded file in the cache unless it is there already.
func (s *Service) cache(ctx context.Context, e *entry, sum string) error {
	key := apiblob.ResourceKey(sum)
	if _, err := s.store.Stat(ctx, apiblob.BucketResources, key); err == nil {
		return nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	rc, err := e.zf.Open()
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrInvalidPackage, truncate(e.path), err)
	}
	defer rc.Close()
	_, err = s.store.Put(ctx, apiblob.BucketResources, key, rc, storage.PutOptions{Size: e.size, MaxSize: e.size, SHA1: sha1Bytes(sum)})
	if err != nil {
		return fmt.Errorf("cache %s: %w", truncate(e.path), err)
	}
	return nil
}

// copyResource deflates a cached file into the package.
func (s *Service) copyResource(ctx context.Context, zw *zip.Writer, e *entry) error {
	o, err := s.store.Open(ctx, apiblob.BucketResources, apiblob.ResourceKey(e.sha1))
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %s (%s)", ErrResourceNotCached, e.sha1, truncate(e.path))
	}
	if err != nil {
		return err
	}
	defer o.Content.Close()
	if o.Info.Size != e.size || o.Info.SHA1Hex() != e.sha1 {
		return fmt.Errorf("%w: %s changed in the cache (%s)", ErrResourceNotCached, e.sha1, truncate(e.path))
	}
	h := &zip.FileHeader{Name: e.path, Method: zip.Deflate, Modified: resourceTime}
	h.SetMode(e.mode)
	fw, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	n, err := io.Copy(fw, o.Content)
	if err != nil {
		return err
	}
	if n != e.size {
		return fmt.Errorf("cached resource %s is %d bytes, not %d", e.sha1, n, e.size)
	}
	return nil
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
