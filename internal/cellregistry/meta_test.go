package cellregistry

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

func presence(id string, memoryMB int32) *bbsv1.CellPresence {
	return &bbsv1.CellPresence{
		CellId:                id,
		RepAddress:            "10.0.16.4:1801",
		Zone:                  "z1",
		Capacity:              &bbsv1.CellCapacity{MemoryMb: memoryMB, DiskMb: 8192, Containers: 250},
		Stacks:                []string{"cflinuxfs4"},
		PlacementTags:         []string{"gpu"},
		OptionalPlacementTags: []string{"ssd"},
	}
}

// tooLarge is a presence whose encoding exceeds memberlist.MetaMaxSize.
func tooLarge(id string) *bbsv1.CellPresence {
	p := presence(id, 1024)
	for i := range 40 {
		p.PlacementTags = append(p.PlacementTags, strings.Repeat("t", 10)+string(rune('a'+i%26)))
	}
	return p
}

func mustEncode(t testing.TB, m meta) []byte {
	t.Helper()
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatalf("encodeMeta: %v", err)
	}
	return b
}

func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   meta
	}{
		{"observer", meta{kind: kindObserver}},
		{"cell", meta{kind: kindCell, cell: presence("cell-a", 4096)}},
		{"leaving cell", meta{kind: kindCell, leaving: true, cell: presence("cell-a", 4096)}},
		{"minimal cell", meta{kind: kindCell, cell: &bbsv1.CellPresence{CellId: "c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := mustEncode(t, tt.in)
			got, err := decodeMeta(b)
			if err != nil {
				t.Fatalf("decodeMeta: %v", err)
			}
			if got.kind != tt.in.kind || got.leaving != tt.in.leaving || !proto.Equal(got.cell, tt.in.cell) {
				t.Fatalf("decodeMeta(encodeMeta(%+v)) = %+v", tt.in, got)
			}
		})
	}
}

func TestEncodeMetaRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cell    *bbsv1.CellPresence
		wantIs  error
		wantMsg string
	}{
		{"too large", tooLarge("cell-a"), ErrMetadataTooLarge, "limit 512"},
		{"nil", nil, nil, "nil"},
		{"no cell id", &bbsv1.CellPresence{Zone: "z1"}, nil, "cell_id is empty"},
		{"negative memory", &bbsv1.CellPresence{CellId: "c", Capacity: &bbsv1.CellCapacity{MemoryMb: -1}}, nil, "memory_mb -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := encodeMeta(meta{kind: kindCell, cell: tt.cell})
			if err == nil {
				t.Fatal("encodeMeta succeeded")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

// TestEncodeMetaLimit pins the boundary: exactly MetaMaxSize bytes fit.
func TestEncodeMetaLimit(t *testing.T) {
	t.Parallel()
	p := &bbsv1.CellPresence{CellId: "c", Zone: ""}
	p.Zone = strings.Repeat("z", memberlist.MetaMaxSize-metaHeaderLen-proto.Size(p)-3) // tag + 2-byte length
	if b, err := encodeMeta(meta{kind: kindCell, cell: p}); err != nil || len(b) != memberlist.MetaMaxSize {
		t.Fatalf("encodeMeta = %d bytes, %v; want exactly %d", len(b), err, memberlist.MetaMaxSize)
	}
	p.Zone += "z"
	if _, err := encodeMeta(meta{kind: kindCell, cell: p}); !errors.Is(err, ErrMetadataTooLarge) {
		t.Fatalf("one byte over: err = %v, want ErrMetadataTooLarge", err)
	}
}

func TestDecodeMetaRejectsGarbage(t *testing.T) {
	t.Parallel()
	cell := mustEncode(t, meta{kind: kindCell, cell: presence("cell-a", 1)})
	// A cell_id field (1) whose string is not UTF-8.
	badUTF8 := protowire.AppendString(nil, "\xff\xfe")
	badUTF8 = append(protowire.AppendTag(nil, 1, protowire.BytesType), badUTF8...)
	negative := mustProto(t, &bbsv1.CellPresence{CellId: "c", Capacity: &bbsv1.CellCapacity{Containers: -5}})

	tests := []struct {
		name string
		in   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"kind only", []byte{byte(kindCell)}},
		{"unknown kind", []byte{7, 0}},
		{"zero kind", []byte{0, 0, 1, 2, 3}},
		{"observer with payload", []byte{byte(kindObserver), 0, 'x'}},
		{"cell without payload", []byte{byte(kindCell), 0}},
		{"truncated proto", cell[:len(cell)-3]},
		{"proto garbage", append([]byte{byte(kindCell), 0}, 0xff, 0xff, 0xff, 0xff)},
		{"invalid utf-8", append([]byte{byte(kindCell), 0}, badUTF8...)},
		{"negative capacity", append([]byte{byte(kindCell), 0}, negative...)},
		{"too long", append(append([]byte{}, cell...), make([]byte, memberlist.MetaMaxSize)...)},
		{"json", []byte(`{"cell_id":"c"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := decodeMeta(tt.in)
			if err == nil {
				t.Fatalf("decodeMeta(%q) = %+v, want an error", tt.in, m)
			}
			if !errors.Is(err, errInvalidMetadata) {
				t.Fatalf("err = %v, want errInvalidMetadata", err)
			}
		})
	}
}

// TestDecodeMetaForwardCompatible: fields and flag bits a newer version
// adds are accepted.
func TestDecodeMetaForwardCompatible(t *testing.T) {
	t.Parallel()
	b := mustEncode(t, meta{kind: kindCell, cell: presence("cell-a", 1)})
	b[1] |= 0x80                                         // unknown flag
	b = protowire.AppendTag(b, 99, protowire.VarintType) // unknown field 99
	b = protowire.AppendVarint(b, 42)
	m, err := decodeMeta(b)
	if err != nil {
		t.Fatalf("decodeMeta: %v", err)
	}
	if m.leaving || m.cell.GetCellId() != "cell-a" {
		t.Fatalf("decodeMeta = %+v", m)
	}
}

func mustProto(t testing.TB, p *bbsv1.CellPresence) []byte {
	t.Helper()
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
