// Package download fetches the archives a container needs before it starts
// (the droplet, an app package, buildpacks) from signed blobstore URLs, as
// Diego's executor download step and cached downloader do.
//
// Every download is checked against the checksum it comes with (sha1,
// sha256 or sha512); a mismatch is an error and nothing is kept. Downloads
// with a checksum are kept in a per-cell cache, named by their cache key
// and checksum, so the next container of the same droplet starts without
// downloading it again. The cache is bounded in bytes: least recently used
// files that no container is being created from are evicted to make room,
// and a file larger than the whole cache is served once and deleted.
// Downloads without a checksum are never cached, because nothing would
// tell a stale copy from a fresh one.
//
// The cache survives restarts: its files are named by a hash of their key
// and found again by New. Fetch is safe for concurrent use; concurrent
// fetches of the same cached key download once.
package download

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrChecksumMismatch is returned when the downloaded bytes do not match
// the expected checksum.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// DefaultMaxBytes bounds one download when Config.MaxBytes is zero.
const DefaultMaxBytes = 4 << 30

// Config configures a Downloader.
type Config struct {
	// Dir holds the cache (Dir/cache) and downloads in progress (Dir/tmp).
	Dir string
	// CacheBytes bounds the cache's total size; 0 disables caching.
	CacheBytes int64
	// MaxBytes bounds one download (DefaultMaxBytes when 0).
	MaxBytes int64
	// Client makes the requests; nil means a client with a 10-minute
	// overall timeout.
	Client *http.Client
	Logger *slog.Logger
}

// Request is one archive to fetch.
type Request struct {
	URL string
	// ChecksumAlgorithm is "sha1", "sha256" or "sha512"; empty means not
	// checked (and not cached).
	ChecksumAlgorithm string
	ChecksumValue     string
	// CacheKey names the archive in the cache together with its checksum.
	CacheKey string
}

// File is a fetched archive. Release it once the container was created
// from it: a cached file is then evictable, an uncached one is deleted.
type File struct {
	Path string
	Size int64
	// Cached is true when the file came from the cache without a download.
	Cached  bool
	release func()
	once    sync.Once
}

// Release gives the file back. It may be called more than once.
func (f *File) Release() {
	f.once.Do(func() {
		if f.release != nil {
			f.release()
		}
	})
}

// Downloader fetches archives.
type Downloader struct {
	cfg      Config
	client   *http.Client
	logger   *slog.Logger
	cacheDir string
	tmpDir   string

	mu      sync.Mutex
	entries map[string]*entry // by file name
	total   int64
	flights map[string]*flight
}

type entry struct {
	name     string
	size     int64
	lastUsed time.Time
	refs     int
}

type flight struct {
	done chan struct{}
	err  error
}

// New prepares Dir, deletes unfinished downloads and indexes the cache
// left by a previous run (trimming it to CacheBytes).
func New(cfg Config) (*Downloader, error) {
	if cfg.Dir == "" {
		return nil, errors.New("download: no directory")
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	d := &Downloader{
		cfg:      cfg,
		client:   cfg.Client,
		logger:   cfg.Logger,
		cacheDir: filepath.Join(cfg.Dir, "cache"),
		tmpDir:   filepath.Join(cfg.Dir, "tmp"),
		entries:  make(map[string]*entry),
		flights:  make(map[string]*flight),
	}
	if d.client == nil {
		d.client = &http.Client{Timeout: 10 * time.Minute}
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	if err := os.RemoveAll(d.tmpDir); err != nil {
		return nil, fmt.Errorf("download: clear %s: %w", d.tmpDir, err)
	}
	for _, dir := range []string{d.cacheDir, d.tmpDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("download: %w", err)
		}
	}
	files, err := os.ReadDir(d.cacheDir)
	if err != nil {
		return nil, fmt.Errorf("download: read cache: %w", err)
	}
	for _, f := range files {
		info, err := f.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		d.entries[f.Name()] = &entry{name: f.Name(), size: info.Size(), lastUsed: info.ModTime()}
		d.total += info.Size()
	}
	d.mu.Lock()
	d.evictLocked(0)
	d.mu.Unlock()
	return d, nil
}

// CacheBytes returns the cache's current size.
func (d *Downloader) CacheBytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

// Fetch downloads req, or takes it from the cache.
func (d *Downloader) Fetch(ctx context.Context, req Request) (*File, error) {
	newHash, err := hasher(req.ChecksumAlgorithm)
	if err != nil {
		return nil, err
	}
	if newHash == nil || d.cfg.CacheBytes <= 0 {
		return d.fetchUncached(ctx, req, newHash)
	}
	name := cacheName(req)
	for {
		d.mu.Lock()
		if e, ok := d.entries[name]; ok {
			e.refs++
			e.lastUsed = time.Now()
			d.mu.Unlock()
			return d.cachedFile(e, true), nil
		}
		if f, ok := d.flights[name]; ok {
			d.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err != nil {
				return nil, f.err
			}
			continue // now cached, or not cacheable: look again
		}
		f := &flight{done: make(chan struct{})}
		d.flights[name] = f
		d.mu.Unlock()

		file, err := d.fetchInto(ctx, req, newHash, name)
		d.mu.Lock()
		delete(d.flights, name)
		d.mu.Unlock()
		f.err = err
		close(f.done)
		return file, err
	}
}

// fetchInto downloads req and adds it to the cache as name, or, when it
// does not fit, returns it as an uncached file.
func (d *Downloader) fetchInto(ctx context.Context, req Request, newHash func() hash.Hash, name string) (*File, error) {
	tmp, size, err := d.download(ctx, req, newHash)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if size > d.cfg.CacheBytes || !d.evictLocked(size) {
		return d.tempFile(tmp, size), nil
	}
	path := filepath.Join(d.cacheDir, name)
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("download: cache %s: %w", req.CacheKey, err)
	}
	e := &entry{name: name, size: size, lastUsed: time.Now(), refs: 1}
	d.entries[name] = e
	d.total += size
	return d.cachedFile(e, false), nil
}

