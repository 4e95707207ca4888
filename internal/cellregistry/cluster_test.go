package cellregistry

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// These tests run real memberlist clusters on 127.0.0.1 with the default
// probe and suspicion settings, so detection times are the real ones.

const clusterTimeout = 10 * time.Second

// testConfig binds 127.0.0.1:0 and labels the cluster with the test's
// name, so that parallel tests never gossip with each other even if one
// reuses a port another test's dead member had.
func testConfig(t *testing.T, join ...string) Config {
	return Config{
		Bind:              "127.0.0.1:0",
		Join:              join,
		Cluster:           t.Name(),
		JoinRetryInterval: 50 * time.Millisecond,
		LeaveTimeout:      time.Second,
	}
}

func newMember(t *testing.T, cfg Config, self Member, logger *slog.Logger) *Registry {
	t.Helper()
	r, err := New(cfg, self, Deps{Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// awaitCellEvent reads events until one of kinds arrives for cell id (any
// cell when id is empty), dropping the others.
func awaitCellEvent(t *testing.T, ch <-chan Event, id string, timeout time.Duration, kinds ...EventKind) Event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("event channel closed")
			}
			if ev.Kind == Resync {
				t.Fatal("unexpected Resync")
			}
			if (id == "" || ev.Cell.GetCellId() == id) && slices.Contains(kinds, ev.Kind) {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %v event for %s within %v", kinds, id, timeout)
			return Event{}
		}
	}
}

// sees returns nil once r's Cells are exactly want, in order.
func sees(r *Registry, want ...*bbsv1.CellPresence) func() error {
	return func() error {
		got := r.Cells()
		if len(got) == len(want) {
			equal := true
			for i := range got {
				equal = equal && proto.Equal(got[i], want[i])
			}
			if equal {
				return nil
			}
		}
		ids := make([]string, len(got))
		for i, c := range got {
			ids[i] = fmt.Sprintf("%s(mem=%d)", c.GetCellId(), c.GetCapacity().GetMemoryMb())
		}
		return fmt.Errorf("cells = %v, want %d cells", ids, len(want))
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	obs := newMember(t, testConfig(t), Member{}, testenv.Logger(t).With("test_member", "observer"))
	events, cancel := obs.Subscribe(64)
	defer cancel()
	testenv.Start(t, obs)
	if host, port, err := net.SplitHostPort(obs.Addr()); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and the bound port", obs.Addr())
	}

	a, b := presence("cell-a", 4096), presence("cell-b", 8192)
	cellA := newMember(t, testConfig(t, obs.Addr()), Member{Cell: a}, testenv.Logger(t).With("test_member", "cell-a"))
	stopA := testenv.Start(t, cellA)
	cellB := newMember(t, testConfig(t, obs.Addr()), Member{Cell: b}, testenv.Logger(t).With("test_member", "cell-b"))
	testenv.Start(t, cellB)

	// The observer sees both cells with their metadata; cells see each other.
	testenv.Eventually(t, clusterTimeout, sees(obs, a, b))
	for _, id := range []string{awaitCellEvent(t, events, "", clusterTimeout, Joined).Cell.GetCellId(),
		awaitCellEvent(t, events, "", clusterTimeout, Joined).Cell.GetCellId()} {
		if id != "cell-a" && id != "cell-b" {
			t.Fatalf("Joined event for %q", id)
		}
	}
	testenv.Eventually(t, clusterTimeout, sees(cellA, a, b))

	// A capacity change reaches the observer.
	a2 := presence("cell-a", 1024)
	if err := cellA.UpdateCell(a2); err != nil {
		t.Fatalf("UpdateCell: %v", err)
	}
	if ev := awaitCellEvent(t, events, "cell-a", clusterTimeout, Updated); !proto.Equal(ev.Cell, a2) {
		t.Fatalf("Updated event carries %v, want %v", ev.Cell, a2)
	}
	if got, ok := obs.Cell("cell-a"); !ok || !proto.Equal(got, a2) {
		t.Fatalf("Cell(cell-a) = %v, %v; want %v", got, ok, a2)
	}

	// A graceful stop is reported as Left.
	start := time.Now()
	if err := stopA(); err != nil {
		t.Fatalf("cell-a Run returned %v, want nil", err)
	}
	t.Logf("cell-a stopped in %v", time.Since(start))
	if ev := awaitCellEvent(t, events, "cell-a", clusterTimeout, Left, Failed); ev.Kind != Left {
		t.Fatalf("graceful stop reported as %v, want Left", ev.Kind)
	}
	testenv.Eventually(t, clusterTimeout, sees(obs, b))

	// A cell that dies without leaving is declared Failed.
	start = time.Now()
	cellB.crash()
	if ev := awaitCellEvent(t, events, "cell-b", clusterTimeout, Left, Failed); ev.Kind != Failed {
		t.Fatalf("crash reported as %v, want Failed", ev.Kind)
	}
	t.Logf("crash of cell-b detected after %v", time.Since(start))
	testenv.Eventually(t, clusterTimeout, sees(obs))
}

