package registry_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/gorouter/internal/registry"
)

// poolWith registers n endpoints h:1..h:n on app.example.com with the
// given load-balancing options and returns the pool.
func poolWith(t *testing.T, n int, opts router.Options) *registry.Pool {
	t.Helper()
	r := registry.New(registry.Config{})
	for i := 1; i <= n; i++ {
		m := msg("h", i, "app.example.com")
		m.Options = opts
		r.Register(m, t0)
	}
	return r.Lookup("app.example.com", "/")
}

func pick(t *testing.T, p *registry.Pool, h http.Header) *registry.Lease {
	t.Helper()
	l, ok := p.Pick(h)
	if !ok {
		t.Fatal("Pick found no endpoint")
	}
	return l
}

func TestRoundRobinCycles(t *testing.T) {
	t.Parallel()
	p := poolWith(t, 3, router.Options{})
	if p.LoadBalancing() != router.LBRoundRobin {
		t.Fatalf("LoadBalancing = %q", p.LoadBalancing())
	}
	var got []string
	for range 6 {
		l := pick(t, p, nil)
		got = append(got, l.Endpoint.Addr)
		l.Release()
	}
	if want := "[h:1 h:2 h:3 h:1 h:2 h:3]"; fmt.Sprint(got) != want {
		t.Fatalf("picks = %v, want %s", got, want)
	}
}

func TestLeastConnection(t *testing.T) {
	t.Parallel()
	p := poolWith(t, 3, router.Options{LoadBalancing: router.LBLeastConnection})
	// Three picks with nothing in flight spread one lease per endpoint.
	held := map[string]int{}
	var leases []*registry.Lease
	for len(leases) < 3 {
		l := pick(t, p, nil)
		leases = append(leases, l)
		held[l.Endpoint.Addr]++
	}
	// Release the lease on h:3 so it is the least loaded.
	if fmt.Sprint(held) != "map[h:1:1 h:2:1 h:3:1]" {
		t.Fatalf("least-connection spread = %v", held)
	}
	for _, l := range leases {
		if l.Endpoint.Addr == "h:3" {
			l.Release()
			l.Release() // idempotent
			if got := l.Endpoint.InFlight(); got != 0 {
				t.Fatalf("in flight after double release = %d", got)
			}
		}
	}
	for range 5 {
		l := pick(t, p, nil)
		if l.Endpoint.Addr != "h:3" {
			t.Fatalf("picked %s, want the idle h:3", l.Endpoint.Addr)
		}
		l.Release()
	}
}

func TestLeaseSurvivesRefresh(t *testing.T) {
	t.Parallel()
	r := registry.New(registry.Config{})
	m := msg("h", 1, "app.example.com")
	m.Options.LoadBalancing = router.LBLeastConnection
	r.Register(m, t0)
	l := pick(t, r.Lookup("app.example.com", "/"), nil)
	r.Register(m, t0.Add(1)) // refresh while the request is in flight
	e := r.Lookup("app.example.com", "/").Endpoints()[0]
	if e.InFlight() != 1 {
		t.Fatalf("in flight after refresh = %d, want 1", e.InFlight())
	}
	l.Release()
	if e.InFlight() != 0 {
		t.Fatalf("in flight after release = %d, want 0", e.InFlight())
	}
}

func TestHashStable(t *testing.T) {
	t.Parallel()
	opts := router.Options{LoadBalancing: router.LBHash, HashHeader: "X-User"}
	p := poolWith(t, 5, opts)
	seen := map[string]bool{}
	for u := range 50 {
		h := http.Header{"X-User": {fmt.Sprintf("user-%d", u)}}
		first := pick(t, p, h).Endpoint.Addr
		seen[first] = true
		for range 5 {
			if got := pick(t, p, h).Endpoint.Addr; got != first {
				t.Fatalf("user-%d went to %s then %s", u, first, got)
			}
		}
		// The same key maps to the same endpoint in another router's table.
		if got := pick(t, poolWith(t, 5, opts), h).Endpoint.Addr; got != first {
			t.Fatalf("user-%d: %s in one table, %s in another", u, first, got)
		}
	}
	if len(seen) < 4 {
		t.Fatalf("50 keys spread over only %v", seen)
	}
	// Without the header, hash falls back to round-robin.
	a, b := pick(t, p, nil).Endpoint.Addr, pick(t, p, http.Header{}).Endpoint.Addr
	if a == b {
		t.Fatalf("fallback did not rotate: %s, %s", a, b)
	}
}

func TestHashMinimalMovement(t *testing.T) {
	t.Parallel()
	opts := router.Options{LoadBalancing: router.LBHash, HashHeader: "X-User"}
	r := registry.New(registry.Config{})
	for i := 1; i <= 5; i++ {
		m := msg("h", i, "app.example.com")
		m.Options = opts
		r.Register(m, t0)
	}
	before := map[string]string{}
	p := r.Lookup("app.example.com", "/")
	for u := range 200 {
		k := fmt.Sprint(u)
		before[k] = pick(t, p, http.Header{"X-User": {k}}).Endpoint.Addr
	}
	r.Unregister(msg("h", 3, "app.example.com"))
	for k, was := range before {
		now := pick(t, p, http.Header{"X-User": {k}}).Endpoint.Addr
		if was != "h:3" && now != was {
			t.Fatalf("key %s moved from %s to %s though its endpoint stayed", k, was, now)
		}
	}
}

func TestDefaultLoadBalancing(t *testing.T) {
	t.Parallel()
	r := registry.New(registry.Config{DefaultLoadBalancing: router.LBLeastConnection})
	r.Register(msg("h", 1, "a.example.com"), t0)
	if got := r.Lookup("a.example.com", "/").LoadBalancing(); got != router.LBLeastConnection {
		t.Fatalf("LoadBalancing = %q", got)
	}
}
