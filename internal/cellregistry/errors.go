package cellregistry

import "errors"

var (
	// ErrMetadataTooLarge is returned by New and UpdateCell when a cell's
	// presence, encoded, does not fit in memberlist's node metadata
	// (memberlist.MetaMaxSize bytes, envelope included). Shorten the
	// placement tags or stacks.
	ErrMetadataTooLarge = errors.New("cell metadata too large")

	// ErrNotCell is returned by UpdateCell on an observer.
	ErrNotCell = errors.New("member is an observer, not a cell")

	// errInvalidMetadata wraps every reason decodeMeta rejects the metadata
	// another member published.
	errInvalidMetadata = errors.New("invalid member metadata")
)
