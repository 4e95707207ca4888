// Package store is log-cache's in-memory envelope store: per source_id a
// ring of the newest envelopes ordered by timestamp, under a global cap on
// envelopes and estimated bytes that evicts from the source holding the
// oldest data.
//
// # Concurrency and lock order
//
// A Store is safe for concurrent use. Store.mu guards the map of sources;
// each source has its own mutex guarding its ring. The order is always
// Store.mu, then one source.mu; two source locks are never held at once.
// Totals are atomics, updated under the source lock that changed them.
// Pruning runs in at most one goroutine at a time (pruneMu.TryLock); a Put
// that finds the store over its cap while another goroutine prunes goes on
// without waiting, so the cap may be exceeded briefly by at most the
// in-flight Puts.
//
// Envelopes are never modified after Put: readers get the stored pointers.
package store

import (
	"math"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"code.cloudfoundry.org/go-log-cache/v2/rpc/logcache_v1"
	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
)

// Defaults for Config's zero values.
const (
	DefaultMaxPerSource = 100_000
	DefaultMaxEnvelopes = 2_000_000
	DefaultMaxBytes     = 1 << 30
)

// Estimated in-memory costs beyond the bytes of strings and payloads: an
// envelope's structs and ring slot, and each map entry.
const (
	entryOverhead    = 320
	mapEntryOverhead = 48
)

// estimateSize is a cheap estimate of env's memory (proto.Size would cost
// a walk as long as a decode's).
func estimateSize(env *loggregator_v2.Envelope) int64 {
	n := entryOverhead + len(env.SourceId) + len(env.InstanceId)
	for k, v := range env.Tags {
		n += mapEntryOverhead + len(k) + len(v)
	}
	for k, v := range env.DeprecatedTags {
		n += mapEntryOverhead + len(k) + len(v.GetText()) + 16
	}
	switch m := env.Message.(type) {
	case *loggregator_v2.Envelope_Log:
		n += len(m.Log.GetPayload())
	case *loggregator_v2.Envelope_Counter:
		n += len(m.Counter.GetName())
	case *loggregator_v2.Envelope_Gauge:
		for k, v := range m.Gauge.GetMetrics() {
			n += mapEntryOverhead + 48 + len(k) + len(v.GetUnit())
		}
	case *loggregator_v2.Envelope_Timer:
		n += len(m.Timer.GetName())
	case *loggregator_v2.Envelope_Event:
		n += len(m.Event.GetTitle()) + len(m.Event.GetBody())
	}
	return int64(n)
}

// Config bounds a Store.
type Config struct {
	// MaxPerSource is the ring size of each source_id.
	MaxPerSource int
	// MaxEnvelopes bounds the envelopes held over all sources.
	MaxEnvelopes int
	// MaxBytes bounds the estimated memory of the envelopes held.
	MaxBytes int64
}

