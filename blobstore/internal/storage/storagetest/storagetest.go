// Package storagetest is the conformance suite of blobstore storage
// backends: every backend runs Run against a fresh instance, so an S3
// backend added later is held to the same guarantees as localfs.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// Run runs the suite. newBackend returns an empty backend; it is called
// once per subtest.
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend)
	}{
		{"PutOpenStat", testPutOpenStat},
		{"EmptyObject", testEmptyObject},
		{"Replace", testReplace},
		{"OpenKeepsVersion", testOpenKeepsVersion},
		{"DigestMismatch", testDigestMismatch},
		{"TooLarge", testTooLarge},
		{"SizeMismatch", testSizeMismatch},
		{"ReadError", testReadError},
		{"Preconditions", testPreconditions},
		{"InvalidKeys", testInvalidKeys},
		{"Delete", testDelete},
		{"Copy", testCopy},
		{"List", testList},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newBackend(t))
		})
	}
}

// Put stores data and fails the test on error.
func Put(t testing.TB, b storage.Writer, bucket, key string, data []byte) storage.Info {
	t.Helper()
	info, err := b.Put(context.Background(), bucket, key, bytes.NewReader(data), storage.PutOptions{Size: int64(len(data)), MaxSize: -1})
	if err != nil {
		t.Fatalf("Put %s/%s: %v", bucket, key, err)
	}
	return info
}

// Read returns an object's content.
func Read(t testing.TB, b storage.Reader, bucket, key string) []byte {
	t.Helper()
	o, err := b.Open(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("Open %s/%s: %v", bucket, key, err)
	}
	defer o.Content.Close()
	data, err := io.ReadAll(o.Content)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func wantInfo(t *testing.T, got storage.Info, bucket, key string, data []byte) {
	t.Helper()
	if got.Bucket != bucket || got.Key != key || got.Size != int64(len(data)) ||
		got.SHA256 != sha256.Sum256(data) || got.SHA1 != sha1.Sum(data) || got.Modified.IsZero() {
		t.Errorf("info = %+v, want %s/%s of %d bytes with its digests", got, bucket, key, len(data))
	}
}

func wantAbsent(t *testing.T, b storage.Reader, bucket, key string) {
	t.Helper()
	if _, err := b.Stat(context.Background(), bucket, key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat %s/%s = %v, want ErrNotFound", bucket, key, err)
	}
}

func testPutOpenStat(t *testing.T, b storage.Backend) {
	data := bytes.Repeat([]byte("anvil"), 300_000) // 1.5 MB: more than one ingest chunk
	info := Put(t, b, apiblob.BucketDroplets, "d1/checksum", data)
	wantInfo(t, info, apiblob.BucketDroplets, "d1/checksum", data)
	st, err := b.Stat(context.Background(), apiblob.BucketDroplets, "d1/checksum")
	if err != nil {
		t.Fatal(err)
	}
	wantInfo(t, st, apiblob.BucketDroplets, "d1/checksum", data)
	if got := Read(t, b, apiblob.BucketDroplets, "d1/checksum"); !bytes.Equal(got, data) {
		t.Error("content differs")
	}
	o, err := b.Open(context.Background(), apiblob.BucketDroplets, "d1/checksum")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Content.Close()
	wantInfo(t, o.Info, apiblob.BucketDroplets, "d1/checksum", data)
	if _, err := o.Content.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 10)
	if _, err := io.ReadFull(o.Content, part); err != nil || !bytes.Equal(part, data[1000:1010]) {
		t.Errorf("seek+read = %q, %v", part, err)
	}
	wantAbsent(t, b, apiblob.BucketDroplets, "d1")
	wantAbsent(t, b, apiblob.BucketPackages, "d1/checksum")
}

