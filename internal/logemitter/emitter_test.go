package logemitter_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// ingress is a fake loggregator ingress.
type ingress struct {
	loggregator_v2.UnimplementedIngressServer
	block bool // never read: the stream stalls on flow control

	mu   sync.Mutex
	envs []*loggregator_v2.Envelope
	n    atomic.Int64
}

func (f *ingress) BatchSender(s loggregator_v2.Ingress_BatchSenderServer) error {
	if f.block {
		<-s.Context().Done()
		return nil
	}
	for {
		b, err := s.Recv()
		if err != nil {
			return nil
		}
		f.mu.Lock()
		f.envs = append(f.envs, b.Batch...)
		f.mu.Unlock()
		f.n.Add(int64(len(b.Batch)))
	}
}

func (f *ingress) received() []*loggregator_v2.Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*loggregator_v2.Envelope(nil), f.envs...)
}

func serve(t *testing.T, certs testenv.Certs, listen string, f *ingress) (string, func() error) {
	t.Helper()
	srv, err := rpc.NewServer(rpc.ServerConfig{
		Listen: listen, CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile, ShutdownTimeout: 100 * time.Millisecond,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	loggregator_v2.RegisterIngressServer(srv.GRPC(), f)
	stop := testenv.Start(t, srv)
	return srv.Addr().String(), stop
}

func newEmitter(t *testing.T, cfg logemitter.Config, reg prometheus.Registerer) *logemitter.Emitter {
	t.Helper()
	em, err := logemitter.New(cfg, logemitter.Deps{Logger: testenv.Logger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- em.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return em
}

func clientCfg(certs testenv.Certs, addr string) logemitter.Config {
	return logemitter.Config{ClientConfig: rpc.ClientConfig{Address: addr, CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile}}
}

func TestDelivery(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t, "loggregator")
	f := &ingress{}
	addr, _ := serve(t, certs, "127.0.0.1:0", f)
	cfg := clientCfg(certs, addr)
	cfg.Origin = "rep"
	cfg.Tags = map[string]string{"deployment": "anvil"}
	em := newEmitter(t, cfg, nil)
	shared := logemitter.AppTags{AppID: "g", AppName: "hello", OrgName: "o", SpaceName: "s", ProcessType: "web", InstanceID: "0"}.Map(logemitter.AppSourceType("web"))
	em.Log(logemitter.Log{SourceID: "g", InstanceID: "0", Message: "hello", Tags: shared})
	em.Log(logemitter.Log{SourceID: "g", InstanceID: "0", Message: "oops", Stderr: true, Tags: shared})
	em.Gauge(logemitter.Gauge{SourceID: "g", InstanceID: "0", Metrics: map[string]logemitter.Metric{"memory": {Value: 42, Unit: "bytes"}}})
	em.Counter(logemitter.Counter{SourceID: "gorouter", Name: "requests", Delta: 1, Tags: map[string]string{"origin": "gorouter"}})
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := f.n.Load(); n != 4 {
			return fmt.Errorf("received %d", n)
		}
		return nil
	})
	got := f.received()
	if l := got[0].GetLog(); string(l.GetPayload()) != "hello" || l.GetType() != loggregator_v2.Log_OUT || got[0].Timestamp == 0 {
		t.Errorf("log %v", got[0])
	}
	if got[1].GetLog().GetType() != loggregator_v2.Log_ERR {
		t.Errorf("stderr %v", got[1])
	}
	tags := got[0].Tags
	if tags["source_type"] != "APP/PROC/WEB" || tags["origin"] != "rep" || tags["deployment"] != "anvil" || tags["organization_name"] != "o" || tags["app_id"] != "g" || tags["instance_id"] != "0" {
		t.Errorf("tags %v", tags)
	}
	if _, ok := shared["origin"]; ok {
		t.Error("the caller's tags map was written")
	}
	if got[2].GetGauge().GetMetrics()["memory"].GetValue() != 42 {
		t.Errorf("gauge %v", got[2])
	}
	if got[3].Tags["origin"] != "gorouter" {
		t.Errorf("an envelope's own origin was overwritten: %v", got[3].Tags)
	}
	if em.Dropped() != 0 || em.Sent() != 4 {
		t.Errorf("dropped %d sent %d", em.Dropped(), em.Sent())
	}
}

// TestFloodNeverBlocks: an app printing as fast as it can into a stalled
// loggregator never blocks, and the drops are counted.
func TestFloodNeverBlocks(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t, "loggregator")
	addr, _ := serve(t, certs, "127.0.0.1:0", &ingress{block: true})
	cfg := clientCfg(certs, addr)
	cfg.BufferSize = 1000
	reg := prometheus.NewRegistry()
	em := newEmitter(t, cfg, reg)
	const n = 300_000
	line := string(make([]byte, 200))
	begin := time.Now()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n / 4 {
				em.Log(logemitter.Log{SourceID: "app", InstanceID: fmt.Sprint(w), Message: line})
				_ = i
			}
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	if took > 30*time.Second { // generous: -race on a shared machine; a blocking emitter never finishes
		t.Errorf("emitting %d lines took %v", n, took)
	}
	dropped := em.Dropped()
	if dropped == 0 {
		t.Fatal("nothing dropped into a stalled loggregator")
	}
	// Everything is dropped, sent, buffered, or in the one batch in flight.
	accounted := dropped + em.Sent() + uint64(em.Buffered())
	if accounted > n || accounted < n-uint64(logemitter.DefaultBatchSize) {
		t.Errorf("dropped %d + sent %d + buffered %d = %d of %d", dropped, em.Sent(), em.Buffered(), accounted, n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metric float64
	for _, mf := range mfs {
		if mf.GetName() == "logemitter_dropped_envelopes_total" {
			metric = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if metric < float64(dropped) {
		t.Errorf("metric %v < dropped %d", metric, dropped)
	}
	t.Logf("%d lines in %v (%.0f ns/line), %d dropped", n, took, float64(took.Nanoseconds())/n, dropped)
}

func TestReconnect(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t, "loggregator")
	first := &ingress{}
	addr, stop := serve(t, certs, "127.0.0.1:0", first)
	em := newEmitter(t, clientCfg(certs, addr), nil)
	em.Log(logemitter.Log{SourceID: "a", Message: "one"})
	testenv.Eventually(t, 5*time.Second, func() error {
		if first.n.Load() != 1 {
			return fmt.Errorf("first got %d", first.n.Load())
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	second := &ingress{}
	serve(t, certs, addr, second)
	// Lines emitted while reconnecting arrive at the new server.
	testenv.Eventually(t, 15*time.Second, func() error {
		em.Log(logemitter.Log{SourceID: "a", Message: "two"})
		if second.n.Load() == 0 {
			return fmt.Errorf("nothing at the second server")
		}
		return nil
	})
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	em := newEmitter(t, logemitter.Config{}, nil)
	if em.Enabled() {
		t.Fatal("enabled without address")
	}
	for range 1000 {
		em.Log(logemitter.Log{SourceID: "x", Message: "y"})
		em.Gauge(logemitter.Gauge{SourceID: "x"})
	}
	if em.Dropped() != 0 || em.Sent() != 0 || em.Buffered() != 0 {
		t.Error("disabled emitter counted something")
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	c := logemitter.Config{ClientConfig: rpc.ClientConfig{Address: "127.0.0.1:8082"}}
	c.Defaults()
	if err := c.Validate(); err == nil {
		t.Error("address without certificates accepted")
	}
	var off logemitter.Config
	off.Defaults()
	if err := off.Validate(); err != nil || off.Enabled() {
		t.Errorf("disabled config: %v", err)
	}
	if _, err := logemitter.New(logemitter.Config{ClientConfig: rpc.ClientConfig{Address: "x:1"}}, logemitter.Deps{}); err == nil {
		t.Error("New accepted an invalid config")
	}
}
