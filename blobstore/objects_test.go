package blobstore_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore"
	"github.com/anvilpaas/anvil/internal/blobclient"
)

func TestObjectLifecycle(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	ctx := context.Background()
	data := bytes.Repeat([]byte("droplet "), 100_000)
	s256, s1 := sha256.Sum256(data), sha1.Sum(data)

	info, err := f.client.Put(ctx, apiblob.BucketDroplets, "guid-1/abc", bytes.NewReader(data),
		blobclient.PutOptions{SHA256: hexOf(s256[:]), SHA1: hexOf(s1[:])})
	if err != nil {
		t.Fatal(err)
	}
	if info.Bucket != apiblob.BucketDroplets || info.Key != "guid-1/abc" || info.Size != int64(len(data)) ||
		info.SHA256 != hexOf(s256[:]) || info.SHA1 != hexOf(s1[:]) || info.Modified.IsZero() {
		t.Errorf("put info %+v", info)
	}
	if got := f.get(t, apiblob.BucketDroplets, "guid-1/abc"); !bytes.Equal(got, data) {
		t.Error("GET content differs")
	}
	head, err := f.client.Head(ctx, apiblob.BucketDroplets, "guid-1/abc")
	if err != nil || head.Size != info.Size || head.SHA256 != info.SHA256 || head.SHA1 != info.SHA1 {
		t.Errorf("HEAD = %+v, %v", head, err)
	}
	r := do(t, nil, "HEAD", f.objectURL(apiblob.BucketDroplets, "guid-1/abc"), nil, header{"secret": ""})
	if r.Status != 200 || len(r.Body) != 0 || r.Header.Get("ETag") != `"`+info.SHA256+`"` || r.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD: %d %v body %d bytes", r.Status, r.Header, len(r.Body))
	}

	// Copy, list, delete.
	cp, err := f.client.Copy(ctx, apiblob.ObjectRef{Bucket: apiblob.BucketDroplets, Key: "guid-1/abc"}, apiblob.ObjectRef{Bucket: apiblob.BucketDroplets, Key: "guid-2/abc"})
	if err != nil || cp.SHA256 != info.SHA256 || cp.Key != "guid-2/abc" {
		t.Fatalf("copy = %+v, %v", cp, err)
	}
	list, err := f.client.List(ctx, apiblob.BucketDroplets, "guid-", "", 0)
	if err != nil || len(list.Objects) != 2 || list.Objects[0].Key != "guid-1/abc" || list.Objects[1].Key != "guid-2/abc" || list.NextStartAfter != "" {
		t.Errorf("list = %+v, %v", list, err)
	}
	page, err := f.client.List(ctx, apiblob.BucketDroplets, "", "", 1)
	if err != nil || len(page.Objects) != 1 || page.NextStartAfter != "guid-1/abc" {
		t.Errorf("first page = %+v, %v", page, err)
	}
	page, err = f.client.List(ctx, apiblob.BucketDroplets, "", page.NextStartAfter, 1)
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != "guid-2/abc" {
		t.Errorf("second page = %+v, %v", page, err)
	}
	if err := f.client.Delete(ctx, apiblob.BucketDroplets, "guid-1/abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Get(ctx, apiblob.BucketDroplets, "guid-1/abc", ""); !errors.Is(err, blobclient.ErrNotFound) {
		t.Errorf("GET after delete = %v", err)
	}
	if err := f.client.Delete(ctx, apiblob.BucketDroplets, "guid-1/abc"); !errors.Is(err, blobclient.ErrNotFound) {
		t.Errorf("second delete = %v", err)
	}
	do(t, nil, "GET", f.objectURL(apiblob.BucketDroplets, "nope"), nil, header{"secret": ""}).wantError(t, 404, apiblob.CodeNotFound)
	do(t, nil, "GET", f.objectURL("nobucket", "x"), nil, header{"secret": ""}).wantError(t, 404, apiblob.CodeNotFound, "no bucket")
	do(t, nil, "PATCH", f.objectURL(apiblob.BucketDroplets, "x"), nil, header{"secret": ""}).wantError(t, 405, apiblob.CodeMethodNotAllowed)
	do(t, nil, "GET", f.URL+"/v2/whatever", nil, header{"secret": ""}).wantError(t, 404, apiblob.CodeNotFound)
	_, err = f.client.Copy(ctx, apiblob.ObjectRef{Bucket: apiblob.BucketDroplets, Key: "gone"}, apiblob.ObjectRef{Bucket: apiblob.BucketDroplets, Key: "x"})
	if !errors.Is(err, blobclient.ErrNotFound) {
		t.Errorf("copy of a missing source = %v", err)
	}
	do(t, nil, "POST", f.URL+apiblob.CopyPath, strings.NewReader(`{"source":{"bucket":"droplets","key":"guid-2/abc"},"destination":{"bucket":"resources","key":"ab/cd/x"}}`), header{"secret": ""}).
		wantError(t, 400, apiblob.CodeBadRequest, "resources")
}