func testEmptyObject(t *testing.T, b storage.Backend) {
	info := Put(t, b, apiblob.BucketPackages, "empty", nil)
	wantInfo(t, info, apiblob.BucketPackages, "empty", nil)
	if got := Read(t, b, apiblob.BucketPackages, "empty"); len(got) != 0 {
		t.Errorf("read %d bytes", len(got))
	}
	// Unknown size.
	info, err := b.Put(context.Background(), apiblob.BucketPackages, "empty2", strings.NewReader(""), storage.PutOptions{Size: -1, MaxSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	wantInfo(t, info, apiblob.BucketPackages, "empty2", nil)
}

func testReplace(t *testing.T, b storage.Backend) {
	Put(t, b, apiblob.BucketPackages, "p", []byte("one"))
	info := Put(t, b, apiblob.BucketPackages, "p", []byte("second"))
	wantInfo(t, info, apiblob.BucketPackages, "p", []byte("second"))
	if got := Read(t, b, apiblob.BucketPackages, "p"); string(got) != "second" {
		t.Errorf("content %q", got)
	}
}

func testOpenKeepsVersion(t *testing.T, b storage.Backend) {
	Put(t, b, apiblob.BucketPackages, "p", []byte("old version"))
	o, err := b.Open(context.Background(), apiblob.BucketPackages, "p")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Content.Close()
	Put(t, b, apiblob.BucketPackages, "p", []byte("new"))
	if err := b.Delete(context.Background(), apiblob.BucketPackages, "p"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o.Content)
	if err != nil || string(got) != "old version" {
		t.Errorf("open object reads %q, %v; want the version it opened", got, err)
	}
}

func testDigestMismatch(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	Put(t, b, apiblob.BucketPackages, "kept", []byte("original"))
	data := []byte("uploaded")
	wrong256 := sha256.Sum256([]byte("other"))
	wrong1 := sha1.Sum([]byte("other"))
	right256 := sha256.Sum256(data)
	for _, opts := range []storage.PutOptions{
		{Size: -1, MaxSize: -1, SHA256: wrong256[:]},
		{Size: -1, MaxSize: -1, SHA1: wrong1[:]},
		{Size: -1, MaxSize: -1, SHA256: right256[:], SHA1: wrong1[:]},
	} {
		for _, key := range []string{"new", "kept"} {
			_, err := b.Put(ctx, apiblob.BucketPackages, key, bytes.NewReader(data), opts)
			if !errors.Is(err, storage.ErrDigestMismatch) {
				t.Errorf("Put %s = %v, want ErrDigestMismatch", key, err)
			}
		}
	}
	wantAbsent(t, b, apiblob.BucketPackages, "new")
	if got := Read(t, b, apiblob.BucketPackages, "kept"); string(got) != "original" {
		t.Errorf("a rejected upload replaced the object: %q", got)
	}
	right1 := sha1.Sum(data)
	if _, err := b.Put(ctx, apiblob.BucketPackages, "new", bytes.NewReader(data), storage.PutOptions{Size: -1, MaxSize: -1, SHA256: right256[:], SHA1: right1[:]}); err != nil {
		t.Errorf("Put with matching digests: %v", err)
	}
}

func testTooLarge(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	data := bytes.Repeat([]byte{1}, 3<<20)
	for _, size := range []int64{-1, int64(len(data))} {
		_, err := b.Put(ctx, apiblob.BucketPackages, "big", bytes.NewReader(data), storage.PutOptions{Size: size, MaxSize: 1 << 20})
		if !errors.Is(err, storage.ErrTooLarge) {
			t.Errorf("size %d: Put = %v, want ErrTooLarge", size, err)
		}
	}
	wantAbsent(t, b, apiblob.BucketPackages, "big")
	if _, err := b.Put(ctx, apiblob.BucketPackages, "exact", bytes.NewReader(data[:1<<20]), storage.PutOptions{Size: -1, MaxSize: 1 << 20}); err != nil {
		t.Errorf("Put of exactly MaxSize: %v", err)
	}
}

func testSizeMismatch(t *testing.T, b storage.Backend) {
	for _, size := range []int64{3, 10} {
		_, err := b.Put(context.Background(), apiblob.BucketPackages, "p", strings.NewReader("12345"), storage.PutOptions{Size: size, MaxSize: -1})
		if !errors.Is(err, storage.ErrSizeMismatch) {
			t.Errorf("declared %d: Put = %v, want ErrSizeMismatch", size, err)
		}
	}
	wantAbsent(t, b, apiblob.BucketPackages, "p")
}

type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, r.err
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

func testReadError(t *testing.T, b storage.Backend) {
	// A truncated HTTP body fails with io.ErrUnexpectedEOF: that is an
	// error, not the end of the content.
	for _, boom := range []error{errors.New("client went away"), io.ErrUnexpectedEOF} {
		for _, n := range []int{0, 100, 2<<20 + 5} {
			_, err := b.Put(context.Background(), apiblob.BucketPackages, "p", &failingReader{n: n, err: boom}, storage.PutOptions{Size: -1, MaxSize: -1})
			if !errors.Is(err, boom) {
				t.Errorf("after %d bytes: Put = %v, want the reader's error %v", n, err, boom)
			}
		}
	}
	wantAbsent(t, b, apiblob.BucketPackages, "p")
}

func testPreconditions(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	put := func(key, data string, opts storage.PutOptions) (storage.Info, error) {
		opts.Size, opts.MaxSize = -1, -1
		return b.Put(ctx, apiblob.BucketDroplets, key, strings.NewReader(data), opts)
	}
	if _, err := put("d", "x", storage.PutOptions{IfMatch: "*"}); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Errorf("If-Match * on a missing object = %v", err)
	}
	v1, err := put("d", "v1", storage.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("If-None-Match on a missing object: %v", err)
	}
	if _, err := put("d", "v2", storage.PutOptions{IfNoneMatch: true}); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Errorf("If-None-Match on an existing object = %v", err)
	}
	if _, err := put("d", "v2", storage.PutOptions{IfMatch: `"0000"`}); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Errorf("If-Match with a stale ETag = %v", err)
	}
	if _, err := put("d", "v2", storage.PutOptions{IfMatch: v1.ETag()}); err != nil {
		t.Errorf("If-Match with the current ETag: %v", err)
	}
	if got := Read(t, b, apiblob.BucketDroplets, "d"); string(got) != "v2" {
		t.Errorf("content %q", got)
	}
}

