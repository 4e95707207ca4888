package cellregistry

import (
	"errors"
	"net"
	"testing"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// These tests drive the membership callbacks directly, as memberlist
// would, without a network.

func newObserver(t *testing.T) (*Registry, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := New(Config{}, Member{}, Deps{Logger: testenv.Logger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

func node(t testing.TB, name string, m meta) *memberlist.Node {
	return &memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Meta: mustEncode(t, m)}
}

func cellNode(t testing.TB, p *bbsv1.CellPresence, leaving bool) *memberlist.Node {
	return node(t, p.GetCellId(), meta{kind: kindCell, leaving: leaving, cell: p})
}

// next returns the next event, failing if none is queued.
func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return ev
	default:
		t.Fatal("no event queued")
		return Event{}
	}
}

func expectEvent(t *testing.T, ch <-chan Event, kind EventKind, want *bbsv1.CellPresence) {
	t.Helper()
	ev := next(t, ch)
	if ev.Kind != kind || !proto.Equal(ev.Cell, want) {
		t.Fatalf("event = %v %v, want %v %v", ev.Kind, ev.Cell, kind, want)
	}
}

func expectNone(t *testing.T, ch <-chan Event) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %v %v", ev.Kind, ev.Cell)
	default:
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestMembershipEvents(t *testing.T) {
	t.Parallel()
	r, reg := newObserver(t)
	a, b := presence("cell-a", 1024), presence("cell-b", 2048)
	r.nodeAlive(cellNode(t, a, false))

	// Subscribing replays the current cells.
	ch, cancel := r.Subscribe(16)
	defer cancel()
	expectEvent(t, ch, Joined, a)

	r.nodeAlive(node(t, "observer-1", meta{kind: kindObserver}))
	expectNone(t, ch) // observers are not cells
	r.nodeAlive(cellNode(t, b, false))
	expectEvent(t, ch, Joined, b)

	a2 := presence("cell-a", 512)
	r.nodeAlive(cellNode(t, a2, false))
	expectEvent(t, ch, Updated, a2)
	r.nodeAlive(cellNode(t, a2, false)) // same presence: no event
	expectNone(t, ch)

	if got := r.Cells(); len(got) != 2 || !proto.Equal(got[0], a2) || !proto.Equal(got[1], b) {
		t.Fatalf("Cells() = %v, want [a2 b] sorted by cell_id", got)
	}
	if got := gauge(t, reg, "cellregistry_cells"); got != 2 {
		t.Fatalf("cellregistry_cells = %v, want 2", got)
	}

	// Graceful: the leaving flag reports Left and removes the cell at once;
	// the leave itself is then silent.
	r.nodeAlive(cellNode(t, a2, true))
	expectEvent(t, ch, Left, a2)
	if _, ok := r.Cell("cell-a"); ok {
		t.Fatal("leaving cell still listed")
	}
	r.nodeGone(cellNode(t, a2, true))
	expectNone(t, ch)

	// Dead without announcing: Failed.
	r.nodeGone(cellNode(t, b, false))
	expectEvent(t, ch, Failed, b)

	// A failed cell may come back.
	r.nodeAlive(cellNode(t, b, false))
	expectEvent(t, ch, Joined, b)
	if got, ok := r.Cell("cell-b"); !ok || !proto.Equal(got, b) {
		t.Fatalf("Cell(cell-b) = %v, %v", got, ok)
	}
	if got := gauge(t, reg, "cellregistry_cells"); got != 1 {
		t.Fatalf("cellregistry_cells = %v, want 1", got)
	}
}

func TestMembershipInvalidMetadata(t *testing.T) {
	t.Parallel()
	r, reg := newObserver(t)
	ch, cancel := r.Subscribe(16)
	defer cancel()

	r.nodeAlive(&memberlist.Node{Name: "junk", Meta: []byte("garbage")})
	// A cell whose node name is not its cell_id could shadow another cell.
	r.nodeAlive(node(t, "impostor", meta{kind: kindCell, cell: presence("cell-a", 1)}))
	expectNone(t, ch)
	if got := r.Cells(); len(got) != 0 {
		t.Fatalf("Cells() = %v, want none", got)
	}
	if got := gauge(t, reg, "cellregistry_bad_metadata_total"); got != 2 {
		t.Fatalf("cellregistry_bad_metadata_total = %v, want 2", got)
	}

	// A cell that starts publishing garbage is no longer usable: Failed.
	a := presence("cell-a", 1)
	r.nodeAlive(cellNode(t, a, false))
	expectEvent(t, ch, Joined, a)
	r.nodeAlive(&memberlist.Node{Name: "cell-a", Meta: []byte{byte(kindCell), 0, 0xff}})
	expectEvent(t, ch, Failed, a)
	r.nodeGone(&memberlist.Node{Name: "cell-a"})
	expectNone(t, ch)
	if got := gauge(t, reg, "cellregistry_bad_metadata_total"); got != 3 {
		t.Fatalf("cellregistry_bad_metadata_total = %v, want 3", got)
	}
}

func TestSubscribeSlowSubscriberResyncs(t *testing.T) {
	t.Parallel()
	r, reg := newObserver(t)
	slow, cancelSlow := r.Subscribe(2)
	defer cancelSlow()
	fast, cancelFast := r.Subscribe(16)
	defer cancelFast()

	var cells []*bbsv1.CellPresence
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		p := presence(id, 1)
		cells = append(cells, p)
		r.nodeAlive(cellNode(t, p, false))
	}
	// The slow subscriber's queue overflowed at c3: it gets one Resync,
	// then c4 again fits.
	if ev := next(t, slow); ev.Kind != Resync || ev.Cell != nil {
		t.Fatalf("first event = %v %v, want Resync", ev.Kind, ev.Cell)
	}
	expectEvent(t, slow, Joined, cells[3])
	expectNone(t, slow)
	if got := len(r.Cells()); got != 4 {
		t.Fatalf("Cells() has %d cells, want 4: a resync must see every dropped change", got)
	}
	// The fast one lost nothing.
	for _, p := range cells {
		expectEvent(t, fast, Joined, p)
	}
	if got := gauge(t, reg, "cellregistry_subscriber_resyncs_total"); got != 1 {
		t.Fatalf("cellregistry_subscriber_resyncs_total = %v, want 1", got)
	}

	// Replaying more cells than fit also ends in a Resync.
	small, cancelSmall := r.Subscribe(1)
	defer cancelSmall()
	if ev := next(t, small); ev.Kind != Resync {
		t.Fatalf("replay into a 1-slot channel: %v, want Resync", ev.Kind)
	}
}

