package storage

import "errors"

// Errors a backend returns (wrapped); the HTTP layer maps them to status
// codes.
var (
	// ErrNotFound: no such object.
	ErrNotFound = errors.New("object not found")
	// ErrInvalidKey: the bucket or key breaks the key grammar.
	ErrInvalidKey = errors.New("invalid bucket or key")
	// ErrTooLarge: the content is longer than PutOptions.MaxSize.
	ErrTooLarge = errors.New("object too large")
	// ErrDigestMismatch: the content does not match an expected digest.
	ErrDigestMismatch = errors.New("content does not match the expected digest")
	// ErrSizeMismatch: the content is not PutOptions.Size bytes long.
	ErrSizeMismatch = errors.New("content length does not match the declared size")
	// ErrNoSpace: the backend is out of space (or quota).
	ErrNoSpace = errors.New("insufficient storage")
	// ErrPreconditionFailed: PutOptions.IfMatch or IfNoneMatch did not hold.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrConflict: the key clashes with other keys in a way the backend
	// cannot store (on a filesystem: a key that is also a key prefix).
	ErrConflict = errors.New("key conflicts with an existing key")
	// ErrCorrupt: a stored object lacks or contradicts its metadata.
	ErrCorrupt = errors.New("stored object is corrupt")
)
