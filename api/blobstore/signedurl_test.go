package blobstore_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/blobstore"
)

var (
	key1 = blobstore.Key{ID: "key-1", Secret: []byte("secret-one-secret-one")}
	key2 = blobstore.Key{ID: "key-2", Secret: []byte("secret-two-secret-two")}
)

func parse(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	path := blobstore.ObjectPath(blobstore.BucketDroplets, "d1")
	exp := now.Add(time.Hour)
	signed := blobstore.Sign(key1, "GET", path, exp)
	if got := parse(t, signed).Get("kid"); got != "key-1" {
		t.Fatalf("kid = %q in %s", got, signed)
	}
	mutate := func(f func(url.Values)) url.Values {
		v := parse(t, signed)
		f(v)
		return v
	}

	tests := []struct {
		name    string
		keys    []blobstore.Key
		method  string
		path    string
		query   url.Values
		now     time.Time
		wantErr error
	}{
		{"valid", []blobstore.Key{key1}, "GET", path, parse(t, signed), now, nil},
		{"HEAD on a GET URL", []blobstore.Key{key1}, "HEAD", path, parse(t, signed), now, nil},
		{"rotated: old key still held", []blobstore.Key{key2, key1}, "GET", path, parse(t, signed), now, nil},
		{"last second", []blobstore.Key{key1}, "GET", path, parse(t, signed), exp.Add(-time.Second), nil},
		{"expired at expiry", []blobstore.Key{key1}, "GET", path, parse(t, signed), exp, blobstore.ErrSignatureExpired},
		{"expired later", []blobstore.Key{key1}, "GET", path, parse(t, signed), exp.Add(time.Hour), blobstore.ErrSignatureExpired},
		{"wrong method", []blobstore.Key{key1}, "PUT", path, parse(t, signed), now, blobstore.ErrSignatureMethod},
		{"DELETE on a GET URL", []blobstore.Key{key1}, "DELETE", path, parse(t, signed), now, blobstore.ErrSignatureMethod},
		{"other object", []blobstore.Key{key1}, "GET", blobstore.ObjectPath(blobstore.BucketDroplets, "d2"), parse(t, signed), now, blobstore.ErrSignatureMismatch},
		{"other bucket", []blobstore.Key{key1}, "GET", blobstore.ObjectPath(blobstore.BucketPackages, "d1"), parse(t, signed), now, blobstore.ErrSignatureMismatch},
		{"expiry extended", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Set("expires", "9999999999") }), now, blobstore.ErrSignatureMismatch},
		{"expiry extended and expired", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Set("expires", "1") }), now, blobstore.ErrSignatureMismatch},
		{"sig flipped", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) {
			s := []byte(v.Get("sig"))
			if s[0] == 'A' {
				s[0] = 'B'
			} else {
				s[0] = 'A'
			}
			v.Set("sig", string(s))
		}), now, blobstore.ErrSignatureMismatch},
		{"key id swapped", []blobstore.Key{key1, {ID: "key-2", Secret: key1.Secret}}, "GET", path, mutate(func(v url.Values) { v.Set("kid", "key-2") }), now, blobstore.ErrSignatureMismatch},
		{"unknown key id", []blobstore.Key{key2}, "GET", path, parse(t, signed), now, blobstore.ErrSignatureUnknownID},
		{"no keys", nil, "GET", path, parse(t, signed), now, blobstore.ErrSignatureUnknownID},
		{"missing sig", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Del("sig") }), now, blobstore.ErrSignatureMissing},
		{"missing expires", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Del("expires") }), now, blobstore.ErrSignatureMissing},
		{"repeated expires", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Add("expires", "9999999999") }), now, blobstore.ErrSignatureMalformed},
		{"non-canonical expires", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Set("expires", "+"+v.Get("expires")) }), now, blobstore.ErrSignatureMalformed},
		{"negative expires", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Set("expires", "-1") }), now, blobstore.ErrSignatureMalformed},
		{"sig not base64", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Set("sig", "!!!") }), now, blobstore.ErrSignatureMalformed},
		{"sig too short", []blobstore.Key{key1}, "GET", path, mutate(func(v url.Values) { v.Set("sig", v.Get("sig")[:10]) }), now, blobstore.ErrSignatureMalformed},
		{"newline in path", []blobstore.Key{key1}, "GET", path + "\n1", parse(t, signed), now, blobstore.ErrSignatureMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := blobstore.Verify(tt.keys, tt.method, tt.path, tt.query, tt.now)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !got.Equal(exp) {
					t.Errorf("expires = %v, want %v", got, exp)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyMethodMessage(t *testing.T) {
	t.Parallel()
	path := blobstore.ObjectPath(blobstore.BucketDroplets, "d1")
	q := parse(t, blobstore.Sign(key1, "PUT", path, time.Now().Add(time.Minute)))
	_, err := blobstore.Verify([]blobstore.Key{key1}, "GET", path, q, time.Now())
	if err == nil || !strings.Contains(err.Error(), "allows PUT, not GET") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateKeyID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"k", "key-1", "2024.01_a"} {
		if err := blobstore.ValidateKeyID(id); err != nil {
			t.Errorf("ValidateKeyID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "a b", "a/b", "k\n", strings.Repeat("k", blobstore.MaxKeyIDLen+1)} {
		if err := blobstore.ValidateKeyID(id); err == nil {
			t.Errorf("ValidateKeyID(%q) succeeded", id)
		}
	}
}

func TestSignedQuery(t *testing.T) {
	t.Parallel()
	if blobstore.SignedQuery(url.Values{"x": {"1"}}) {
		t.Error("plain query counted as signed")
	}
	if !blobstore.SignedQuery(url.Values{"sig": {""}}) {
		t.Error("query with sig not counted as signed")
	}
}
