package blobstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/api/blobstore"
)

func TestValidateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key string
		ok  bool
	}{
		{"abc", true},
		{"0b8ab0a0-3b4c-4c8a-8e1a-3b6f0d4c7a11", true},
		{"app-guid/cflinuxfs4", true},
		{"ab/cd/abcdef", true},
		{"file.tar.gz", true},
		{"..a", true},
		{"a..", true},
		{strings.Repeat("a", blobstore.MaxKeySegmentLen), true},
		{strings.TrimSuffix(strings.Repeat("a/", blobstore.MaxKeyDepth), "/"), true},
		{"", false},
		{"/abc", false},
		{"abc/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"../etc/passwd", false},
		{"a/../../b", false},
		{"a/./b", false},
		{`a\b`, false},
		{`..\..\windows`, false},
		{"a%2fb", false},
		{"a b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"ü", false},
		{"a~", false},
		{strings.Repeat("a", blobstore.MaxKeySegmentLen+1), false},
		{strings.Repeat("a/", blobstore.MaxKeyDepth) + "a", false},
		{strings.Repeat("abcdefgh/", 120), false},
	}
	for _, tt := range tests {
		err := blobstore.ValidateKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, does not wrap ErrInvalidKey", tt.key, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "a", "a/", "ab/cd/", "ab/c"} {
		if err := blobstore.ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"/", "a//", "../", "a/../", "a\\"} {
		if err := blobstore.ValidatePrefix(p); err == nil {
			t.Errorf("ValidatePrefix(%q) succeeded", p)
		}
	}
}

func TestBucketsAndDigests(t *testing.T) {
	t.Parallel()
	for _, b := range blobstore.Buckets() {
		if !blobstore.ValidBucket(b) {
			t.Errorf("ValidBucket(%q) = false", b)
		}
	}
	for _, b := range []string{"", "Packages", "package", "../packages"} {
		if blobstore.ValidBucket(b) {
			t.Errorf("ValidBucket(%q) = true", b)
		}
	}
	sha1 := "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	if got := blobstore.ResourceKey(sha1); got != "da/39/"+sha1 || blobstore.ValidateKey(got) != nil {
		t.Errorf("ResourceKey = %q", got)
	}
	if !blobstore.ValidSHA1(sha1) || blobstore.ValidSHA1(strings.ToUpper(sha1)) || blobstore.ValidSHA1(sha1[1:]) {
		t.Error("ValidSHA1")
	}
	sha256 := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if !blobstore.ValidSHA256(sha256) || blobstore.ValidSHA256(sha1) || blobstore.ValidSHA256(sha256[:63]+"g") {
		t.Error("ValidSHA256")
	}
	if got := blobstore.ObjectPath("droplets", "a/b"); got != "/v1/buckets/droplets/objects/a/b" {
		t.Errorf("ObjectPath = %q", got)
	}
	if got := blobstore.ListQuery("ab/", "ab/c", 10); got != "limit=10&prefix=ab%2F&start_after=ab%2Fc" {
		t.Errorf("ListQuery = %q", got)
	}
}