func TestRangeAndConditionalGet(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	data := []byte("0123456789abcdefghij")
	info := f.put(t, apiblob.BucketPackages, "p", data)
	u := f.objectURL(apiblob.BucketPackages, "p")
	etag := `"` + info.SHA256 + `"`

	tests := []struct {
		name      string
		h         header
		status    int
		body      string
		wantRange string
	}{
		{"whole", header{}, 200, string(data), ""},
		{"first bytes", header{"Range": "bytes=0-4"}, 206, "01234", "bytes 0-4/20"},
		{"middle", header{"Range": "bytes=10-14"}, 206, "abcde", "bytes 10-14/20"},
		{"open end", header{"Range": "bytes=15-"}, 206, "fghij", "bytes 15-19/20"},
		{"suffix", header{"Range": "bytes=-3"}, 206, "hij", "bytes 17-19/20"},
		{"past the end is clipped", header{"Range": "bytes=18-100"}, 206, "ij", "bytes 18-19/20"},
		{"matching ETag", header{"If-None-Match": etag}, 304, "", ""},
		{"other ETag", header{"If-None-Match": `"abc"`}, 200, string(data), ""},
		{"If-Match holds", header{"If-Match": etag, "Range": "bytes=0-0"}, 206, "0", "bytes 0-0/20"},
		{"If-Range stale", header{"If-Range": `"old"`, "Range": "bytes=0-0"}, 200, string(data), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.h["secret"] = ""
			r := do(t, nil, "GET", u, nil, tt.h)
			if r.Status != tt.status || string(r.Body) != tt.body || r.Header.Get("Content-Range") != tt.wantRange {
				t.Errorf("%d %q range %q; want %d %q %q", r.Status, r.Body, r.Header.Get("Content-Range"), tt.status, tt.body, tt.wantRange)
			}
			if tt.status != 304 && r.Header.Get("ETag") != etag {
				t.Errorf("ETag %q", r.Header.Get("ETag"))
			}
		})
	}
	do(t, nil, "GET", u, nil, header{"secret": "", "Range": "bytes=20-"}).wantError(t, 416, apiblob.CodeRangeNotSatisfiable)
	do(t, nil, "GET", u, nil, header{"secret": "", "Range": "bytes=30-40"}).wantError(t, 416, apiblob.CodeRangeNotSatisfiable)
	do(t, nil, "GET", u, nil, header{"secret": "", "If-Match": `"stale"`}).wantError(t, 412, apiblob.CodePreconditionFailed)
	// Through the client, with Content-Range giving the whole size.
	o, err := f.client.Get(context.Background(), apiblob.BucketPackages, "p", "bytes=5-6")
	if err != nil {
		t.Fatal(err)
	}
	o.Body.Close()
	if o.Info.Size != 20 || o.Info.SHA256 != info.SHA256 {
		t.Errorf("ranged client info %+v", o.Info)
	}
}

