package store

import (
	"fmt"
	"regexp"
	"sync"
	"testing"

	"code.cloudfoundry.org/go-log-cache/v2/rpc/logcache_v1"
	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
)

func logEnv(src string, ts int64) *loggregator_v2.Envelope {
	return &loggregator_v2.Envelope{SourceId: src, Timestamp: ts, Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{Payload: []byte("x")}}}
}

func gaugeEnv(src string, ts int64, names ...string) *loggregator_v2.Envelope {
	m := map[string]*loggregator_v2.GaugeValue{}
	for _, n := range names {
		m[n] = &loggregator_v2.GaugeValue{Value: 1, Unit: "bytes"}
	}
	return &loggregator_v2.Envelope{SourceId: src, Timestamp: ts, Message: &loggregator_v2.Envelope_Gauge{Gauge: &loggregator_v2.Gauge{Metrics: m}}}
}

func counterEnv(src string, ts int64, name string) *loggregator_v2.Envelope {
	return &loggregator_v2.Envelope{SourceId: src, Timestamp: ts, Message: &loggregator_v2.Envelope_Counter{Counter: &loggregator_v2.Counter{Name: name, Total: 1}}}
}

func timestamps(envs []*loggregator_v2.Envelope) []int64 {
	out := make([]int64, len(envs))
	for i, e := range envs {
		out[i] = e.Timestamp
	}
	return out
}

var all = Query{Start: -1 << 62, End: 1 << 62, Limit: 1000}

func TestOrderAndRange(t *testing.T) {
	t.Parallel()
	st := New(Config{})
	for _, ts := range []int64{5, 1, 3, 9, 7, 3} {
		st.Put(logEnv("a", ts))
	}
	if got := fmt.Sprint(timestamps(st.Read("a", all))); got != "[1 3 3 5 7 9]" {
		t.Errorf("ascending = %s", got)
	}
	q := all
	q.Descending, q.Limit = true, 2
	if got := fmt.Sprint(timestamps(st.Read("a", q))); got != "[9 7]" {
		t.Errorf("descending limit 2 = %s", got)
	}
	q = Query{Start: 3, End: 7, Limit: 10}
	if got := fmt.Sprint(timestamps(st.Read("a", q))); got != "[3 3 5]" {
		t.Errorf("[3,7) = %s", got)
	}
	if got := st.Read("missing", all); len(got) != 0 {
		t.Errorf("missing source: %v", got)
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	st := New(Config{})
	st.Put(logEnv("a", 1))
	st.Put(gaugeEnv("a", 2, "cpu", "memory"))
	st.Put(counterEnv("a", 3, "requests"))
	st.Put(gaugeEnv("a", 4, "disk"))
	for _, tc := range []struct {
		name  string
		types []logcache_v1.EnvelopeType
		re    string
		want  string
	}{
		{"all", nil, "", "[1 2 3 4]"},
		{"any", []logcache_v1.EnvelopeType{logcache_v1.EnvelopeType_LOG, logcache_v1.EnvelopeType_ANY}, "", "[1 2 3 4]"},
		{"log", []logcache_v1.EnvelopeType{logcache_v1.EnvelopeType_LOG}, "", "[1]"},
		{"gauge+counter", []logcache_v1.EnvelopeType{logcache_v1.EnvelopeType_GAUGE, logcache_v1.EnvelopeType_COUNTER}, "", "[2 3 4]"},
		{"name mem", nil, "^mem", "[2]"},
		{"name gauge only", []logcache_v1.EnvelopeType{logcache_v1.EnvelopeType_GAUGE}, "requests|disk", "[4]"},
		{"name counter", nil, "requests", "[3]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := all
			q.Types = tc.types
			if tc.re != "" {
				q.NameFilter = regexp.MustCompile(tc.re)
			}
			if got := fmt.Sprint(timestamps(st.Read("a", q))); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRingEviction(t *testing.T) {
	t.Parallel()
	st := New(Config{MaxPerSource: 100})
	for i := range 250 {
		st.Put(logEnv("a", int64(i)))
	}
	got := st.Read("a", all)
	if len(got) != 100 || got[0].Timestamp != 150 || got[99].Timestamp != 249 {
		t.Fatalf("held %d, first %d", len(got), got[0].Timestamp)
	}
	if st.Put(logEnv("a", 10)) {
		t.Error("an envelope older than a full ring was kept")
	}
	m := st.Meta()["a"]
	if m.Count != 100 || m.Expired != 151 || m.OldestTimestamp != 150 || m.NewestTimestamp != 249 {
		t.Errorf("meta = %v", m)
	}
	if s := st.Stats(); s.Envelopes != 100 || s.Evicted != 151 {
		t.Errorf("stats = %+v", s)
	}
}

func TestGlobalCapEvictsOldestSource(t *testing.T) {
	t.Parallel()
	st := New(Config{MaxPerSource: 1000, MaxEnvelopes: 100})
	// Source "old" holds the oldest data; "new" keeps writing.
	for i := range 50 {
		st.Put(logEnv("old", int64(i)))
	}
	for i := range 200 {
		st.Put(logEnv("new", int64(1000+i)))
	}
	s := st.Stats()
	if s.Envelopes > 100 {
		t.Fatalf("holding %d envelopes, cap 100", s.Envelopes)
	}
	if _, ok := st.Meta()["old"]; ok {
		t.Error("the source with the oldest data survived")
	}
	got := st.Read("new", Query{Start: 0, End: 1 << 62, Limit: 1, Descending: true})
	if len(got) != 1 || got[0].Timestamp != 1199 {
		t.Errorf("newest of 'new' = %v", timestamps(got))
	}
	if s.Sources != 1 {
		t.Errorf("sources = %d", s.Sources)
	}
}

func TestMemoryCap(t *testing.T) {
	t.Parallel()
	st := New(Config{MaxBytes: 100 * (entryOverhead + 64)})
	for i := range 1000 {
		st.Put(logEnv(fmt.Sprintf("s%d", i%7), int64(i)))
	}
	s := st.Stats()
	if s.Bytes > 100*(entryOverhead+64) {
		t.Fatalf("bytes %d over cap", s.Bytes)
	}
	if s.Envelopes == 0 || s.Evicted == 0 {
		t.Errorf("stats = %+v", s)
	}
	// The newest envelope survived.
	if got := st.Read("s5", Query{Start: 0, End: 1 << 62, Limit: 1, Descending: true}); len(got) != 1 || got[0].Timestamp != 999 {
		t.Errorf("newest = %v", timestamps(got))
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	st := New(Config{MaxPerSource: 500, MaxEnvelopes: 2000})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				st.Put(logEnv(fmt.Sprintf("s%d", (w+i)%9), int64(i)))
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 500 {
				st.Read(fmt.Sprintf("s%d", i%9), all)
				st.Meta()
			}
		}()
	}
	wg.Wait()
	var sum int64
	for _, m := range st.Meta() {
		sum += m.Count
	}
	if s := st.Stats(); s.Envelopes != sum || s.Envelopes > 2000 {
		t.Errorf("stats %+v, meta sum %d", s, sum)
	}
}
