package web

import (
	"encoding/json"
	"math"
	"testing"

	"code.cloudfoundry.org/go-log-cache/v2/rpc/logcache_v1"
	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var encodeCases = []*loggregator_v2.Envelope{
	{Timestamp: 1700000000000000001, SourceId: "app", InstanceId: "0",
		Tags:    map[string]string{"source_type": "APP/PROC/WEB", "quote\"back\\slash": "ctl\x01\n\t\r\b\f é ✓ \u2028"},
		Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{Payload: []byte("hello\x00\xff"), Type: loggregator_v2.Log_ERR}}},
	{SourceId: "app", Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{}}},
	{Timestamp: -5, SourceId: "app", Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{Type: 7}}},
	{Timestamp: math.MinInt64, SourceId: "c", Message: &loggregator_v2.Envelope_Counter{Counter: &loggregator_v2.Counter{Name: "requests", Delta: math.MaxUint64, Total: 3}}},
	{Timestamp: math.MaxInt64, SourceId: "g", Message: &loggregator_v2.Envelope_Gauge{Gauge: &loggregator_v2.Gauge{Metrics: map[string]*loggregator_v2.GaugeValue{
		"cpu": {Unit: "percentage", Value: 0.123456789}, "big": {Value: 1e300}, "small": {Value: -1e-9}, "inf": {Value: math.Inf(1)},
		"ninf": {Value: math.Inf(-1)}, "zero": {}, "negzero": {Value: math.Copysign(0, -1)}, "int": {Value: 42}, "e21": {Value: 1e21},
	}}}},
	{SourceId: "t", Message: &loggregator_v2.Envelope_Timer{Timer: &loggregator_v2.Timer{Name: "http", Start: -1, Stop: 2}}},
	{SourceId: "e", Message: &loggregator_v2.Envelope_Event{Event: &loggregator_v2.Event{Title: "crash", Body: "exit\n1"}}},
	{SourceId: "d", DeprecatedTags: map[string]*loggregator_v2.Value{
		"t": {Data: &loggregator_v2.Value_Text{Text: "x"}}, "i": {Data: &loggregator_v2.Value_Integer{Integer: -9}},
		"f": {Data: &loggregator_v2.Value_Decimal{Decimal: 2.5}}, "none": {},
	}},
	{},
}

// checkEncoding asserts that protojson decodes appendReadResponse's output
// of envs to envs.
func checkEncoding(t *testing.T, envs []*loggregator_v2.Envelope) {
	t.Helper()
	out := appendReadResponse(nil, envs)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	var got logcache_v1.ReadResponse
	if err := protojson.Unmarshal(out, &got); err != nil {
		t.Fatalf("protojson rejects %s: %v", out, err)
	}
	want := &logcache_v1.ReadResponse{Envelopes: &loggregator_v2.EnvelopeBatch{Batch: envs}}
	if !proto.Equal(&got, want) {
		t.Fatalf("round trip differs:\n got %v\nwant %v\njson %s", &got, want, out)
	}
}

func TestEncodeMatchesProtojson(t *testing.T) {
	t.Parallel()
	checkEncoding(t, encodeCases)
	checkEncoding(t, nil)
	if got := string(appendReadResponse(nil, nil)); got != `{"envelopes":{"batch":[]}}` {
		t.Errorf("empty: %s", got)
	}
}

// FuzzEncode: every envelope gRPC can decode encodes to JSON that
// protojson decodes back to the same envelope.
func FuzzEncode(f *testing.F) {
	for _, e := range encodeCases {
		b, err := proto.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e loggregator_v2.Envelope
		if err := proto.Unmarshal(data, &e); err != nil {
			return
		}
		e.ProtoReflect().SetUnknown(nil) // not part of the JSON form
		hasNaN := false
		for _, v := range e.GetGauge().GetMetrics() {
			hasNaN = hasNaN || math.IsNaN(v.GetValue())
		}
		for _, v := range e.GetDeprecatedTags() {
			hasNaN = hasNaN || math.IsNaN(v.GetDecimal())
		}
		if hasNaN {
			// proto.Equal treats NaN as unequal to itself; check validity only.
			if out := appendReadResponse(nil, []*loggregator_v2.Envelope{&e}); !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			return
		}
		clearNestedUnknown(&e)
		checkEncoding(t, []*loggregator_v2.Envelope{&e})
	})
}

// clearNestedUnknown drops unknown fields of the nested messages too.
func clearNestedUnknown(e *loggregator_v2.Envelope) {
	for _, m := range []proto.Message{e.GetLog(), e.GetCounter(), e.GetGauge(), e.GetTimer(), e.GetEvent()} {
		if m != nil && m.ProtoReflect().IsValid() {
			m.ProtoReflect().SetUnknown(nil)
		}
	}
	for _, v := range e.GetGauge().GetMetrics() {
		if v != nil {
			v.ProtoReflect().SetUnknown(nil)
		}
	}
	for _, v := range e.GetDeprecatedTags() {
		if v != nil {
			v.ProtoReflect().SetUnknown(nil)
		}
	}
}