func TestConditionalPut(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	ctx := context.Background()
	v1, err := f.client.Put(ctx, apiblob.BucketBuildpacks, "bp", strings.NewReader("v1"), blobclient.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.client.Put(ctx, apiblob.BucketBuildpacks, "bp", strings.NewReader("v2"), blobclient.PutOptions{IfNoneMatch: true})
	if !errors.Is(err, blobclient.ErrPreconditionFailed) {
		t.Errorf("create-only over an existing object = %v", err)
	}
	_, err = f.client.Put(ctx, apiblob.BucketBuildpacks, "bp", strings.NewReader("v2"), blobclient.PutOptions{IfMatch: `"stale"`})
	if !errors.Is(err, blobclient.ErrPreconditionFailed) {
		t.Errorf("If-Match stale = %v", err)
	}
	if _, err := f.client.Put(ctx, apiblob.BucketBuildpacks, "bp", strings.NewReader("v2"), blobclient.PutOptions{IfMatch: `"` + v1.SHA256 + `"`}); err != nil {
		t.Errorf("If-Match current = %v", err)
	}
	if got := f.get(t, apiblob.BucketBuildpacks, "bp"); string(got) != "v2" {
		t.Errorf("content %q", got)
	}
}

func TestDigestMismatch(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.put(t, apiblob.BucketPackages, "kept", []byte("original"))
	other := sha256.Sum256([]byte("something else"))
	other1 := sha1.Sum([]byte("something else"))
	for _, h := range []header{
		{apiblob.HeaderSHA256: hexOf(other[:])},
		{apiblob.HeaderSHA1: hexOf(other1[:])},
	} {
		for _, key := range []string{"new", "kept"} {
			h["secret"] = ""
			r := do(t, nil, "PUT", f.objectURL(apiblob.BucketPackages, key), strings.NewReader("uploaded bytes"), h)
			r.wantError(t, 400, apiblob.CodeDigestMismatch, "expected")
		}
	}
	do(t, nil, "PUT", f.objectURL(apiblob.BucketPackages, "new"), strings.NewReader("x"), header{"secret": "", apiblob.HeaderSHA256: "zz"}).
		wantError(t, 400, apiblob.CodeBadRequest, "hex")
	if _, err := f.client.Head(context.Background(), apiblob.BucketPackages, "new"); !errors.Is(err, blobclient.ErrNotFound) {
		t.Errorf("rejected upload is visible: %v", err)
	}
	if got := f.get(t, apiblob.BucketPackages, "kept"); string(got) != "original" {
		t.Errorf("rejected upload replaced the object: %q", got)
	}
	if files := tempFiles(t, f.cfg.Storage.Dir); len(files) != 0 {
		t.Errorf("temp files left: %v", files)
	}
	// The resources bucket holds content under its own SHA-1 only.
	sum := sha1.Sum([]byte("resource"))
	do(t, nil, "PUT", f.objectURL(apiblob.BucketResources, apiblob.ResourceKey(hexOf(sum[:]))), strings.NewReader("not the resource"), header{"secret": ""}).
		wantError(t, 400, apiblob.CodeDigestMismatch)
	do(t, nil, "PUT", f.objectURL(apiblob.BucketResources, "any/key"), strings.NewReader("resource"), header{"secret": ""}).
		wantError(t, 400, apiblob.CodeInvalidKey, "ab/cd/<sha1")
	f.put(t, apiblob.BucketResources, apiblob.ResourceKey(hexOf(sum[:])), []byte("resource"))
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *blobstore.Config) { c.MaxObjectSize = 1 << 20 })
	big := bytes.Repeat([]byte{7}, 1<<20+1)
	// Known length: refused before the body is read.
	do(t, nil, "PUT", f.objectURL(apiblob.BucketPackages, "big"), bytes.NewReader(big), header{"secret": ""}).
		wantError(t, 413, apiblob.CodeTooLarge, "limit")
	// Unknown length (chunked): refused once the limit is passed.
	do(t, nil, "PUT", f.objectURL(apiblob.BucketPackages, "big"), struct{ *bytes.Reader }{bytes.NewReader(big)}, header{"secret": ""}).
		wantError(t, 413, apiblob.CodeTooLarge)
	if _, err := f.client.Head(context.Background(), apiblob.BucketPackages, "big"); !errors.Is(err, blobclient.ErrNotFound) {
		t.Errorf("too-large upload is visible: %v", err)
	}
	f.put(t, apiblob.BucketPackages, "exact", big[:1<<20])
	if files := tempFiles(t, f.cfg.Storage.Dir); len(files) != 0 {
		t.Errorf("temp files left: %v", files)
	}
}

