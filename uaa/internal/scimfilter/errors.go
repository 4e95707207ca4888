package scimfilter

import "errors"

// ErrInvalidFilter is matched by every error Parse and ToSQL return.
var ErrInvalidFilter = errors.New("invalid filter")

// Error describes why a filter was rejected. Its message starts with
// "filter: " and is safe to show to the client that sent the filter.
type Error struct {
	// Pos is the 0-based byte offset in the filter where the problem was
	// found, or -1 when it has no single position.
	Pos int
	// Msg is the message without the "filter: " prefix.
	Msg string
}

func (e *Error) Error() string { return "filter: " + e.Msg }

// Unwrap returns ErrInvalidFilter.
func (e *Error) Unwrap() error { return ErrInvalidFilter }
