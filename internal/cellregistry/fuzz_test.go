package cellregistry

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// FuzzDecodeMeta feeds arbitrary bytes to the decoder of other members'
// metadata, the registry's untrusted input. It must never panic, must
// reject with errInvalidMetadata, and what it accepts must be a valid
// member that encodes and decodes back to itself.
func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []meta{
		{kind: kindObserver},
		{kind: kindCell, cell: presence("cell-a", 4096)},
		{kind: kindCell, leaving: true, cell: &bbsv1.CellPresence{CellId: "c"}},
	} {
		b, err := encodeMeta(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{byte(kindCell), 0, 0x0a, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, errInvalidMetadata) {
				t.Fatalf("error does not wrap errInvalidMetadata: %v", err)
			}
			return
		}
		switch m.kind {
		case kindObserver:
			if m.cell != nil {
				t.Fatalf("observer with a cell: %+v", m)
			}
		case kindCell:
			if err := validateCell(m.cell); err != nil {
				t.Fatalf("accepted an invalid cell: %v", err)
			}
		default:
			t.Fatalf("accepted kind %d", m.kind)
		}
		again, err := encodeMeta(m)
		if err != nil {
			// Only size can fail, and only if re-encoding grew the input.
			t.Fatalf("re-encoding accepted metadata (%d bytes): %v", len(b), err)
		}
		m2, err := decodeMeta(again)
		if err != nil {
			t.Fatalf("decoding re-encoded metadata: %v", err)
		}
		if m2.kind != m.kind || m2.leaving != m.leaving || !proto.Equal(m2.cell, m.cell) {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
	})
}