// TestTraversal sends keys and paths that try to leave the store, raw
// and percent-encoded, and checks each is refused and nothing is written
// outside the storage directory.
func TestTraversal(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	outside := filepath.Dir(f.cfg.Storage.Dir)
	before, _ := os.ReadDir(outside)
	paths := []string{
		"/v1/buckets/packages/objects/../../../../etc/passwd",
		"/v1/buckets/packages/objects/a/../../x",
		"/v1/buckets/packages/objects/%2e%2e/%2e%2e/x",
		"/v1/buckets/packages/objects/..%2f..%2fx",
		"/v1/buckets/packages/objects/a%2f..%2f..%2fx",
		"/v1/buckets/packages/objects/.",
		"/v1/buckets/packages/objects/a//b",
		"/v1/buckets/packages/objects/a/",
		"/v1/buckets/packages/objects/..%5c..%5cx",
		"/v1/buckets/packages/objects/a%00b",
		"/v1/buckets/packages/objects/%2fetc%2fpasswd",
		"/v1/buckets/packages/objects/",
		"/v1/buckets/../objects/x",
		"/v1/buckets/%2e%2e/objects/x",
	}
	for _, p := range paths {
		for _, method := range []string{"PUT", "GET", "DELETE"} {
			req, err := http.NewRequest(method, f.URL+p, strings.NewReader("payload"))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			req.Header.Set(apiblob.HeaderSecret, sharedSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, p, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 && resp.StatusCode != 404 {
				t.Errorf("%s %s: status %d, want 400 or 404", method, p, resp.StatusCode)
			}
		}
	}
	// Copy and list with traversal keys.
	do(t, nil, "POST", f.URL+apiblob.CopyPath, strings.NewReader(`{"source":{"bucket":"packages","key":"../../x"},"destination":{"bucket":"packages","key":"y"}}`), header{"secret": ""}).
		wantError(t, 400, apiblob.CodeInvalidKey)
	do(t, nil, "POST", f.URL+apiblob.CopyPath, strings.NewReader(`{"source":{"bucket":"packages","key":"x"},"destination":{"bucket":"packages","key":"/etc/x"}}`), header{"secret": ""}).
		wantError(t, 400, apiblob.CodeInvalidKey)
	do(t, nil, "GET", f.URL+apiblob.ListPath("packages")+"?prefix=../", nil, header{"secret": ""}).wantError(t, 400, apiblob.CodeInvalidKey)
	after, _ := os.ReadDir(outside)
	if len(after) != len(before) {
		t.Errorf("files appeared next to the storage dir: %v -> %v", before, after)
	}
	if files := tempFiles(t, f.cfg.Storage.Dir); len(files) != 0 {
		t.Errorf("temp files left: %v", files)
	}
}

// TestConcurrentWriters has writers race on one key: the result is one
// writer's whole content, and readers never see a mix.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	const writers = 6
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte{byte('a' + i)}, 2<<20+i)
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := f.client.Put(context.Background(), apiblob.BucketDroplets, "same", bytes.NewReader(contents[i]), blobclient.PutOptions{}); err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := f.get(t, apiblob.BucketDroplets, "same")
	ok := false
	for _, c := range contents {
		ok = ok || bytes.Equal(got, c)
	}
	if !ok {
		t.Errorf("final content (%d bytes) is no single writer's", len(got))
	}
	head, err := f.client.Head(context.Background(), apiblob.BucketDroplets, "same")
	if s := sha256.Sum256(got); err != nil || head.SHA256 != hexOf(s[:]) {
		t.Errorf("metadata does not match content: %+v %v", head, err)
	}
}
