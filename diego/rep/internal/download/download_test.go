package download

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// blobstore serves files by path and counts the requests.
type blobstore struct {
	srv   *httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	files map[string]string
	// gate, when set, holds every request until it is closed; arrived
	// gets a value as each request arrives.
	gate    chan struct{}
	arrived chan struct{}
}

func newBlobstore(t *testing.T, files map[string]string) *blobstore {
	b := &blobstore{files: files}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if b.gate != nil {
			b.arrived <- struct{}{}
			<-b.gate
		}
		if r.URL.Query().Get("signature") != "s3cr3t" {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		b.mu.Lock()
		body, ok := b.files[r.URL.Path]
		b.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *blobstore) url(path string) string { return b.srv.URL + path + "?signature=s3cr3t" }

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newDownloader(t *testing.T, cacheBytes int64) *Downloader {
	t.Helper()
	d, err := New(Config{Dir: t.TempDir(), CacheBytes: cacheBytes})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func read(t *testing.T, f *File) string {
	t.Helper()
	b, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFetch(t *testing.T) {
	t.Parallel()
	const droplet = "droplet bytes"
	sha1sum := sha1.Sum([]byte(droplet))
	b := newBlobstore(t, map[string]string{"/droplet": droplet})
	tests := []struct {
		name    string
		req     Request
		wantErr string
		is      error
	}{
		{"sha256", Request{URL: b.url("/droplet"), ChecksumAlgorithm: "sha256", ChecksumValue: sha256Hex(droplet)}, "", nil},
		{"sha1 upper case", Request{URL: b.url("/droplet"), ChecksumAlgorithm: "SHA1", ChecksumValue: strings.ToUpper(hex.EncodeToString(sha1sum[:]))}, "", nil},
		{"no checksum", Request{URL: b.url("/droplet")}, "", nil},
		{"checksum mismatch", Request{URL: b.url("/droplet"), ChecksumAlgorithm: "sha256", ChecksumValue: sha256Hex("other")}, "checksum mismatch", ErrChecksumMismatch},
		{"unknown algorithm", Request{URL: b.url("/droplet"), ChecksumAlgorithm: "md4", ChecksumValue: "x"}, "unsupported checksum algorithm", nil},
		{"not found", Request{URL: b.url("/missing")}, "404", nil},
		{"bad signature", Request{URL: b.srv.URL + "/droplet?signature=wrong"}, "403", nil},
		{"not http", Request{URL: "file:///etc/passwd"}, "invalid URL", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDownloader(t, 1<<20)
			f, err := d.Fetch(context.Background(), tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Fetch = %v, want error containing %q", err, tt.wantErr)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("error %v is not %v", err, tt.is)
				}
				if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "signature") {
					t.Errorf("error leaks the signed URL: %v", err)
				}
				assertEmpty(t, d.tmpDir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Release()
			if got := read(t, f); got != droplet || f.Size != int64(len(droplet)) {
				t.Errorf("file = %q (%d bytes)", got, f.Size)
			}
		})
	}
}

func TestCacheHit(t *testing.T) {
	t.Parallel()
	b := newBlobstore(t, map[string]string{"/droplet": "v1"})
	d := newDownloader(t, 1<<20)
	req := Request{URL: b.url("/droplet"), ChecksumAlgorithm: "sha256", ChecksumValue: sha256Hex("v1"), CacheKey: "droplets-web"}
	first, err := d.Fetch(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	first.Release()
	second, err := d.Fetch(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	if first.Cached || !second.Cached {
		t.Errorf("cached = %v, %v; want false, true", first.Cached, second.Cached)
	}
	if got := b.hits.Load(); got != 1 {
		t.Errorf("blobstore hit %d times, want 1", got)
	}
	if read(t, second) != "v1" {
		t.Error("cached content differs")
	}

	// A new droplet under the same key has a new checksum: downloaded.
	b.mu.Lock()
	b.files["/droplet"] = "v2"
	b.mu.Unlock()
	third, err := d.Fetch(context.Background(), Request{URL: b.url("/droplet"), ChecksumAlgorithm: "sha256", ChecksumValue: sha256Hex("v2"), CacheKey: "droplets-web"})
	if err != nil {
		t.Fatal(err)
	}
	defer third.Release()
	if third.Cached || read(t, third) != "v2" || b.hits.Load() != 2 {
		t.Errorf("third fetch cached=%v content=%q hits=%d", third.Cached, read(t, third), b.hits.Load())
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	t.Parallel()
	b := newBlobstore(t, map[string]string{"/droplet": "bits"})
	dir := t.TempDir()
	req := Request{URL: b.url("/droplet"), ChecksumAlgorithm: "sha256", ChecksumValue: sha256Hex("bits"), CacheKey: "k"}
	for i := range 2 {
		d, err := New(Config{Dir: dir, CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		f, err := d.Fetch(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if f.Cached != (i == 1) {
			t.Errorf("run %d: cached = %v", i, f.Cached)
		}
		f.Release()
	}
	if got := b.hits.Load(); got != 1 {
		t.Errorf("blobstore hit %d times, want 1", got)
	}
}

func TestCacheBound(t *testing.T) {
	t.Parallel()
	files := map[string]string{"/a": strings.Repeat("a", 40), "/b": strings.Repeat("b", 40), "/c": strings.Repeat("c", 40), "/big": strings.Repeat("x", 200)}
	b := newBlobstore(t, files)
	d := newDownloader(t, 100)
	fetch := func(path string) *File {
		t.Helper()
		f, err := d.Fetch(context.Background(), Request{URL: b.url(path), ChecksumAlgorithm: "sha256", ChecksumValue: sha256Hex(files[path]), CacheKey: path})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	fa := fetch("/a")
	fetch("/b").Release()
	// /a is still in use: /b is evicted for /c although /a is older.
	fc := fetch("/c")
	if got := d.CacheBytes(); got != 80 {
		t.Errorf("cache holds %d bytes, want 80", got)
	}
	fa.Release()
	fc.Release()
	hits := b.hits.Load()
	fetch("/a").Release()
	if b.hits.Load() != hits {
		t.Error("/a was evicted while in use")
	}
	fetch("/b").Release()
	if b.hits.Load() != hits+1 {
		t.Error("/b was not evicted")
	}

	// Larger than the whole cache: served, not cached, deleted on release.
	big := fetch("/big")
	if big.Cached || d.CacheBytes() > 100 {
		t.Errorf("big file cached=%v, cache %d bytes", big.Cached, d.CacheBytes())
	}
	big.Release()
	if _, err := os.Stat(big.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("uncached file left behind: %v", err)
	}
}

func TestUncachedFileDeletedOnRelease(t *testing.T) {
	t.Parallel()
	b := newBlobstore(t, map[string]string{"/pkg": "package"})
	d := newDownloader(t, 1<<20)
	f, err := d.Fetch(context.Background(), Request{URL: b.url("/pkg"), CacheKey: "ignored without checksum"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Cached || filepath.Dir(f.Path) != d.tmpDir {
		t.Errorf("file %s cached=%v", f.Path, f.Cached)
	}
	f.Release()
	f.Release()
	assertEmpty(t, d.tmpDir)
	assertEmpty(t, d.cacheDir)
}

func TestConcurrentFetchesDownloadOnce(t *testing.T) {
	t.Parallel()
	b := newBlobstore(t, map[string]string{"/droplet": "shared"})
	b.gate, b.arrived = make(chan struct{}), make(chan struct{}, 5)
	d := newDownloader(t, 1<<20)
	req := Request{URL: b.url("/droplet"), ChecksumAlgorithm: "sha256", ChecksumValue: sha256Hex("shared"), CacheKey: "k"}
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			f, err := d.Fetch(context.Background(), req)
			if err == nil {
				f.Release()
			}
			errs <- err
		})
	}
	// Let the first request through once it arrived; the others wait on
	// its flight (or find the cached file), not on the server.
	select {
	case <-b.arrived:
	case err := <-errs:
		t.Fatalf("fetch returned before the download: %v", err)
	}
	close(b.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := b.hits.Load(); got != 1 {
		t.Errorf("blobstore hit %d times, want 1", got)
	}
}

func TestMaxBytes(t *testing.T) {
	t.Parallel()
	b := newBlobstore(t, map[string]string{"/huge": strings.Repeat("h", 1000)})
	d, err := New(Config{Dir: t.TempDir(), CacheBytes: 1 << 20, MaxBytes: 999})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Fetch(context.Background(), Request{URL: b.url("/huge")}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Fetch = %v, want a size limit error", err)
	}
	assertEmpty(t, d.tmpDir)
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%s holds %d files, want none", dir, len(entries))
	}
}