// TraversalKeys are keys that try to leave the bucket.
var TraversalKeys = []string{
	"", "..", ".", "../x", "../../etc/passwd", "a/../../x", "/etc/passwd", "a//b", "a/", `..\x`, "a\x00b", "%2e%2e/x", "a/./b",
}

func testInvalidKeys(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	for _, key := range TraversalKeys {
		if _, err := b.Put(ctx, apiblob.BucketPackages, key, strings.NewReader("x"), storage.PutOptions{Size: -1, MaxSize: -1}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put %q = %v, want ErrInvalidKey", key, err)
		}
		if _, err := b.Open(ctx, apiblob.BucketPackages, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Open %q = %v, want ErrInvalidKey", key, err)
		}
		if _, err := b.Stat(ctx, apiblob.BucketPackages, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat %q = %v, want ErrInvalidKey", key, err)
		}
		if err := b.Delete(ctx, apiblob.BucketPackages, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete %q = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, bucket := range []string{"", "..", "nope", "../packages"} {
		if _, err := b.Put(ctx, bucket, "k", strings.NewReader("x"), storage.PutOptions{Size: -1, MaxSize: -1}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put to bucket %q = %v, want ErrInvalidKey", bucket, err)
		}
		if _, err := b.List(ctx, bucket, storage.ListOptions{Limit: 1}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("List bucket %q = %v, want ErrInvalidKey", bucket, err)
		}
	}
	if _, err := b.Copy(ctx, storage.Ref{Bucket: apiblob.BucketPackages, Key: "../x"}, storage.Ref{Bucket: apiblob.BucketPackages, Key: "y"}); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Copy from a traversal key = %v", err)
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	Put(t, b, apiblob.BucketBuildpackCache, "app/stack", []byte("cache"))
	if err := b.Delete(ctx, apiblob.BucketBuildpackCache, "app/stack"); err != nil {
		t.Fatal(err)
	}
	wantAbsent(t, b, apiblob.BucketBuildpackCache, "app/stack")
	if err := b.Delete(ctx, apiblob.BucketBuildpackCache, "app/stack"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, apiblob.BucketBuildpackCache, "app"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Delete of a prefix = %v, want ErrNotFound", err)
	}
	// The key space is usable again, including the old prefix as a key.
	Put(t, b, apiblob.BucketBuildpackCache, "app", []byte("now a key"))
}

func testCopy(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("droplet"), 200_000)
	Put(t, b, apiblob.BucketDroplets, "src", data)
	Put(t, b, apiblob.BucketPackages, "dst/x", []byte("to be replaced"))
	info, err := b.Copy(ctx, storage.Ref{Bucket: apiblob.BucketDroplets, Key: "src"}, storage.Ref{Bucket: apiblob.BucketPackages, Key: "dst/x"})
	if err != nil {
		t.Fatal(err)
	}
	wantInfo(t, info, apiblob.BucketPackages, "dst/x", data)
	if got := Read(t, b, apiblob.BucketPackages, "dst/x"); !bytes.Equal(got, data) {
		t.Error("copy content differs")
	}
	// The copy is independent of its source.
	if err := b.Delete(ctx, apiblob.BucketDroplets, "src"); err != nil {
		t.Fatal(err)
	}
	if got := Read(t, b, apiblob.BucketPackages, "dst/x"); !bytes.Equal(got, data) {
		t.Error("copy changed when its source was deleted")
	}
	if _, err := b.Copy(ctx, storage.Ref{Bucket: apiblob.BucketDroplets, Key: "src"}, storage.Ref{Bucket: apiblob.BucketPackages, Key: "y"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Copy of a missing object = %v", err)
	}
}

func testList(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	keys := []string{"a", "a.b", "a0", "b/c", "b/c.d", "b/c/d", "b/cd", "b-x", "ab/cd/ef", "z"}
	// "b/c" and "b/c/d" clash on a filesystem; keep them apart from
	// backends that cannot hold both.
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "b/c" })
	for _, k := range keys {
		Put(t, b, apiblob.BucketResources, k, []byte(k))
	}
	Put(t, b, apiblob.BucketDroplets, "other-bucket", []byte("x"))
	sorted := slices.Clone(keys)
	slices.Sort(sorted)

	list := func(opts storage.ListOptions) []string {
		t.Helper()
		infos, err := b.List(ctx, apiblob.BucketResources, opts)
		if err != nil {
			t.Fatalf("List %+v: %v", opts, err)
		}
		var out []string
		for _, i := range infos {
			if i.Bucket != apiblob.BucketResources || i.Size != int64(len(i.Key)) || i.SHA1 != sha1.Sum([]byte(i.Key)) {
				t.Errorf("info %+v", i)
			}
			out = append(out, i.Key)
		}
		return out
	}
	if got := list(storage.ListOptions{Limit: 100}); !slices.Equal(got, sorted) {
		t.Errorf("all = %q, want %q", got, sorted)
	}
	// Paging with every page size gives the same sequence.
	for size := 1; size <= 4; size++ {
		var all []string
		after := ""
		for range 20 {
			page := list(storage.ListOptions{StartAfter: after, Limit: size})
			all = append(all, page...)
			if len(page) < size {
				break
			}
			after = page[len(page)-1]
		}
		if !slices.Equal(all, sorted) {
			t.Errorf("pages of %d = %q, want %q", size, all, sorted)
		}
	}
	for _, tt := range []struct {
		prefix, after string
		want          []string
	}{
		{"b/", "", []string{"b/c.d", "b/c/d", "b/cd"}},
		{"b/c", "", []string{"b/c.d", "b/c/d", "b/cd"}},
		{"b/c/", "", []string{"b/c/d"}},
		{"b", "", []string{"b-x", "b/c.d", "b/c/d", "b/cd"}},
		{"b/", "b/c.d", []string{"b/c/d", "b/cd"}},
		{"", "b/c/d", []string{"b/cd", "z"}},
		{"ab/cd/", "", []string{"ab/cd/ef"}},
		{"nothing", "", nil},
		{"a", "a0", []string{"ab/cd/ef"}},
	} {
		if got := list(storage.ListOptions{Prefix: tt.prefix, StartAfter: tt.after, Limit: 100}); !slices.Equal(got, tt.want) {
			t.Errorf("prefix %q after %q = %q, want %q", tt.prefix, tt.after, got, tt.want)
		}
	}
	if _, err := b.List(ctx, apiblob.BucketResources, storage.ListOptions{Prefix: "../", Limit: 1}); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("List with a traversal prefix = %v", err)
	}
}

func testConcurrentWriters(t *testing.T, b storage.Backend) {
	const writers = 8
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte(fmt.Sprintf("writer %d;", i)), 100_000+i*1000)
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for range 3 {
				if _, err := b.Put(context.Background(), apiblob.BucketDroplets, "race/key", bytes.NewReader(contents[i]), storage.PutOptions{Size: -1, MaxSize: -1}); err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			}
		})
	}
	// Readers meanwhile see whole versions only.
	done := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			o, err := b.Open(context.Background(), apiblob.BucketDroplets, "race/key")
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			got, err := io.ReadAll(o.Content)
			o.Content.Close()
			if err != nil || !slices.ContainsFunc(contents, func(c []byte) bool { return bytes.Equal(c, got) }) || o.Info.SHA256 != sha256.Sum256(got) {
				t.Errorf("reader saw a torn or mislabelled version (%d bytes, %v)", len(got), err)
				return
			}
		}
	})
	wg.Wait()
	close(done)
	rwg.Wait()
	got := Read(t, b, apiblob.BucketDroplets, "race/key")
	if !slices.ContainsFunc(contents, func(c []byte) bool { return bytes.Equal(c, got) }) {
		t.Errorf("final content (%d bytes) is no writer's", len(got))
	}
}
