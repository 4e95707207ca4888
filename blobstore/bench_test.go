package blobstore_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore"
)

// Run with: make bench, or
//
//	go test -run '^$' -bench . -benchmem ./blobstore/
//
// BenchmarkCopy* are the baseline: a plain file copy of the same size on
// the same disk (io.Copy between files, which is copy_file_range, as cp
// does), without and with the fsync that makes it durable. Upload and
// download go through the real HTTP server on loopback, client in the same
// process (so both share the machine's cores); uploads are durable (fsync
// of file and directory) before the 201. Copies and uploads write a new
// file each time, as the blobstore stores droplets and packages under new
// keys.

const benchSize = 100 << 20

// benchSource writes a file of size pseudo-random bytes.
func benchSource(b *testing.B, size int64) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "src")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, newGenReader(size)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

func benchCopy(b *testing.B, sync bool) {
	src := benchSource(b, benchSize)
	dir := b.TempDir()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		in, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, fmt.Sprintf("dst-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		if sync {
			if err := out.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		in.Close()
		out.Close()
		if !sync {
			// Never written back: the next copy starts from the same
			// page-cache state, as a single cp does.
			os.Remove(out.Name())
		}
	}
}

// BenchmarkCopy100MB is the baseline: cp of a 100 MB file (to the page
// cache; cp does not fsync).
func BenchmarkCopy100MB(b *testing.B) { benchCopy(b, false) }

// BenchmarkCopy100MBSync is cp followed by fsync: a durable copy, what an
// upload's 201 promises.
func BenchmarkCopy100MBSync(b *testing.B) { benchCopy(b, true) }

func benchUpload(b *testing.B, size int64) {
	src := benchSource(b, size)
	f := start(b, func(c *blobstore.Config) { c.MaxObjectSize = 1 << 30 })
	put := func(key string) {
		in, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close()
		req, err := http.NewRequest(http.MethodPut, f.objectURL(apiblob.BucketDroplets, key), in)
		if err != nil {
			b.Fatal(err)
		}
		req.ContentLength = size
		req.Header.Set(apiblob.HeaderSecret, sharedSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PUT: %d", resp.StatusCode)
		}
	}
	put("warm-up") // allocates the upload buffers, reused from then on
	b.SetBytes(size)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		put(fmt.Sprintf("bench-%d", i)) // a new object each time, as droplets and packages are
	}
}

// BenchmarkUpload100MB uploads 100 MB: streamed, hashed (SHA-256 and
// SHA-1), written to a temp file, fsynced and renamed into place.
func BenchmarkUpload100MB(b *testing.B) { benchUpload(b, benchSize) }

// BenchmarkUpload10MB shows allocation does not grow with size (compare
// B/op with BenchmarkUpload100MB).
func BenchmarkUpload10MB(b *testing.B) { benchUpload(b, 10<<20) }

func benchDownload(b *testing.B, size int64) {
	src := benchSource(b, size)
	f := start(b, func(c *blobstore.Config) { c.MaxObjectSize = 1 << 30 })
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	f.put(b, apiblob.BucketDroplets, "bench", mustRead(b, in))
	in.Close()
	u := f.objectURL(apiblob.BucketDroplets, "bench")
	dst := filepath.Join(b.TempDir(), "dst")
	buf := make([]byte, 1<<20) // a downloader's buffer: 1 MiB, not io.Copy's 32 KiB
	// Like BenchmarkCopy100MB, each download goes to a new file that is
	// removed before the next.
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set(apiblob.HeaderSecret, sharedSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, err := os.Create(dst)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(struct{ io.Writer }{out}, resp.Body, buf)
		resp.Body.Close()
		out.Close()
		os.Remove(dst)
		if err != nil || n != size {
			b.Fatalf("GET: %d bytes, %v", n, err)
		}
	}
}

// BenchmarkDownload100MB downloads 100 MB into a file, as a cell does.
func BenchmarkDownload100MB(b *testing.B) { benchDownload(b, benchSize) }

// BenchmarkDownload10MB: compare B/op with BenchmarkDownload100MB.
func BenchmarkDownload10MB(b *testing.B) { benchDownload(b, 10<<20) }

func mustRead(b *testing.B, r io.Reader) []byte {
	b.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		b.Fatal(err)
	}
	return data
}
