package store

import "errors"

// Sentinel errors. Every error a Store method returns for one of these
// conditions wraps the sentinel, so check with errors.Is.
var (
	// ErrNotFound: the user, group, client, membership or refresh token
	// does not exist, or a referenced one (the group or user of a
	// membership, the client or user of a refresh token) does not.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is taken (user name within an origin,
	// group display name, client or token ID, membership).
	ErrConflict = errors.New("already exists")
	// ErrVersionMismatch: an update's ifMatch is not the current version.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrInvalid: an argument the store cannot accept (empty or overlong
	// key, unsupported member type, unknown sort attribute). Filter
	// errors match scimfilter.ErrInvalidFilter instead.
	ErrInvalid = errors.New("invalid argument")
)
