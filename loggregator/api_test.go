package loggregator_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	logcache "code.cloudfoundry.org/go-log-cache/v2"
	"code.cloudfoundry.org/go-log-cache/v2/rpc/logcache_v1"
	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/rpc"
)

const app = "6f1a2d9e-0000-4000-8000-000000000001"

// seed sends, through a logemitter over mTLS, envelopes at base+0..9ns:
// logs at 0..4 (3 and 4 on stderr), gauges at 5 and 6, a counter at 7, a
// timer at 8 and an event at 9.
func seed(t *testing.T, e *env, base time.Time) {
	t.Helper()
	em := e.emitter(t, logemitter.Config{Origin: "test"})
	tags := logemitter.AppTags{AppID: app, AppName: "hello", ProcessType: "web"}.Map(logemitter.AppSourceType("web"))
	at := func(i int) time.Time { return base.Add(time.Duration(i)) }
	for i := range 5 {
		em.Log(logemitter.Log{SourceID: app, InstanceID: "0", Message: fmt.Sprintf("line %d", i), Stderr: i >= 3, Tags: tags, Time: at(i)})
	}
	em.Gauge(logemitter.Gauge{SourceID: app, InstanceID: "0", Time: at(5), Metrics: map[string]logemitter.Metric{
		"cpu": {Value: 1.5, Unit: "percentage"}, "memory": {Value: 1 << 20, Unit: "bytes"}, "disk": {Value: 2 << 20, Unit: "bytes"},
	}})
	em.Gauge(logemitter.Gauge{SourceID: app, InstanceID: "1", Time: at(6), Metrics: map[string]logemitter.Metric{"memory": {Value: 3 << 20, Unit: "bytes"}}})
	em.Counter(logemitter.Counter{SourceID: app, Name: "requests", Delta: 1, Total: 10, Time: at(7)})
	em.Timer(logemitter.Timer{SourceID: app, Name: "http", Start: at(7), Stop: at(8)})
	em.Event(logemitter.Event{SourceID: app, Title: "crash", Body: "exit 1", Time: at(9)})
	e.waitCount(t, e.adminToken(t), app, 10)
}

