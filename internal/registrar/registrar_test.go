package registrar

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// recorder collects what is published on router.register and
// router.unregister.
type recorder struct {
	mu   sync.Mutex
	msgs []string // "register uri" / "unregister uri"
}

func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := natsconn.Connect(ctx, natsconn.Config{URL: url, Name: t.Name()}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func record(t *testing.T, nc *nats.Conn) *recorder {
	t.Helper()
	r := &recorder{}
	for _, subj := range []string{router.SubjectRegister, router.SubjectUnregister} {
		kind := strings.TrimPrefix(subj, "router.")
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			msg, err := router.ParseRegistryMessage(m.Data)
			if err != nil {
				t.Errorf("malformed %s: %v", subj, err)
				return
			}
			r.mu.Lock()
			r.msgs = append(r.msgs, kind+" "+strings.Join(msg.URIs, ","))
			r.mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

func atLeast(r *recorder, prefix string, n int) func() error {
	return func() error {
		if got := r.count(prefix); got < n {
			return fmt.Errorf("%d %q messages, want at least %d", got, prefix, n)
		}
		return nil
	}
}

func staticConfig() Config {
	return Config{Host: "127.0.0.1", Port: 9022, URIs: []string{"api.example.com"}, Tags: map[string]string{"component": "cloud_controller"}}
}

func TestStaticRegistration(t *testing.T) {
	t.Parallel()
	srv := testenv.NATS(t)
	rec := record(t, connect(t, srv.ClientURL()))
	cfg := staticConfig()
	cfg.Interval = 20 * time.Millisecond
	published := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "published_total"}, []string{"subject"})
	r, err := New(cfg, Deps{Conn: connect(t, srv.ClientURL()), Logger: testenv.Logger(t), Published: published})
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Start(t, r)
	testenv.Eventually(t, 10*time.Second, atLeast(rec, "register api.example.com", 3)) // first and periodic
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, atLeast(rec, "unregister api.example.com", 1))
	if got := counterValue(t, published.WithLabelValues(router.SubjectUnregister)); got != 1 {
		t.Errorf("unregister counter = %v", got)
	}
	if got := counterValue(t, published.WithLabelValues(router.SubjectRegister)); got < 3 {
		t.Errorf("register counter = %v", got)
	}
}

// TestGreetWithoutRouters checks that the server's "no responders" answer
// to router.greet, when no router is up, is not taken for a malformed
// router.start.
func TestGreetWithoutRouters(t *testing.T) {
	t.Parallel()
	srv := testenv.NATS(t)
	rec := record(t, connect(t, srv.ClientURL()))
	logs := testenv.NewLogRecorder(t)
	r, err := New(staticConfig(), Deps{Conn: connect(t, srv.ClientURL()), Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Start(t, r)
	testenv.Eventually(t, 10*time.Second, atLeast(rec, "register api.example.com", 1))
	testenv.Eventually(t, 10*time.Second, func() error { return logs.Find("no router answered router.greet") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := logs.Count("malformed"); n != 0 {
		t.Errorf("%d malformed-message warnings for the no-responders answer", n)
	}
}

func TestRouterStartAndGreet(t *testing.T) {
	t.Parallel()
	srv := testenv.NATS(t)
	routerConn := connect(t, srv.ClientURL())
	rec := record(t, routerConn)
	// A router answering greets with a 7 s interval.
	greeted := make(chan struct{}, 1)
	if _, err := routerConn.Subscribe(router.SubjectGreet, func(m *nats.Msg) {
		data, _ := router.StartMessage{ID: "r1", MinimumRegisterIntervalInSeconds: 7, PruneThresholdInSeconds: 21}.Marshal()
		if err := m.Respond(data); err != nil {
			t.Error(err)
		}
		greeted <- struct{}{}
	}); err != nil {
		t.Fatal(err)
	}
	if err := routerConn.Flush(); err != nil {
		t.Fatal(err)
	}

	cfg := staticConfig() // 20 s: only router.start makes more registrations
	r, err := New(cfg, Deps{Conn: connect(t, srv.ClientURL()), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, r)
	<-greeted
	testenv.Eventually(t, 10*time.Second, func() error {
		if d := r.Interval(); d != 7*time.Second {
			return fmt.Errorf("interval %v, want the router's 7s", d)
		}
		return nil
	})
	before := rec.count("register")
	// Another router starts with a shorter interval: everything is
	// registered again at once and the shorter interval is used.
	data, _ := router.StartMessage{ID: "r2", MinimumRegisterIntervalInSeconds: 5}.Marshal()
	if err := routerConn.Publish(router.SubjectStart, data); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, atLeast(rec, "register", before+1))
	testenv.Eventually(t, 10*time.Second, func() error {
		if d := r.Interval(); d != 5*time.Second {
			return fmt.Errorf("interval %v, want 5s", d)
		}
		return nil
	})
	// A malformed start message is ignored.
	if err := routerConn.Publish(router.SubjectStart, []byte(`{"minimumRegisterIntervalInSeconds":-3}`)); err != nil {
		t.Fatal(err)
	}
	if err := routerConn.Flush(); err != nil {
		t.Fatal(err)
	}
	if d := r.Interval(); d != 5*time.Second {
		t.Errorf("interval %v after a malformed message", d)
	}
}

type source struct {
	mu   sync.Mutex
	msgs []router.RegistryMessage
}

func (s *source) Registrations() []router.RegistryMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]router.RegistryMessage(nil), s.msgs...)
}

func TestSourceIsNotUnregistered(t *testing.T) {
	t.Parallel()
	srv := testenv.NATS(t)
	rec := record(t, connect(t, srv.ClientURL()))
	src := &source{msgs: []router.RegistryMessage{{Host: "10.0.0.1", Port: 61000, URIs: []string{"app.example.com"}}}}
	r, err := New(Config{}, Deps{Conn: connect(t, srv.ClientURL()), Source: src})
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Start(t, r)
	testenv.Eventually(t, 10*time.Second, atLeast(rec, "register app.example.com", 1))
	r.Publish(router.SubjectUnregister, src.msgs)
	r.EmitNow()
	testenv.Eventually(t, 10*time.Second, atLeast(rec, "register app.example.com", 2))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("unregister"); n != 1 {
		t.Errorf("%d unregisters, want only the one published", n)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"tls only", func(c *Config) { c.Port, c.TLSPort = 0, 9023 }, ""},
		{"no host", func(c *Config) { c.Host = "" }, "missing host"},
		{"no uris", func(c *Config) { c.URIs = nil }, "no uris"},
		{"no port", func(c *Config) { c.Port = 0 }, "port 0"},
		{"bad uri", func(c *Config) { c.URIs = []string{"http://x"} }, "scheme"},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, "interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := staticConfig()
			tt.change(&c)
			c.Defaults()
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Interval != DefaultInterval && tt.name == "ok" {
					t.Errorf("interval %v", c.Interval)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := New(staticConfig(), Deps{}); err == nil {
		t.Error("New without a connection succeeded")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
