package ingress

import (
	"math"
	"testing"

	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/anvilpaas/anvil/loggregator/internal/store"
)

// FuzzIngest feeds arbitrary wire bytes, decoded as a batch the way gRPC
// decodes them, through the ingress into a small store, and checks that
// reads stay ordered and bounded.
func FuzzIngest(f *testing.F) {
	seeds := []*loggregator_v2.EnvelopeBatch{
		{Batch: []*loggregator_v2.Envelope{
			{SourceId: "app", Timestamp: 5, Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{Payload: []byte("hi")}}},
			{SourceId: "app", Timestamp: 1, Message: &loggregator_v2.Envelope_Gauge{Gauge: &loggregator_v2.Gauge{Metrics: map[string]*loggregator_v2.GaugeValue{"cpu": {Value: 1}}}}},
			{SourceId: "app", Timestamp: math.MinInt64, Message: &loggregator_v2.Envelope_Counter{Counter: &loggregator_v2.Counter{Name: "c"}}},
		}},
		{Batch: []*loggregator_v2.Envelope{{SourceId: "", Message: &loggregator_v2.Envelope_Event{Event: &loggregator_v2.Event{}}}}},
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var batch loggregator_v2.EnvelopeBatch
		if err := proto.Unmarshal(data, &batch); err != nil {
			return
		}
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		st := store.New(store.Config{MaxPerSource: 4, MaxEnvelopes: 8, MaxBytes: 1 << 20})
		srv := New(st, m)
		if _, err := srv.Send(t.Context(), &batch); err != nil {
			t.Fatal(err)
		}
		stats := st.Stats()
		if stats.Envelopes > 8 || stats.Envelopes < 0 {
			t.Fatalf("stats %+v", stats)
		}
		for _, id := range st.SourceIDs() {
			envs := st.Read(id, store.Query{Start: math.MinInt64, End: math.MaxInt64, Limit: 1000})
			if len(envs) > 4 {
				t.Fatalf("%d envelopes in a ring of 4", len(envs))
			}
			for i := 1; i < len(envs); i++ {
				if envs[i].Timestamp < envs[i-1].Timestamp {
					t.Fatalf("out of order: %d after %d", envs[i].Timestamp, envs[i-1].Timestamp)
				}
			}
			for _, e := range envs {
				if e.SourceId != id || e.Timestamp == 0 {
					t.Fatalf("stored %v under %q", e, id)
				}
			}
		}
	})
}
