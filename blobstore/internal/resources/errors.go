package resources

import "errors"

var (
	// ErrInvalidRequest: a malformed resource list (JSON, SHA-1, size,
	// path or mode).
	ErrInvalidRequest = errors.New("invalid resource list")
	// ErrInvalidPackage: the uploaded zip is unusable or unsafe.
	ErrInvalidPackage = errors.New("invalid package")
	// ErrResourceNotCached: an assembly names a resource the cache does not
	// hold (or holds with another size).
	ErrResourceNotCached = errors.New("resource not in the cache")
	// ErrLimit: a request exceeds a count or size bound.
	ErrLimit = errors.New("request exceeds a limit")
)