func TestJoinRetriesUntilSeedIsUp(t *testing.T) {
	t.Parallel()
	seed := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	rec := testenv.NewLogRecorder(t)
	a := presence("cell-a", 4096)
	cell := newMember(t, testConfig(t, seed), Member{Cell: a}, rec.Logger())
	testenv.Start(t, cell) // Ready does not wait for the join
	testenv.Eventually(t, clusterTimeout, func() error { return rec.Find("level=WARN", "join failed, retrying", seed) })
	select {
	case <-cell.Joined():
		t.Fatal("Joined closed before any seed answered")
	default:
	}

	cfg := testConfig(t)
	cfg.Bind = seed
	obs := newMember(t, cfg, Member{}, testenv.Logger(t))
	testenv.Start(t, obs)
	testenv.Eventually(t, clusterTimeout, sees(obs, a))
	testenv.Eventually(t, clusterTimeout, func() error { return rec.Find("level=INFO", "joined cell registry cluster") })
	for name, r := range map[string]*Registry{"cell": cell, "seed without seeds": obs} {
		select {
		case <-r.Joined():
		case <-time.After(clusterTimeout):
			t.Errorf("%s: Joined not closed", name)
		}
	}
}

// TestRejoinAfterObserversRestart: when every observer goes away, a cell
// keeps joining its seeds and finds the observer that comes back.
func TestRejoinAfterObserversRestart(t *testing.T) {
	t.Parallel()
	seed := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := testConfig(t)
	cfg.Bind = seed
	obs1 := newMember(t, cfg, Member{}, testenv.Logger(t))
	stop1 := testenv.Start(t, obs1)

	rec := testenv.NewLogRecorder(t)
	a := presence("cell-a", 4096)
	cell := newMember(t, testConfig(t, seed), Member{Cell: a}, rec.Logger())
	testenv.Start(t, cell)
	testenv.Eventually(t, clusterTimeout, sees(obs1, a))

	if err := stop1(); err != nil {
		t.Fatalf("observer Run returned %v", err)
	}
	testenv.Eventually(t, clusterTimeout, func() error { return rec.Find("cell registry isolated") })

	obs2 := newMember(t, cfg, Member{}, testenv.Logger(t)) // same address, new name
	testenv.Start(t, obs2)
	testenv.Eventually(t, clusterTimeout, sees(obs2, a))
	testenv.Eventually(t, clusterTimeout, func() error { return rec.Find("cell registry reconnected") })
}

func TestEncryptedCluster(t *testing.T) {
	t.Parallel()
	key := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	withKey := func(k string, join ...string) Config {
		c := testConfig(t, join...)
		c.SecretKey = k
		return c
	}
	clusterKey := key()
	obs := newMember(t, withKey(clusterKey), Member{}, testenv.Logger(t))
	testenv.Start(t, obs)

	good := presence("cell-good", 1)
	testenv.Start(t, newMember(t, withKey(clusterKey, obs.Addr()), Member{Cell: good}, testenv.Logger(t)))

	wrongRec, plainRec := testenv.NewLogRecorder(t), testenv.NewLogRecorder(t)
	wrong := newMember(t, withKey(key(), obs.Addr()), Member{Cell: presence("cell-wrong-key", 1)}, wrongRec.Logger())
	testenv.Start(t, wrong)
	plain := newMember(t, withKey("", obs.Addr()), Member{Cell: presence("cell-plaintext", 1)}, plainRec.Logger())
	testenv.Start(t, plain)

	testenv.Eventually(t, clusterTimeout, sees(obs, good))
	for _, rec := range []*testenv.LogRecorder{wrongRec, plainRec} {
		testenv.Eventually(t, clusterTimeout, func() error {
			if n := rec.Count("join failed, retrying"); n < 2 {
				return fmt.Errorf("%d failed joins logged, want 2", n)
			}
			return nil
		})
	}
	// Both kept failing, so neither got in, and neither saw the cluster.
	if err := sees(obs, good)(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Registry{wrong, plain} {
		if got := r.Cells(); len(got) != 1 {
			t.Fatalf("%s sees %d cells, want only itself", r.name, len(got))
		}
		if !r.isolated() {
			t.Fatalf("%s is not isolated", r.name)
		}
	}
}

func TestRunFailsWhenPortTaken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t)
	cfg.Bind = l.Addr().String()
	r := newMember(t, cfg, Member{}, testenv.Logger(t))
	err = r.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "start gossip on "+cfg.Bind) {
		t.Fatalf("Run = %v, want a bind error", err)
	}
	select {
	case <-r.Ready():
		t.Fatal("Ready closed although Run failed")
	default:
	}
	if err := r.Run(t.Context()); err == nil {
		t.Fatal("second Run succeeded")
	}
}

func TestLogBridge(t *testing.T) {
	t.Parallel()
	rec := testenv.NewLogRecorder(t)
	b := logBridge{logger: rec.Logger()}
	for _, line := range []string{
		"[DEBUG] memberlist: Stream connection from=127.0.0.1:1234\n",
		"[INFO] memberlist: Marking x as failed\n",
		"[WARN] memberlist: Refuting a suspect message\n",
		"[ERR] memberlist: Failed fallback ping: EOF\n",
		"no level at all\n",
	} {
		if n, err := b.Write([]byte(line)); err != nil || n != len(line) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	for _, want := range [][]string{
		{"level=DEBUG", `msg="Stream connection from=127.0.0.1:1234"`, "lib=memberlist"},
		{"level=DEBUG", `msg="Marking x as failed"`},
		{"level=WARN", `msg="Refuting a suspect message"`},
		{"level=WARN", `msg="Failed fallback ping: EOF"`},
		{"level=DEBUG", `msg="no level at all"`},
	} {
		if err := rec.Find(want...); err != nil {
			t.Error(err)
		}
	}

	// While memberlist shuts down, its complaints are Debug.
	b.closing = new(atomic.Bool)
	b.closing.Store(true)
	_, _ = b.Write([]byte("[ERR] memberlist: Failed to send gossip: use of closed network connection\n"))
	if err := rec.Find("level=DEBUG", "use of closed network connection"); err != nil {
		t.Error(err)
	}
}
