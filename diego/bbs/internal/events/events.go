// Package events is the BBS's event hub: every committed change is published
// here once, numbered, kept in a bounded ring, and fanned out to subscribers
// (the SubscribeToEvents streams).
//
// Numbering: a hub has an epoch (a random id chosen when it is created, that
// is when this BBS became active) and a sequence that grows by one per event.
// A subscriber that reconnects gives the epoch and sequence of the last event
// it saw. When the epoch matches and the ring still holds everything after
// that sequence, the missed events are replayed; otherwise (another BBS took
// over, or too much happened) the subscriber's first event is a Resync, which
// tells it to list the state again.
//
// Slow subscribers never hold up publishers: a subscriber whose buffer is
// full is cut off (its channel is closed and Err reports ErrTooSlow). It can
// reconnect and resume from the ring.
//
// Concurrency: all methods are safe for concurrent use. Publish holds the
// hub's lock while numbering and fanning out, so every subscriber sees events
// in sequence order.
package events

import (
	"errors"
	"sync"

	"github.com/google/uuid"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// Defaults for Options.
const (
	DefaultRingSize         = 50_000
	DefaultSubscriberBuffer = 4096
)

// ErrTooSlow ends a subscription that fell behind by a whole buffer.
var ErrTooSlow = errors.New("events: subscriber too slow, events dropped; reconnect to resume")

// ErrClosed ends subscriptions when the hub closes.
var ErrClosed = errors.New("events: hub closed")

// Options tunes a Hub.
type Options struct {
	// RingSize is how many recent events are kept for resuming.
	RingSize int
	// SubscriberBuffer is how many events a subscriber may lag behind.
	SubscriberBuffer int
}

// Hub numbers and fans out events.
type Hub struct {
	opts Options

	mu     sync.Mutex
	epoch  string
	seq    uint64
	ring   []*bbsv1.SubscribeToEventsResponse // ring[i%len] holds sequence i+1
	subs   map[*Subscription]struct{}
	closed bool
}

// New returns a hub with a fresh epoch.
func New(opts Options) *Hub {
	if opts.RingSize <= 0 {
		opts.RingSize = DefaultRingSize
	}
	if opts.SubscriberBuffer <= 0 {
		opts.SubscriberBuffer = DefaultSubscriberBuffer
	}
	return &Hub{
		epoch: uuid.NewString(),
		opts:  opts,
		ring:  make([]*bbsv1.SubscribeToEventsResponse, opts.RingSize),
		subs:  make(map[*Subscription]struct{}),
	}
}

// Epoch identifies this hub's numbering.
func (h *Hub) Epoch() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.epoch
}

// Restart begins a new epoch: the ring is emptied and current subscriptions
// end with ErrClosed. A BBS restarts its hub each time it becomes active, so
// that subscribers who were connected to a previous term resync.
func (h *Hub) Restart() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.dropLocked(s, ErrClosed)
	}
	h.epoch = uuid.NewString()
	h.seq = 0
	clear(h.ring)
	h.closed = false
}

// Sequence is the number of the last event published.
func (h *Hub) Sequence() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Publish numbers events and delivers them to every subscriber. The events
// are owned by the hub afterwards: callers must not change them.
func (h *Hub) Publish(evs ...*bbsv1.SubscribeToEventsResponse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, ev := range evs {
		h.seq++
		ev.Epoch = h.epoch
		ev.Sequence = h.seq
		h.ring[(h.seq-1)%uint64(len(h.ring))] = ev
		for s := range h.subs {
			select {
			case s.ch <- ev:
			default:
				h.dropLocked(s, ErrTooSlow)
			}
		}
	}
}

// Subscribe starts a subscription. epoch and after name the last event the
// subscriber saw; an empty epoch means it saw none and wants only what
// happens from now on.
func (h *Hub) Subscribe(epoch string, after uint64) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s := &Subscription{hub: h, start: h.seq, ch: make(chan *bbsv1.SubscribeToEventsResponse, h.opts.SubscriberBuffer)}
	switch {
	case epoch == "":
	case epoch == h.epoch && after <= h.seq && h.seq-after <= uint64(len(h.ring)):
		for seq := after + 1; seq <= h.seq; seq++ {
			s.backlog = append(s.backlog, h.ring[(seq-1)%uint64(len(h.ring))])
		}
	default:
		reason := "the active BBS changed"
		if epoch == h.epoch {
			reason = "too many events were missed"
		}
		s.backlog = append(s.backlog, &bbsv1.SubscribeToEventsResponse{
			Epoch:    h.epoch,
			Sequence: h.seq,
			Event:    &bbsv1.SubscribeToEventsResponse_Resync{Resync: &bbsv1.Resync{Reason: reason}},
		})
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// Close ends every subscription with ErrClosed and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		h.dropLocked(s, ErrClosed)
	}
}

func (h *Hub) dropLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.ch)
}

// Subscription is one subscriber's feed.
type Subscription struct {
	hub     *Hub
	start   uint64
	backlog []*bbsv1.SubscribeToEventsResponse
	ch      chan *bbsv1.SubscribeToEventsResponse
	err     error // set before ch is closed
}

// Backlog is what the subscriber must be sent before anything from C: the
// replayed events, or a single Resync.
func (s *Subscription) Backlog() []*bbsv1.SubscribeToEventsResponse { return s.backlog }

// Start is the sequence of the last event published before the
// subscription began: C delivers the events after it.
func (s *Subscription) Start() uint64 { return s.start }

// C delivers live events in sequence order. It is closed when the
// subscription ends; Err then says why.
func (s *Subscription) C() <-chan *bbsv1.SubscribeToEventsResponse { return s.ch }

// Err is why C was closed: ErrTooSlow, ErrClosed, or nil after Close.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.dropLocked(s, nil)
}
