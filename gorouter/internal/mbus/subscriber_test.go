package mbus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/gorouter/internal/mbus"
	"github.com/anvilpaas/anvil/gorouter/internal/registry"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/natsembed"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// recReg is the real registry, recording SuspendPruning and Prune calls.
type recReg struct {
	*registry.Registry
	mu       sync.Mutex
	suspends []bool
	prunes   int
}

func newRecReg() *recReg { return &recReg{Registry: registry.New(registry.Config{})} }

func (r *recReg) SuspendPruning(s bool) {
	r.mu.Lock()
	r.suspends = append(r.suspends, s)
	r.mu.Unlock()
	r.Registry.SuspendPruning(s)
}

func (r *recReg) Prune(now time.Time, threshold time.Duration) {
	r.mu.Lock()
	r.prunes++
	r.mu.Unlock()
	r.Registry.Prune(now, threshold)
}

func (r *recReg) pruneCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.prunes
}

// morePrunes waits until n more prune passes have run.
func morePrunes(t *testing.T, r *recReg, n int) {
	t.Helper()
	want := r.pruneCount() + n
	testenv.Eventually(t, 5*time.Second, func() error {
		if got := r.pruneCount(); got < want {
			return fmt.Errorf("%d prune passes, want %d", got, want)
		}
		return nil
	})
}

func (r *recReg) suspendCalls() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bool(nil), r.suspends...)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	srv   *natsembed.Server
	conn  *nats.Conn // the subscriber's connection
	pub   *nats.Conn // a separate client, like a route emitter
	reg   *recReg
	sub   *mbus.Subscriber
	clock *fakeClock
	done  chan error
	stop  context.CancelFunc
}

