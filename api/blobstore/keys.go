package blobstore

import (
	"errors"
	"fmt"
	"strings"
)

// Bounds of the key grammar.
const (
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 1024
	// MaxKeySegmentLen is the longest segment between slashes.
	MaxKeySegmentLen = 255
	// MaxKeyDepth is the most segments a key may have.
	MaxKeyDepth = 32
)

// ErrInvalidKey is wrapped by every error ValidateKey returns.
var ErrInvalidKey = errors.New("invalid key")

// ValidateKey checks key against the key grammar: 1 to [MaxKeyDepth]
// segments separated by single slashes, each 1 to [MaxKeySegmentLen] bytes
// of A-Z a-z 0-9 '.' '_' '-', and none of them "." or "..". Keys therefore
// never start or end with a slash, never hold "//", backslashes, NUL,
// percent-escapes or any other byte that could change the meaning of a path.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	}
	depth := 0
	for seg := range strings.SplitSeq(key, "/") {
		depth++
		if depth > MaxKeyDepth {
			return fmt.Errorf("%w: more than %d segments", ErrInvalidKey, MaxKeyDepth)
		}
		switch {
		case seg == "":
			return fmt.Errorf("%w: empty segment (leading, trailing or double slash)", ErrInvalidKey)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: segment %q", ErrInvalidKey, seg)
		case len(seg) > MaxKeySegmentLen:
			return fmt.Errorf("%w: segment longer than %d bytes", ErrInvalidKey, MaxKeySegmentLen)
		}
		for i := 0; i < len(seg); i++ {
			if !keyByte(seg[i]) {
				return fmt.Errorf("%w: byte %q not allowed (want A-Z a-z 0-9 . _ -)", ErrInvalidKey, seg[i])
			}
		}
	}
	return nil
}

// ValidatePrefix checks a list prefix: empty, or a key optionally followed
// by one slash.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/"))
}

func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// ResourceKey returns the key of a resource-cache entry in
// [BucketResources]: the SHA-1 hex partitioned as Cloud Foundry's
// blobstores do, "ab/cd/abcd…". sha1 must satisfy [ValidSHA1].
func ResourceKey(sha1 string) string {
	if len(sha1) < 4 {
		return sha1
	}
	return sha1[:2] + "/" + sha1[2:4] + "/" + sha1
}

// ValidSHA1 reports whether s is a SHA-1 digest in lowercase hex.
func ValidSHA1(s string) bool { return len(s) == 40 && lowerHex(s) }

// ValidSHA256 reports whether s is a SHA-256 digest in lowercase hex.
func ValidSHA256(s string) bool { return len(s) == 64 && lowerHex(s) }

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