func TestSubscribeCancelAndStop(t *testing.T) {
	t.Parallel()
	r, _ := newObserver(t)
	ch, cancel := r.Subscribe(0)
	if cap(ch) != DefaultSubscribeBuffer {
		t.Fatalf("cap = %d, want DefaultSubscribeBuffer", cap(ch))
	}
	cancel()
	cancel() // idempotent
	if _, ok := <-ch; ok {
		t.Fatal("channel open after cancel")
	}
	r.nodeAlive(cellNode(t, presence("c1", 1), false)) // no send on a closed channel

	ch2, cancel2 := r.Subscribe(4)
	defer cancel2()
	expectEvent(t, ch2, Joined, presence("c1", 1))
	r.stop() // what Run does when it returns
	if _, ok := <-ch2; ok {
		t.Fatal("channel open after Run returned")
	}
	if got := r.Cells(); len(got) != 0 {
		t.Fatalf("Cells() after Run returned = %v", got)
	}
	ch3, cancel3 := r.Subscribe(4)
	defer cancel3()
	if _, ok := <-ch3; ok {
		t.Fatal("Subscribe after Run returned: channel open")
	}
}

// TestEventCellsAreCopies: mutating what the registry hands out changes
// nothing inside it.
func TestEventCellsAreCopies(t *testing.T) {
	t.Parallel()
	r, _ := newObserver(t)
	ch1, c1 := r.Subscribe(4)
	defer c1()
	ch2, c2 := r.Subscribe(4)
	defer c2()
	r.nodeAlive(cellNode(t, presence("c1", 100), false))
	next(t, ch1).Cell.Capacity.MemoryMb = 1
	r.Cells()[0].Capacity.MemoryMb = 2
	got, _ := r.Cell("c1")
	got.Capacity.MemoryMb = 3
	if ev := next(t, ch2); ev.Cell.GetCapacity().GetMemoryMb() != 100 {
		t.Fatalf("second subscriber saw %d", ev.Cell.GetCapacity().GetMemoryMb())
	}
	if got, _ := r.Cell("c1"); got.GetCapacity().GetMemoryMb() != 100 {
		t.Fatalf("registry holds %d", got.GetCapacity().GetMemoryMb())
	}
}

func TestUpdateCellChecks(t *testing.T) {
	t.Parallel()
	obs, _ := newObserver(t)
	if err := obs.UpdateCell(presence("c1", 1)); !errors.Is(err, ErrNotCell) {
		t.Fatalf("observer UpdateCell = %v, want ErrNotCell", err)
	}
	r, err := New(Config{}, Member{Cell: presence("c1", 1)}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	before := *r.metaBytes.Load()
	for _, p := range []*bbsv1.CellPresence{nil, presence("c2", 1), tooLarge("c1"), {CellId: "c1", Capacity: &bbsv1.CellCapacity{DiskMb: -1}}} {
		if err := r.UpdateCell(p); err == nil {
			t.Fatalf("UpdateCell(%v) succeeded", p)
		}
	}
	if err := r.UpdateCell(tooLarge("c1")); !errors.Is(err, ErrMetadataTooLarge) {
		t.Fatalf("UpdateCell(too large) = %v, want ErrMetadataTooLarge", err)
	}
	if string(*r.metaBytes.Load()) != string(before) {
		t.Fatal("a rejected update changed the published metadata")
	}
	if err := r.UpdateCell(presence("c1", 7)); err != nil {
		t.Fatalf("UpdateCell: %v", err)
	}
	m, err := decodeMeta(*r.metaBytes.Load())
	if err != nil || m.cell.GetCapacity().GetMemoryMb() != 7 {
		t.Fatalf("published %+v, %v", m, err)
	}
}
