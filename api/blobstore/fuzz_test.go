package blobstore_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/blobstore"
)

// FuzzValidateKey checks that every key ValidateKey accepts is safe to use
// as a relative file path and as a URL path: no traversal, no empty
// segment, nothing that needs escaping.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"abc", "a/b/c", "../x", "a/../b", "/abs", "a//b", "a\\b", "%2e%2e", ".", "..", "a/.", "ab/cd/" + strings.Repeat("f", 40), "\x00", "ü/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := blobstore.ValidateKey(key)
		if err != nil {
			if !errors.Is(err, blobstore.ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		if len(key) > blobstore.MaxKeyLen || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
			t.Fatalf("accepted %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
		if (&url.URL{Path: "/" + key}).EscapedPath() != "/"+key {
			t.Fatalf("accepted %q that needs escaping", key)
		}
	})
}

// FuzzVerify feeds arbitrary query strings, methods and paths to Verify: it
// must never panic, and only the genuine (method, path, query) may pass.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	path := blobstore.ObjectPath(blobstore.BucketDroplets, "d1")
	good := blobstore.Sign(key1, "GET", path, now.Add(time.Hour))
	f.Add("GET", path, good)
	f.Add("PUT", path, good)
	f.Add("GET", path+"x", good)
	f.Add("GET", path, "expires=1&kid=key-1&sig=AAAA")
	f.Add("GET", path, "expires=99999999999999999999&kid=key-1&sig=")
	f.Add("GET", path, good+"&expires=1")
	f.Add("GET", path, "kid=%00&sig=%ZZ")
	f.Add("HEAD", path, good)
	f.Fuzz(func(t *testing.T, method, p, rawQuery string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		_, err = blobstore.Verify([]blobstore.Key{key1, key2}, method, p, q, now)
		if err != nil {
			return
		}
		if p != path || (method != "GET" && method != "HEAD") || q.Get("sig") != parse(t, good).Get("sig") {
			t.Fatalf("verified %s %s ?%s", method, p, rawQuery)
		}
	})
}
