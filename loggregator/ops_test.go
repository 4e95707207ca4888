package loggregator_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"code.cloudfoundry.org/go-log-cache/v2/rpc/logcache_v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/loggregator"
)

// TestStoreLimits: the configured ring keeps the newest envelopes, and the
// evictions show in meta and in the metrics.
func TestStoreLimits(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{store: loggregator.StoreConfig{MaxPerSource: 5, MaxEnvelopes: 8, MaxBytes: 1 << 20}})
	em := e.emitter(t, logemitter.Config{})
	base := time.Now().Add(-time.Minute)
	for i := range 10 {
		em.Log(logemitter.Log{SourceID: "old", Message: fmt.Sprint(i), Time: base.Add(time.Duration(i))})
	}
	tok := e.adminToken(t)
	e.waitCount(t, tok, "old", 5)
	for i := range 5 {
		em.Log(logemitter.Log{SourceID: "new", Message: fmt.Sprint(i), Time: base.Add(time.Second + time.Duration(i))})
	}
	e.waitCount(t, tok, "new", 5)
	// 10 held > 8: the source with the oldest data lost envelopes.
	_, body := e.get(t, tok, "/api/v1/meta")
	var meta logcache_v1.MetaResponse
	if err := protojson.Unmarshal([]byte(body), &meta); err != nil {
		t.Fatal(err)
	}
	old := meta.Meta["old"]
	if old != nil && (old.Count+meta.Meta["new"].Count > 8 || old.OldestTimestamp <= base.UnixNano()+5) {
		t.Errorf("meta %v", body)
	}
	_, body = e.get(t, tok, "/api/v1/read/new?start_time=-1&descending=true&limit=1")
	if !strings.Contains(body, fmt.Sprintf(`"timestamp":"%d"`, base.Add(time.Second+4).UnixNano())) {
		t.Errorf("newest of new: %s", body)
	}
	metrics := httpGet(t, "http://"+e.l.OpsAddr()+"/metrics")
	for _, want := range []string{
		`loggregator_ingress_envelopes_total{type="log"} 15`,
		"loggregator_store_evicted_envelopes_total",
		"loggregator_store_envelopes",
		"loggregator_store_bytes",
		"loggregator_read_duration_seconds_bucket",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(metrics, "loggregator_store_evicted_envelopes_total 7") {
		t.Errorf("evictions: %s", grep(metrics, "evicted"))
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{})
	testenv.Eventually(t, 5*time.Second, func() error {
		resp, err := http.Get("http://" + e.l.OpsAddr() + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