func connect(t testing.TB, url string, logger *slog.Logger) *nats.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := natsconn.Connect(ctx, natsconn.Config{URL: url, Name: t.Name()}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// start runs a Subscriber against a fresh embedded NATS. before, when set,
// runs against the publisher connection before the subscriber starts.
func start(t testing.TB, cfg mbus.Config, logger *slog.Logger, before func(e *env)) *env {
	t.Helper()
	if logger == nil {
		logger = testenv.Logger(t)
	}
	e := &env{srv: testenv.NATS(t), reg: newRecReg(), clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}}
	e.conn = connect(t, e.srv.ClientURL(), logger)
	e.pub = connect(t, e.srv.ClientURL(), nil)
	if before != nil {
		before(e)
	}
	e.sub = mbus.New(cfg, mbus.Deps{Conn: e.conn, Registry: e.reg, Logger: logger, Clock: e.clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- e.sub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	// Started is counted right after router.start is published, which
	// happens after the subscriptions are flushed to the server.
	testenv.Eventually(t, 5*time.Second, func() error {
		if e.sub.Stats().Started == 0 {
			return errors.New("router.start not published yet")
		}
		return nil
	})
	return e
}

func (e *env) publish(t testing.TB, subject string, data []byte) {
	t.Helper()
	if err := e.pub.Publish(subject, data); err != nil {
		t.Fatal(err)
	}
}

func regMsg(t testing.TB, uri, host string, port int) []byte {
	t.Helper()
	b, err := router.RegistryMessage{Host: host, Port: port, URIs: []string{uri}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func routable(reg *recReg, host string, want int) func() error {
	return func() error {
		p := reg.Lookup(host, "/")
		switch {
		case want == 0 && p == nil:
			return nil
		case p == nil:
			return fmt.Errorf("%s: no route", host)
		case p.Len() != want:
			return fmt.Errorf("%s: %d endpoints, want %d", host, p.Len(), want)
		}
		return nil
	}
}

func TestRegisterAndUnregister(t *testing.T) {
	e := start(t, mbus.Config{ID: "r1"}, nil, nil)

	e.publish(t, router.SubjectRegister, regMsg(t, "app.example.com", "10.0.0.1", 61001))
	e.publish(t, router.SubjectRegister, regMsg(t, "app.example.com", "10.0.0.2", 61001))
	testenv.Eventually(t, 5*time.Second, routable(e.reg, "app.example.com", 2))
	lease, ok := e.reg.Lookup("APP.example.com:443", "/x").Pick(nil)
	if !ok {
		t.Fatal("Pick found no endpoint")
	}
	lease.Release()

	e.publish(t, router.SubjectUnregister, regMsg(t, "app.example.com", "10.0.0.1", 61001))
	testenv.Eventually(t, 5*time.Second, routable(e.reg, "app.example.com", 1))
	if st := e.sub.Stats(); st.Registered != 2 || st.Unregistered != 1 || st.Malformed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRegisterUnregisterKeepOrder publishes register/unregister pairs back
// to back: each unregister must be applied after its register, or the
// endpoint would stay routable (NATS only orders messages within one
// subscription).
func TestRegisterUnregisterKeepOrder(t *testing.T) {
	e := start(t, mbus.Config{ID: "r1"}, nil, nil)
	const n = 2000
	for i := range n {
		host := fmt.Sprintf("10.1.%d.%d", i/250, i%250)
		e.publish(t, router.SubjectRegister, regMsg(t, "order.example.com", host, 61001))
		e.publish(t, router.SubjectUnregister, regMsg(t, "order.example.com", host, 61001))
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if st := e.sub.Stats(); st.Registered != n || st.Unregistered != n {
			return fmt.Errorf("stats %+v, want %d of each", st, n)
		}
		return nil
	})
	if p := e.reg.Lookup("order.example.com", "/"); p != nil && p.Len() != 0 {
		t.Fatalf("%d endpoints still routable after their unregister", p.Len())
	}
}

func TestMalformedMessagesAreCountedAndSkipped(t *testing.T) {
	rec := testenv.NewLogRecorder(t)
	e := start(t, mbus.Config{ID: "r1", MalformedLogInterval: time.Hour}, rec.Logger(), nil)

	huge := fmt.Sprintf(`{"host":"10.0.0.9","port":1,"uris":["a.example.com"],"app":%q}`,
		strings.Repeat("x", router.MaxMessageSize))
	bad := []struct {
		subject string
		data    string
	}{
		{router.SubjectRegister, `{not json`},
		{router.SubjectRegister, `{"host":"10.0.0.1","port":70000,"uris":["bad.example.com"]}`},
		{router.SubjectRegister, `{"host":"10.0.0.1","port":1,"uris":[]}`},
		{router.SubjectRegister, huge},
		{router.SubjectUnregister, `null`},
	}
	for _, b := range bad {
		e.publish(t, b.subject, []byte(b.data))
	}
	e.publish(t, router.SubjectRegister, regMsg(t, "good.example.com", "10.0.0.1", 61001))
	testenv.Eventually(t, 5*time.Second, routable(e.reg, "good.example.com", 1))
	testenv.Eventually(t, 5*time.Second, func() error {
		if st := e.sub.Stats(); st.Malformed != uint64(len(bad)) || st.Registered != 1 {
			return fmt.Errorf("stats %+v, want %d malformed and 1 registered", st, len(bad))
		}
		return nil
	})
	if e.reg.Lookup("bad.example.com", "/") != nil {
		t.Fatal("invalid registration was applied")
	}
	if n := rec.Count("dropped malformed message"); n != 1 {
		t.Fatalf("%d malformed log lines, want 1 (rate limited):\n%s", n, rec)
	}

	// After the interval a new line reports how many were dropped silently.
	e.clock.Add(time.Hour)
	e.publish(t, router.SubjectRegister, []byte(`[]`))
	testenv.Eventually(t, 5*time.Second, func() error {
		return rec.Find("dropped malformed message", fmt.Sprintf("dropped_since_last_log=%d", len(bad)-1))
	})
}

func TestGreetAnswersWithStartMessage(t *testing.T) {
	cfg := mbus.Config{ID: "router-7", Hosts: []string{"10.1.2.3"},
		MinimumRegisterInterval: 15 * time.Second, PruneThreshold: 90 * time.Second}
	e := start(t, cfg, nil, nil)

	reply, err := e.pub.Request(router.SubjectGreet, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m, err := router.ParseStartMessage(reply.Data)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "router-7" || m.MinimumRegisterIntervalInSeconds != 15 || m.PruneThresholdInSeconds != 90 ||
		len(m.Hosts) != 1 || m.Hosts[0] != "10.1.2.3" {
		t.Fatalf("greet reply %+v", m)
	}
}

func TestStartPublishedOnStart(t *testing.T) {
	var starts chan *nats.Msg
	start(t, mbus.Config{ID: "r1"}, nil, func(e *env) {
		starts = make(chan *nats.Msg, 4)
		if _, err := e.pub.ChanSubscribe(router.SubjectStart, starts); err != nil {
			t.Fatal(err)
		}
		if err := e.pub.Flush(); err != nil {
			t.Fatal(err)
		}
	})
	select {
	case msg := <-starts:
		m, err := router.ParseStartMessage(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != "r1" || m.MinimumRegisterIntervalInSeconds != 20 || m.PruneThresholdInSeconds != 120 {
			t.Fatalf("router.start %+v, want defaults 20s/120s", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no router.start")
	}
}

func TestPruneRemovesStaleEndpoints(t *testing.T) {
	e := start(t, mbus.Config{ID: "r1", PruneInterval: 10 * time.Millisecond, PruneThreshold: time.Minute}, nil, nil)

	e.publish(t, router.SubjectRegister, regMsg(t, "old.example.com", "10.0.0.1", 61001))
	testenv.Eventually(t, 5*time.Second, routable(e.reg, "old.example.com", 1))
	e.clock.Add(30 * time.Second)
	e.publish(t, router.SubjectRegister, regMsg(t, "new.example.com", "10.0.0.2", 61001))
	testenv.Eventually(t, 5*time.Second, routable(e.reg, "new.example.com", 1))
	morePrunes(t, e.reg, 3) // several prunes: nothing is stale yet
	if err := routable(e.reg, "old.example.com", 1)(); err != nil {
		t.Fatal(err)
	}

	e.clock.Add(45 * time.Second) // old is 75s old, new 45s
	testenv.Eventually(t, 5*time.Second, func() error {
		if p := e.reg.Lookup("old.example.com", "/"); p != nil && p.Len() > 0 {
			return errors.New("old.example.com still has endpoints")
		}
		return nil
	})
	if err := routable(e.reg, "new.example.com", 1)(); err != nil {
		t.Fatal(err)
	}
	if e.sub.Stats().Pruned == 0 {
		t.Fatal("Pruned not counted")
	}
}

func TestPruningSuspendedWhileNATSDown(t *testing.T) {
	rec := testenv.NewLogRecorder(t)
	e := start(t, mbus.Config{ID: "r1", PruneInterval: 10 * time.Millisecond, PruneThreshold: time.Minute,
		StatusCheckInterval: 50 * time.Millisecond}, rec.Logger(), nil)
	port := e.srv.Port()

	e.publish(t, router.SubjectRegister, regMsg(t, "kept.example.com", "10.0.0.1", 61001))
	testenv.Eventually(t, 5*time.Second, routable(e.reg, "kept.example.com", 1))

	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	testenv.Eventually(t, 5*time.Second, func() error {
		if !e.reg.PruningSuspended() {
			return fmt.Errorf("pruning not suspended; SuspendPruning calls %v", e.reg.suspendCalls())
		}
		return nil
	})
	// Well past the threshold, with prunes ticking: the route is kept.
	e.clock.Add(10 * time.Minute)
	morePrunes(t, e.reg, 3)
	if err := routable(e.reg, "kept.example.com", 1)(); err != nil {
		t.Fatalf("route pruned while NATS was down: %v", err)
	}

	// Restart on the same port; the client reconnects by itself.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv2, err := natsembed.Start(ctx, natsembed.Config{Port: port}, nil)
	if err != nil {
		t.Fatalf("restart nats on port %d: %v", port, err)
	}
	t.Cleanup(func() { srv2.Shutdown(); srv2.WaitForShutdown() })

	startsBefore := e.sub.Stats().Started
	testenv.Eventually(t, 10*time.Second, func() error {
		if e.reg.PruningSuspended() {
			return errors.New("pruning still suspended")
		}
		if e.sub.Stats().Started <= startsBefore {
			return errors.New("router.start not re-published")
		}
		return nil
	})
	if got := e.reg.suspendCalls(); len(got) != 2 || got[0] != true || got[1] != false {
		t.Fatalf("SuspendPruning calls %v, want [true false]", got)
	}
	if err := rec.Find("route pruning suspended"); err != nil {
		t.Fatal(err)
	}

	// Pruning works again: the stale endpoint goes, new ones arrive.
	testenv.Eventually(t, 5*time.Second, func() error {
		if p := e.reg.Lookup("kept.example.com", "/"); p != nil && p.Len() > 0 {
			return errors.New("stale endpoint not pruned after resume")
		}
		return nil
	})
	if err := e.pub.Publish(router.SubjectRegister, regMsg(t, "after.example.com", "10.0.0.3", 61001)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, routable(e.reg, "after.example.com", 1))
}

func TestRunReturnsNilOnCancelAndUnsubscribes(t *testing.T) {
	e := start(t, mbus.Config{ID: "r1"}, nil, nil)
	e.stop()
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		e.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if n := e.conn.NumSubscriptions(); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
}

func TestRunReturnsErrorWhenConnClosed(t *testing.T) {
	e := start(t, mbus.Config{ID: "r1", StatusCheckInterval: 20 * time.Millisecond}, nil, nil)
	e.conn.Close()
	select {
	case err := <-e.done:
		if !errors.Is(err, mbus.ErrConnClosed) {
			t.Fatalf("Run: %v, want ErrConnClosed", err)
		}
		e.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}
