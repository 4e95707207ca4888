package cellregistry

import (
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// The metadata envelope is what every member publishes as its memberlist
// node metadata. It is the contract between all members of a cluster, so it
// changes only by adding: a new kind, a new flag bit, a new CellPresence
// field.
//
//	byte 0    kind: 1 = cell, 2 = observer; any other value is rejected
//	byte 1    flags: bit 0 = leaving (a graceful shutdown has begun);
//	          other bits are sent as 0 and ignored when received
//	bytes 2…  cell: a proto-encoded bbsv1.CellPresence (cell_id required)
//	          observer: nothing
//
// The whole envelope is at most memberlist.MetaMaxSize (512) bytes.
const (
	kindCell     kind = 1
	kindObserver kind = 2

	flagLeaving byte = 1 << 0

	metaHeaderLen = 2
)

// kind is a member's role, byte 0 of the envelope. The zero value marks a
// member whose metadata was rejected.
type kind byte

func (k kind) String() string {
	switch k {
	case kindCell:
		return "cell"
	case kindObserver:
		return "observer"
	default:
		return "invalid"
	}
}

// meta is a decoded envelope.
type meta struct {
	kind    kind
	leaving bool
	cell    *bbsv1.CellPresence // set for kindCell only
}

// encodeMeta builds the envelope for m. It validates a cell's presence and
// returns an error wrapping ErrMetadataTooLarge when the result does not
// fit in memberlist.MetaMaxSize.
func encodeMeta(m meta) ([]byte, error) {
	var flags byte
	if m.leaving {
		flags |= flagLeaving
	}
	switch m.kind {
	case kindObserver:
		return []byte{byte(kindObserver), flags}, nil
	case kindCell:
		if err := validateCell(m.cell); err != nil {
			return nil, err
		}
		size := metaHeaderLen + proto.Size(m.cell)
		if size > memberlist.MetaMaxSize {
			return nil, fmt.Errorf("%w: %d bytes encoded, limit %d", ErrMetadataTooLarge, size, memberlist.MetaMaxSize)
		}
		b := make([]byte, metaHeaderLen, size)
		b[0], b[1] = byte(kindCell), flags
		// Deterministic, so that an unchanged presence encodes to the same
		// bytes and memberlist reports no spurious update.
		b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, m.cell)
		if err != nil {
			return nil, fmt.Errorf("encode cell presence: %w", err)
		}
		if len(b) > memberlist.MetaMaxSize { // proto.Size was a guess; this is the truth
			return nil, fmt.Errorf("%w: %d bytes encoded, limit %d", ErrMetadataTooLarge, len(b), memberlist.MetaMaxSize)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("encode metadata: unknown kind %d", m.kind)
	}
}

// decodeMeta parses the metadata another member published. The input is
// untrusted: every error wraps errInvalidMetadata, and no input panics.
func decodeMeta(b []byte) (meta, error) {
	if len(b) < metaHeaderLen {
		return meta{}, fmt.Errorf("%w: %d bytes, want at least %d", errInvalidMetadata, len(b), metaHeaderLen)
	}
	if len(b) > memberlist.MetaMaxSize {
		return meta{}, fmt.Errorf("%w: %d bytes, limit %d", errInvalidMetadata, len(b), memberlist.MetaMaxSize)
	}
	m := meta{kind: kind(b[0]), leaving: b[1]&flagLeaving != 0}
	payload := b[metaHeaderLen:]
	switch m.kind {
	case kindObserver:
		if len(payload) != 0 {
			return meta{}, fmt.Errorf("%w: observer with %d unexpected payload bytes", errInvalidMetadata, len(payload))
		}
		return m, nil
	case kindCell:
		cell := &bbsv1.CellPresence{}
		// Unknown fields are kept: a newer rep may add fields.
		if err := proto.Unmarshal(payload, cell); err != nil {
			return meta{}, fmt.Errorf("%w: cell presence: %w", errInvalidMetadata, err)
		}
		if err := validateCell(cell); err != nil {
			return meta{}, fmt.Errorf("%w: %w", errInvalidMetadata, err)
		}
		m.cell = cell
		return m, nil
	default:
		return meta{}, fmt.Errorf("%w: unknown kind %d", errInvalidMetadata, b[0])
	}
}

// validateCell checks what every consumer of a presence relies on.
func validateCell(p *bbsv1.CellPresence) error {
	if p == nil {
		return errors.New("cell presence is nil")
	}
	var errs []error
	if p.GetCellId() == "" {
		errs = append(errs, errors.New("cell_id is empty"))
	}
	c := p.GetCapacity()
	if c.GetMemoryMb() < 0 {
		errs = append(errs, fmt.Errorf("capacity.memory_mb %d is negative", c.GetMemoryMb()))
	}
	if c.GetDiskMb() < 0 {
		errs = append(errs, fmt.Errorf("capacity.disk_mb %d is negative", c.GetDiskMb()))
	}
	if c.GetContainers() < 0 {
		errs = append(errs, fmt.Errorf("capacity.containers %d is negative", c.GetContainers()))
	}
	return errors.Join(errs...)
}