func (d *Downloader) fetchUncached(ctx context.Context, req Request, newHash func() hash.Hash) (*File, error) {
	tmp, size, err := d.download(ctx, req, newHash)
	if err != nil {
		return nil, err
	}
	return d.tempFile(tmp, size), nil
}

func (d *Downloader) tempFile(path string, size int64) *File {
	return &File{Path: path, Size: size, release: func() { os.Remove(path) }}
}

func (d *Downloader) cachedFile(e *entry, hit bool) *File {
	return &File{Path: filepath.Join(d.cacheDir, e.name), Size: e.size, Cached: hit, release: func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		e.refs--
		e.lastUsed = time.Now()
		// Entries may have waited for their references to go.
		d.evictLocked(0)
	}}
}

// evictLocked removes least recently used unreferenced entries until
// need more bytes fit, and reports whether they do.
func (d *Downloader) evictLocked(need int64) bool {
	if d.total+need <= d.cfg.CacheBytes {
		return true
	}
	var idle []*entry
	for _, e := range d.entries {
		if e.refs == 0 {
			idle = append(idle, e)
		}
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i].lastUsed.Before(idle[j].lastUsed) })
	for _, e := range idle {
		if d.total+need <= d.cfg.CacheBytes {
			break
		}
		if err := os.Remove(filepath.Join(d.cacheDir, e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.logger.Warn("cannot evict cached download", "file", e.name, "err", err)
			continue
		}
		delete(d.entries, e.name)
		d.total -= e.size
	}
	return d.total+need <= d.cfg.CacheBytes
}

// download GETs req into a file in tmpDir, checking its size and checksum,
// and returns the file's path.
func (d *Downloader) download(ctx context.Context, req Request, newHash func() hash.Hash) (string, int64, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL is signed: never print it.
		return "", 0, errors.New("download: invalid URL")
	}
	where := redact(u)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
	if err != nil {
		return "", 0, fmt.Errorf("download %s: %w", where, err)
	}
	resp, err := d.client.Do(hreq)
	if err != nil {
		return "", 0, fmt.Errorf("download %s: %w", where, redactErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("download %s: unexpected status %s", where, resp.Status)
	}
	if resp.ContentLength > d.cfg.MaxBytes {
		return "", 0, fmt.Errorf("download %s: %d bytes is more than the limit of %d", where, resp.ContentLength, d.cfg.MaxBytes)
	}
	f, err := os.CreateTemp(d.tmpDir, "download-")
	if err != nil {
		return "", 0, fmt.Errorf("download %s: %w", where, err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var h hash.Hash
	w := io.Writer(f)
	if newHash != nil {
		h = newHash()
		w = io.MultiWriter(f, h)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, d.cfg.MaxBytes+1))
	if err != nil {
		return "", 0, fmt.Errorf("download %s: %w", where, redactErr(err))
	}
	if n > d.cfg.MaxBytes {
		return "", 0, fmt.Errorf("download %s: more than the limit of %d bytes", where, d.cfg.MaxBytes)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", 0, fmt.Errorf("download %s: got %d of %d bytes", where, n, resp.ContentLength)
	}
	if h != nil {
		got := hex.EncodeToString(h.Sum(nil))
		if !strings.EqualFold(got, strings.TrimSpace(req.ChecksumValue)) {
			return "", 0, fmt.Errorf("download %s: %w: %s is %s, want %s", where, ErrChecksumMismatch,
				strings.ToLower(req.ChecksumAlgorithm), got, req.ChecksumValue)
		}
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("download %s: %w", where, err)
	}
	keep = true
	return f.Name(), n, nil
}

// hasher returns the hash for a checksum algorithm, nil for none.
func hasher(alg string) (func() hash.Hash, error) {
	switch strings.ToLower(alg) {
	case "":
		return nil, nil
	case "sha1":
		return sha1.New, nil
	case "sha256":
		return sha256.New, nil
	case "sha512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("download: unsupported checksum algorithm %q", alg)
}

// cacheName is the cache file of req: a hash of its cache key and
// checksum, so that names are safe and a new droplet (new checksum) under
// the same key is a new file.
func cacheName(req Request) string {
	sum := sha256.Sum256([]byte(req.CacheKey + "\x00" + strings.ToLower(req.ChecksumAlgorithm) + ":" + strings.ToLower(strings.TrimSpace(req.ChecksumValue))))
	return hex.EncodeToString(sum[:])
}

// redact is a URL without its query (the signature) and user info, for
// errors and logs.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

// redactErr drops the URL from net/http's *url.Error, which prints it
// whole.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