func TestReadFilters(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{})
	base := time.Now().Add(-time.Minute)
	seed(t, e, base)
	tok := e.adminToken(t)
	b := base.UnixNano()
	for _, tc := range []struct {
		name, query string
		want        []int // offsets from base, in answer order
	}{
		{"all", fmt.Sprintf("start_time=%d", b), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"negative start", "start_time=-6795364578871345152", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"range", fmt.Sprintf("start_time=%d&end_time=%d", b+2, b+5), []int{2, 3, 4}},
		{"limit", fmt.Sprintf("start_time=%d&limit=3", b), []int{0, 1, 2}},
		{"descending", fmt.Sprintf("start_time=%d&descending=true&limit=2", b), []int{9, 8}},
		{"recent logs", "descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152", []int{4, 3, 2, 1, 0}},
		{"gauge", fmt.Sprintf("start_time=%d&envelope_types=GAUGE", b), []int{5, 6}},
		{"counter+timer", fmt.Sprintf("start_time=%d&envelope_types=COUNTER&envelope_types=TIMER", b), []int{7, 8}},
		{"event", fmt.Sprintf("start_time=%d&envelope_types=EVENT", b), []int{9}},
		{"any", fmt.Sprintf("start_time=%d&envelope_types=ANY&envelope_types=LOG", b), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"name_filter gauge", fmt.Sprintf("start_time=%d&name_filter=%%5Ecpu%%24", b), []int{5}},
		{"name_filter any type", fmt.Sprintf("start_time=%d&name_filter=memory%%7Crequests%%7Chttp", b), []int{5, 6, 7, 8}},
		{"latest gauge per instance", fmt.Sprintf("start_time=%d&envelope_types=GAUGE&descending=true&name_filter=memory", b), []int{6, 5}},
		{"empty", fmt.Sprintf("start_time=%d", b+100), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, body := e.get(t, tok, "/api/v1/read/"+app+"?"+tc.query)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			var r logcache_v1.ReadResponse
			if err := protojson.Unmarshal([]byte(body), &r); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			var got []int
			for _, env := range r.GetEnvelopes().GetBatch() {
				got = append(got, int(env.Timestamp-b))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadShape(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{})
	base := time.Now().Add(-time.Minute)
	seed(t, e, base)
	_, body := e.get(t, e.adminToken(t), "/api/v1/read/"+app+"?envelope_types=LOG&limit=1&descending=true&start_time=-1")
	// The raw JSON as the cf CLI sees it: int64 as strings, base64 payload.
	var raw struct {
		Envelopes struct {
			Batch []struct {
				Timestamp  string            `json:"timestamp"`
				SourceID   string            `json:"source_id"`
				InstanceID string            `json:"instance_id"`
				Tags       map[string]string `json:"tags"`
				Log        struct {
					Payload string `json:"payload"`
					Type    string `json:"type"`
				} `json:"log"`
			} `json:"batch"`
		} `json:"envelopes"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if len(raw.Envelopes.Batch) != 1 {
		t.Fatalf("batch: %s", body)
	}
	got := raw.Envelopes.Batch[0]
	payload, _ := base64.StdEncoding.DecodeString(got.Log.Payload)
	if got.Timestamp != fmt.Sprint(base.UnixNano()+4) || got.SourceID != app || got.InstanceID != "0" ||
		string(payload) != "line 4" || got.Log.Type != "ERR" ||
		got.Tags["source_type"] != "APP/PROC/WEB" || got.Tags["origin"] != "test" || got.Tags["app_name"] != "hello" {
		t.Errorf("envelope %+v (payload %q)", got, payload)
	}
	code, body := e.get(t, e.adminToken(t), "/api/v1/read/nothing-here")
	if code != 200 || body != `{"envelopes":{"batch":[]}}` {
		t.Errorf("empty read: %d %s", code, body)
	}
	code, body = e.get(t, "", "/api/v1/info")
	var info map[string]string
	if err := json.Unmarshal([]byte(body), &info); code != 200 || err != nil || info["version"] == "" || info["vm_uptime"] == "" {
		t.Errorf("info: %d %s", code, body)
	}
}

// TestGoLogCacheClient reads through the published client, which decodes
// with protojson and rejects unknown fields.
func TestGoLogCacheClient(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{})
	base := time.Now().Add(-time.Minute)
	seed(t, e, base)
	tok := e.adminToken(t)
	c := logcache.NewClient(e.base, logcache.WithHTTPClient(bearer{tok}))
	ctx := t.Context()
	envs, err := c.Read(ctx, app, base, logcache.WithEnvelopeTypes(logcache_v1.EnvelopeType_LOG), logcache.WithDescending(), logcache.WithLimit(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != 3 || string(envs[0].GetLog().GetPayload()) != "line 4" || envs[0].GetLog().GetType() != loggregator_v2.Log_ERR {
		t.Errorf("read %v", envs)
	}
	envs, err = c.Read(ctx, app, base, logcache.WithEndTime(base.Add(7)), logcache.WithNameFilter("cpu|memory"))
	if err != nil || len(envs) != 2 || envs[0].GetGauge().GetMetrics()["cpu"].GetValue() != 1.5 {
		t.Errorf("gauges %v, %v", envs, err)
	}
	meta, err := c.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := meta[app]; m == nil || m.Count != 10 || m.OldestTimestamp != base.UnixNano() || m.NewestTimestamp != base.UnixNano()+9 {
		t.Errorf("meta %v", meta)
	}
	// The walk the cf CLI does for `cf logs`.
	var walked int
	logcache.Walk(ctx, app, func(b []*loggregator_v2.Envelope) bool {
		walked += len(b)
		return walked < 5
	}, c.Read, logcache.WithWalkStartTime(base), logcache.WithWalkEnvelopeTypes(logcache_v1.EnvelopeType_LOG),
		logcache.WithWalkBackoff(logcache.AlwaysDoneBackoff{}))
	if walked != 5 {
		t.Errorf("walked %d log envelopes", walked)
	}
}

type bearer struct{ token string }

func (b bearer) Do(r *http.Request) (*http.Response, error) {
	r.Header.Set("Authorization", "bearer "+b.token)
	return http.DefaultClient.Do(r)
}

// TestIngressRPCs uses Sender and Send directly, as other CF components do.
func TestIngressRPCs(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{})
	conn, err := rpc.Dial(t.Context(), rpc.ClientConfig{
		Address: e.l.IngressAddr(), CertFile: e.certs.CertFile, KeyFile: e.certs.KeyFile, CAFile: e.certs.CAFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := loggregator_v2.NewIngressClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	logEnv := func(msg string) *loggregator_v2.Envelope {
		return &loggregator_v2.Envelope{SourceId: "gorouter", Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{Payload: []byte(msg)}}}
	}
	s, err := c.Sender(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b"} {
		if err := s.Send(logEnv(m)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(ctx, &loggregator_v2.EnvelopeBatch{Batch: []*loggregator_v2.Envelope{
		logEnv("c"),
		{SourceId: "", Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{}}}, // invalid: no source
		{SourceId: "gorouter"}, // invalid: no message
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.waitCount(t, e.adminToken(t), "gorouter", 3)

	// A client without a certificate of the CA is refused.
	bad, err := rpc.Dial(t.Context(), rpc.ClientConfig{Address: e.l.IngressAddr(), TLS: otherClientTLS(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := loggregator_v2.NewIngressClient(bad).Send(ctx, &loggregator_v2.EnvelopeBatch{Batch: []*loggregator_v2.Envelope{logEnv("x")}}); err == nil {
		t.Error("ingress accepted a client of another CA")
	}
}

func TestBadQueries(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{})
	tok := e.adminToken(t)
	for _, q := range []string{
		"limit=1001", "limit=-1", "limit=x", "start_time=abc", "end_time=1.5",
		"start_time=10&end_time=5", "envelope_types=LOGS", "descending=maybe", "name_filter=(",
		"name_filter=" + strings.Repeat("a", 1025),
	} {
		code, body := e.get(t, tok, "/api/v1/read/"+app+"?"+q)
		var r map[string]string
		if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &r) != nil || r["error"] == "" {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	if code, body := e.get(t, tok, "/api/v1/read/"+strings.Repeat("x", 300)); code != http.StatusBadRequest {
		t.Errorf("long source id: %d %s", code, body)
	}
	if code, body := e.get(t, tok, "/api/v1/nope"); code != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Errorf("unknown path: %d %s", code, body)
	}
}