func (c *Config) defaults() {
	if c.MaxPerSource <= 0 {
		c.MaxPerSource = DefaultMaxPerSource
	}
	if c.MaxEnvelopes <= 0 {
		c.MaxEnvelopes = DefaultMaxEnvelopes
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
}

// Store holds envelopes by source_id.
type Store struct {
	cfg Config

	mu      sync.RWMutex
	sources map[string]*source

	pruneMu sync.Mutex

	count   atomic.Int64 // envelopes held
	bytes   atomic.Int64 // estimated bytes held
	evicted atomic.Int64 // envelopes removed to make room (ring or global cap)
}

// New returns an empty store.
func New(cfg Config) *Store {
	cfg.defaults()
	return &Store{cfg: cfg, sources: make(map[string]*source)}
}

// entry is one stored envelope.
type entry struct {
	ts   int64
	size int64
	env  *loggregator_v2.Envelope
}

// source is the ring of one source_id, sorted by timestamp (oldest at
// head). Out-of-order envelopes are inserted in place.
type source struct {
	mu      sync.RWMutex
	buf     []entry // len == cap of the ring once grown
	head    int     // index of the oldest entry
	n       int     // entries held
	max     int
	expired int64 // envelopes evicted from this source
	removed bool  // dropped from Store.sources; Put must look again
}

func (s *source) at(i int) *entry { return &s.buf[(s.head+i)%len(s.buf)] }

// Put stores env under env.SourceId and returns whether it was kept (an
// envelope older than everything in a full ring is not). env must not be
// modified afterwards.
func (st *Store) Put(env *loggregator_v2.Envelope) bool {
	e := entry{ts: env.GetTimestamp(), env: env, size: estimateSize(env)}
	for {
		s := st.source(env.GetSourceId())
		s.mu.Lock()
		if s.removed {
			s.mu.Unlock()
			continue
		}
		kept, evicted := s.insert(e)
		if evicted != nil {
			st.count.Add(-1)
			st.bytes.Add(-evicted.size)
			st.evicted.Add(1)
		}
		if kept {
			st.count.Add(1)
			st.bytes.Add(e.size)
		} else {
			st.evicted.Add(1)
		}
		s.mu.Unlock()
		if st.over() {
			st.prune()
		}
		return kept
	}
}

func (st *Store) over() bool {
	return st.count.Load() > int64(st.cfg.MaxEnvelopes) || st.bytes.Load() > st.cfg.MaxBytes
}

// source returns the source for id, creating it.
func (st *Store) source(id string) *source {
	st.mu.RLock()
	s := st.sources[id]
	st.mu.RUnlock()
	if s != nil {
		return s
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if s = st.sources[id]; s == nil {
		s = &source{max: st.cfg.MaxPerSource}
		st.sources[id] = s
	}
	return s
}

// insert adds e in timestamp order; when the ring is full the oldest entry
// goes (returned), or e itself if it is older than everything.
func (s *source) insert(e entry) (kept bool, evicted *entry) {
	if s.n == s.max {
		if e.ts < s.at(0).ts {
			s.expired++
			return false, nil
		}
		old := *s.at(0)
		*s.at(0) = entry{}
		s.head = (s.head + 1) % len(s.buf)
		s.n--
		s.expired++
		evicted = &old
	}
	if s.n == len(s.buf) {
		s.grow()
	}
	// Find the insertion point: after every entry with ts <= e.ts. The
	// common case is an append.
	pos := s.n
	if s.n > 0 && s.at(s.n-1).ts > e.ts {
		pos = sort.Search(s.n, func(i int) bool { return s.at(i).ts > e.ts })
		for i := s.n; i > pos; i-- {
			*s.at(i) = *s.at(i - 1)
		}
	}
	*s.at(pos) = e
	s.n++
	return true, evicted
}

// grow doubles the ring's storage (up to max), unrolling it to head 0.
func (s *source) grow() {
	size := min(max(2*len(s.buf), 64), s.max)
	buf := make([]entry, size)
	for i := 0; i < s.n; i++ {
		buf[i] = *s.at(i)
	}
	s.buf, s.head = buf, 0
}

// prune evicts from the source holding the oldest envelope until the store
// is below 98% of its caps.
func (st *Store) prune() {
	if !st.pruneMu.TryLock() {
		return
	}
	defer st.pruneMu.Unlock()
	lowCount := int64(st.cfg.MaxEnvelopes) - int64(st.cfg.MaxEnvelopes)/50
	lowBytes := st.cfg.MaxBytes - st.cfg.MaxBytes/50
	under := func() bool { return st.count.Load() <= lowCount && st.bytes.Load() <= lowBytes }
	for !under() {
		st.mu.RLock()
		var oldest *source
		var oldestID string
		oldestTS, secondTS := int64(math.MaxInt64), int64(math.MaxInt64)
		for id, s := range st.sources {
			s.mu.RLock()
			if s.n > 0 {
				ts := s.at(0).ts
				switch {
				case ts < oldestTS:
					secondTS = oldestTS
					oldest, oldestID, oldestTS = s, id, ts
				case ts < secondTS:
					secondTS = ts
				}
			}
			s.mu.RUnlock()
		}
		st.mu.RUnlock()
		if oldest == nil {
			return
		}
		oldest.mu.Lock()
		// Evict from this source down to the next source's oldest data, or
		// until under the low-water mark.
		for oldest.n > 0 && !under() && (oldest.at(0).ts <= secondTS || secondTS == math.MaxInt64) {
			e := oldest.at(0)
			st.count.Add(-1)
			st.bytes.Add(-e.size)
			st.evicted.Add(1)
			oldest.expired++
			*e = entry{}
			oldest.head = (oldest.head + 1) % len(oldest.buf)
			oldest.n--
		}
		empty := oldest.n == 0
		oldest.mu.Unlock()
		if empty {
			st.mu.Lock()
			oldest.mu.Lock()
			if oldest.n == 0 && st.sources[oldestID] == oldest {
				oldest.removed = true
				delete(st.sources, oldestID)
			}
			oldest.mu.Unlock()
			st.mu.Unlock()
		}
	}
}

// Query selects envelopes of one source.
type Query struct {
	// Start is inclusive, End exclusive (nanoseconds).
	Start, End int64
	// Types selects envelope types; empty or containing ANY means all.
	Types []logcache_v1.EnvelopeType
	// NameFilter, when set, keeps only counters and timers whose name, and
	// gauges with a metric name, it matches.
	NameFilter *regexp.Regexp
	// Limit bounds the result (at least 1).
	Limit int
	// Descending returns the newest first.
	Descending bool
}

// Read returns the envelopes of sourceID matching q, oldest first unless
// q.Descending.
func (st *Store) Read(sourceID string, q Query) []*loggregator_v2.Envelope {
	st.mu.RLock()
	s := st.sources[sourceID]
	st.mu.RUnlock()
	if s == nil || q.Limit <= 0 || q.End <= q.Start {
		return nil
	}
	match := matcher(q)
	out := make([]*loggregator_v2.Envelope, 0, min(q.Limit, 128))
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo := sort.Search(s.n, func(i int) bool { return s.at(i).ts >= q.Start })
	hi := sort.Search(s.n, func(i int) bool { return s.at(i).ts >= q.End })
	if q.Descending {
		for i := hi - 1; i >= lo && len(out) < q.Limit; i-- {
			if e := s.at(i).env; match(e) {
				out = append(out, e)
			}
		}
		return out
	}
	for i := lo; i < hi && len(out) < q.Limit; i++ {
		if e := s.at(i).env; match(e) {
			out = append(out, e)
		}
	}
	return out
}

func matcher(q Query) func(*loggregator_v2.Envelope) bool {
	var mask uint8
	for _, t := range q.Types {
		if t == logcache_v1.EnvelopeType_ANY {
			mask = 0
			break
		}
		mask |= 1 << uint(t)
	}
	re := q.NameFilter
	return func(e *loggregator_v2.Envelope) bool {
		if mask != 0 && mask&(1<<uint(TypeOf(e))) == 0 {
			return false
		}
		if re == nil {
			return true
		}
		switch m := e.GetMessage().(type) {
		case *loggregator_v2.Envelope_Counter:
			return re.MatchString(m.Counter.GetName())
		case *loggregator_v2.Envelope_Timer:
			return re.MatchString(m.Timer.GetName())
		case *loggregator_v2.Envelope_Gauge:
			for name := range m.Gauge.GetMetrics() {
				if re.MatchString(name) {
					return true
				}
			}
		}
		return false
	}
}

// TypeOf returns the log-cache envelope type of e (ANY for an envelope
// without a message).
func TypeOf(e *loggregator_v2.Envelope) logcache_v1.EnvelopeType {
	switch e.GetMessage().(type) {
	case *loggregator_v2.Envelope_Log:
		return logcache_v1.EnvelopeType_LOG
	case *loggregator_v2.Envelope_Counter:
		return logcache_v1.EnvelopeType_COUNTER
	case *loggregator_v2.Envelope_Gauge:
		return logcache_v1.EnvelopeType_GAUGE
	case *loggregator_v2.Envelope_Timer:
		return logcache_v1.EnvelopeType_TIMER
	case *loggregator_v2.Envelope_Event:
		return logcache_v1.EnvelopeType_EVENT
	}
	return logcache_v1.EnvelopeType_ANY
}

// Meta returns, per source_id, the count held, the count evicted and the
// oldest and newest timestamps.
func (st *Store) Meta() map[string]*logcache_v1.MetaInfo {
	st.mu.RLock()
	ids := make([]string, 0, len(st.sources))
	srcs := make([]*source, 0, len(st.sources))
	for id, s := range st.sources {
		ids = append(ids, id)
		srcs = append(srcs, s)
	}
	st.mu.RUnlock()
	out := make(map[string]*logcache_v1.MetaInfo, len(ids))
	for i, s := range srcs {
		s.mu.RLock()
		if s.n > 0 {
			out[ids[i]] = &logcache_v1.MetaInfo{
				Count:           int64(s.n),
				Expired:         s.expired,
				OldestTimestamp: s.at(0).ts,
				NewestTimestamp: s.at(s.n - 1).ts,
			}
		}
		s.mu.RUnlock()
	}
	return out
}

// SourceIDs returns the source ids held, sorted.
func (st *Store) SourceIDs() []string {
	st.mu.RLock()
	ids := make([]string, 0, len(st.sources))
	for id := range st.sources {
		ids = append(ids, id)
	}
	st.mu.RUnlock()
	slices.Sort(ids)
	return ids
}

// Stats are the store's totals.
type Stats struct {
	Envelopes int64
	Bytes     int64
	Evicted   int64
	Sources   int
}

// Stats returns the totals.
func (st *Store) Stats() Stats {
	st.mu.RLock()
	n := len(st.sources)
	st.mu.RUnlock()
	return Stats{Envelopes: st.count.Load(), Bytes: st.bytes.Load(), Evicted: st.evicted.Load(), Sources: n}
}
