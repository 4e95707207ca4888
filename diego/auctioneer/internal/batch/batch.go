// Package batch is the auctioneer's work queue. Requests add work at any
// time; the auction loop takes it in batches: Next waits for the first
// piece, then for a short window (or until the batch is large) so that the
// work of many requests shares one auction.
//
// Work is deduplicated by key (process guid and index, or task guid): a
// request for work already queued is dropped, as in Diego's batch. Work
// sent back for another attempt (Retry) goes to the front and replaces a
// queued duplicate, keeping its attempt count and the cells to avoid.
//
// A Queue is safe for concurrent use. Next is meant for one caller (the
// auction loop).
package batch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
)

// ErrFull is returned by Add when the queue holds MaxQueued items.
var ErrFull = errors.New("auction queue is full")

// Item is one LRP instance or one task waiting for placement. Exactly one
// of LRP and Task is set.
type Item struct {
	// LRP is the instance as it will be sent to the chosen cell.
	LRP *repv1.LRPWork
	// Task is the task as it will be sent to the chosen cell.
	Task *bbsv1.Task
	// Attempts counts the auctions that placed the item on a cell that then
	// did not take it, or found no cell to talk to.
	Attempts int
	// Avoid lists the cells that did not take it.
	Avoid []string
}

// Key identifies the item's work: "lrp <process guid> <index>" or
// "task <task guid>".
func (it *Item) Key() string {
	if it.LRP != nil {
		return "lrp " + it.LRP.GetProcessGuid() + " " + strconv.Itoa(int(it.LRP.GetIndex()))
	}
	return "task " + it.Task.GetTaskGuid()
}

// Config bounds batches and the queue.
type Config struct {
	// Window is how long Next waits, after the first item arrives, for more
	// items to join the batch.
	Window time.Duration
	// FlushSize ends the window early once this many items are queued.
	FlushSize int
	// MaxQueued bounds the queue; Add refuses items beyond it.
	MaxQueued int
}

// Queue collects items into batches.
type Queue struct {
	cfg    Config
	notify chan struct{} // holds a token when items were added since Next last looked

	mu    sync.Mutex
	items []Item
	keys  map[string]int // key → index in items
	first time.Time      // when items went from empty to non-empty
}

// New returns an empty queue.
func New(cfg Config) *Queue {
	return &Queue{cfg: cfg, notify: make(chan struct{}, 1), keys: map[string]int{}}
}

// Add queues fresh work. Items whose key is already queued are dropped. It
// returns ErrFull, queueing nothing, when the items would not fit.
func (q *Queue) Add(items []Item) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items)+len(items) > q.cfg.MaxQueued {
		return fmt.Errorf("%w (%d queued, %d more, limit %d)", ErrFull, len(q.items), len(items), q.cfg.MaxQueued)
	}
	q.markFirst()
	for _, it := range items {
		k := it.Key()
		if _, dup := q.keys[k]; dup {
			continue
		}
		q.keys[k] = len(q.items)
		q.items = append(q.items, it)
	}
	q.signal()
	return nil
}

// Retry queues items for another auction, ahead of fresh work. An item
// replaces a queued one with the same key. Retry never refuses items: they
// were admitted once already.
func (q *Queue) Retry(items []Item) {
	if len(items) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.markFirst()
	fresh := q.items
	q.items = make([]Item, 0, len(items)+len(fresh))
	clear(q.keys)
	for _, it := range items {
		k := it.Key()
		if _, dup := q.keys[k]; dup {
			continue
		}
		q.keys[k] = len(q.items)
		q.items = append(q.items, it)
	}
	for _, it := range fresh {
		k := it.Key()
		if _, dup := q.keys[k]; dup {
			continue
		}
		q.keys[k] = len(q.items)
		q.items = append(q.items, it)
	}
	q.signal()
}

// Len returns the number of queued items.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Next waits until items are queued, then until Window has passed since
// the first of them arrived or FlushSize items are queued, and returns
// every queued item. It returns ctx's error if ctx ends first.
func (q *Queue) Next(ctx context.Context) ([]Item, error) {
	for {
		q.mu.Lock()
		n, first := len(q.items), q.first
		if n > 0 && (n >= q.cfg.FlushSize || time.Since(first) >= q.cfg.Window) {
			items := q.items
			q.items = nil
			clear(q.keys)
			q.mu.Unlock()
			return items, nil
		}
		q.mu.Unlock()

		if err := q.wait(ctx, n, first); err != nil {
			return nil, err
		}
	}
}

// wait blocks until items are added, ctx ends or, with n items queued
// since first, the window closes.
func (q *Queue) wait(ctx context.Context, n int, first time.Time) error {
	var timeout <-chan time.Time
	if n > 0 {
		t := time.NewTimer(q.cfg.Window - time.Since(first))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-q.notify:
	case <-timeout:
	}
	return nil
}

// markFirst starts the window if the queue is empty. q.mu is held.
func (q *Queue) markFirst() {
	if len(q.items) == 0 {
		q.first = time.Now()
	}
}

// signal wakes Next. q.mu is held.
func (q *Queue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}
