package logemitter

import (
	"sync"

	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
)

// diode is a bounded FIFO that overwrites its oldest element when full.
type diode struct {
	mu      sync.Mutex
	buf     []*loggregator_v2.Envelope
	head, n int
	dropped uint64 // guarded by mu

	// notify has room for one wake-up of the sender.
	notify chan struct{}
}

func newDiode(size int) *diode {
	return &diode{buf: make([]*loggregator_v2.Envelope, size), notify: make(chan struct{}, 1)}
}

// push adds e, dropping the oldest element if full; it reports whether
// one was dropped.
func (d *diode) push(e *loggregator_v2.Envelope) bool {
	d.mu.Lock()
	dropped := false
	if d.n == len(d.buf) {
		d.buf[d.head] = e
		d.head = (d.head + 1) % len(d.buf)
		d.dropped++
		dropped = true
	} else {
		d.buf[(d.head+d.n)%len(d.buf)] = e
		d.n++
	}
	d.mu.Unlock()
	select {
	case d.notify <- struct{}{}:
	default:
	}
	return dropped
}

// take moves up to max elements, oldest first, into dst[:0].
func (d *diode) take(dst []*loggregator_v2.Envelope, max int) []*loggregator_v2.Envelope {
	dst = dst[:0]
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.n > 0 && len(dst) < max {
		dst = append(dst, d.buf[d.head])
		d.buf[d.head] = nil
		d.head = (d.head + 1) % len(d.buf)
		d.n--
	}
	return dst
}

func (d *diode) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

func (d *diode) droppedCount() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}
