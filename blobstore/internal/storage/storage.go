package storage

import (
	"context"
	"encoding/hex"
	"io"
	"time"
)

// Info describes a stored object.
type Info struct {
	Bucket   string
	Key      string
	Size     int64
	SHA256   [32]byte
	SHA1     [20]byte
	Modified time.Time
}

// SHA256Hex returns the SHA-256 in lowercase hex.
func (i Info) SHA256Hex() string { return hex.EncodeToString(i.SHA256[:]) }

// SHA1Hex returns the SHA-1 in lowercase hex.
func (i Info) SHA1Hex() string { return hex.EncodeToString(i.SHA1[:]) }

// ETag returns the object's strong entity tag: its SHA-256 hex, quoted.
func (i Info) ETag() string { return `"` + i.SHA256Hex() + `"` }

// Ref names an object.
type Ref struct {
	Bucket string
	Key    string
}

// PutOptions are the conditions of a Put.
type PutOptions struct {
	// Size is the content length when the caller knows it (HTTP
	// Content-Length), or -1. A backend may reserve space up front, and the
	// Put fails if the content is not exactly Size bytes.
	Size int64
	// MaxSize bounds the content: a longer one fails with ErrTooLarge.
	// Negative means no bound.
	MaxSize int64
	// SHA256 and SHA1, when not nil, are the expected digests.
	SHA256 []byte
	SHA1   []byte
	// IfMatch, when not empty, commits only if the current object's ETag
	// equals it ("*": if any object exists). IfNoneMatch commits only if no
	// object exists. Otherwise the Put fails with ErrPreconditionFailed.
	IfMatch     string
	IfNoneMatch bool
}

// ListOptions select a page of a listing.
type ListOptions struct {
	// Prefix keeps only keys that start with it.
	Prefix string
	// StartAfter keeps only keys after it in byte order.
	StartAfter string
	// Limit is the most objects returned (> 0).
	Limit int
}

// Object is an open object. Content reads the version that was current at
// Open, even if the key is replaced or deleted meanwhile; the local backend
// returns an *os.File, so HTTP responses can use sendfile.
type Object struct {
	Info    Info
	Content io.ReadSeekCloser
}

// Reader reads objects.
type Reader interface {
	// Stat returns the object's Info, or ErrNotFound.
	Stat(ctx context.Context, bucket, key string) (Info, error)
	// Open opens the object for reading, or returns ErrNotFound. The caller
	// closes Content.
	Open(ctx context.Context, bucket, key string) (*Object, error)
}

// Writer changes objects.
type Writer interface {
	// Put stores the content of r under (bucket, key), atomically.
	Put(ctx context.Context, bucket, key string, r io.Reader, opts PutOptions) (Info, error)
	// Copy copies src to dst, atomically replacing dst.
	Copy(ctx context.Context, src, dst Ref) (Info, error)
	// Delete removes the object, or returns ErrNotFound.
	Delete(ctx context.Context, bucket, key string) error
}

// Lister lists a bucket.
type Lister interface {
	// List returns up to opts.Limit objects in key order.
	List(ctx context.Context, bucket string, opts ListOptions) ([]Info, error)
}

// Checker reports whether the backend is usable, for /readyz.
type Checker interface {
	Check(ctx context.Context) error
}

// Backend is everything the blobstore needs from a storage backend.
type Backend interface {
	Reader
	Writer
	Lister
	Checker
}
