package cellregistry

import (
	"strconv"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// DefaultSubscribeBuffer is the channel capacity Subscribe uses when asked
// for none.
const DefaultSubscribeBuffer = 64

// EventKind says what happened to a cell.
type EventKind int

const (
	// Joined: a cell appeared, or came back after it had left or failed.
	// Subscribe also replays every current cell as Joined.
	Joined EventKind = iota + 1
	// Updated: a cell published a new presence (capacity, tags, …).
	Updated
	// Left: a cell announced a graceful shutdown. It is gone from Cells
	// from then on, while its rep may still drain for LeaveTimeout.
	Left
	// Failed: a cell stopped answering probes and was declared dead, or
	// left without its announcement arriving, or now publishes metadata
	// that cannot be decoded.
	Failed
	// Resync: events were lost because the subscriber was slow (see
	// Registry.Subscribe); Cell is nil. Call Registry.Cells for the state.
	Resync
)

func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Updated:
		return "updated"
	case Left:
		return "left"
	case Failed:
		return "failed"
	case Resync:
		return "resync"
	default:
		return "EventKind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Event is one change to the set of cells. Cell is the receiver's own copy:
// for Joined and Updated the new presence, for Left and Failed the last one
// known; nil for Resync.
type Event struct {
	Kind EventKind
	Cell *bbsv1.CellPresence
}

// subscriber is one Subscribe channel. ch is only sent to, drained and
// closed with Registry.mu held.
type subscriber struct {
	ch chan Event
}

// Subscribe returns a channel of cell events and a cancel function that
// closes it. The channel first gets a Joined event for every current cell
// (sorted by cell_id), then every change as it happens, in order. Apply
// them idempotently: Joined and Updated upsert, Left and Failed delete.
//
// Delivery never blocks the registry. The channel holds buffer events
// (DefaultSubscribeBuffer when buffer < 1). When an event finds it full,
// the events still queued and the new one are dropped and replaced by a
// single Resync event: the subscriber then calls Cells, which already
// reflects every dropped change, and carries on with the events after it.
// Each such overflow counts in cellregistry_subscriber_resyncs_total.
//
// The channel is closed when cancel is called (cancel may be called more
// than once) or when Run returns. Subscribing before Run sees every cell
// from the first; subscribing after Run has returned yields a closed
// channel.
func (r *Registry) Subscribe(buffer int) (<-chan Event, func()) {
	if buffer < 1 {
		buffer = DefaultSubscribeBuffer
	}
	s := &subscriber{ch: make(chan Event, buffer)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		close(s.ch)
		return s.ch, func() {}
	}
	for _, c := range r.cellsLocked() {
		r.deliverLocked(s, Event{Kind: Joined, Cell: c})
	}
	r.subs[s] = struct{}{}
	cancel := func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.subs[s]; ok {
			delete(r.subs, s)
			close(s.ch)
		}
	}
	return s.ch, cancel
}

// publishLocked sends ev to every subscriber, each with its own copy of
// the cell.
func (r *Registry) publishLocked(kind EventKind, cell *bbsv1.CellPresence) {
	for s := range r.subs {
		r.deliverLocked(s, Event{Kind: kind, Cell: proto.CloneOf(cell)})
	}
}

// deliverLocked sends ev to s without blocking; on overflow it replaces
// whatever s has queued with one Resync. Only holders of r.mu send to s.ch,
// so after the drain the channel has room for the Resync.
func (r *Registry) deliverLocked(s *subscriber, ev Event) {
	select {
	case s.ch <- ev:
		return
	default:
	}
drain:
	for {
		select {
		case <-s.ch:
		default:
			break drain
		}
	}
	s.ch <- Event{Kind: Resync}
	r.metrics.resyncs.Inc()
}

// closeSubscribersLocked closes every channel; Run calls it on return.
func (r *Registry) closeSubscribersLocked() {
	for s := range r.subs {
		close(s.ch)
	}
	clear(r.subs)
}
