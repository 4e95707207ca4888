package registry_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/gorouter/internal/registry"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func msg(host string, port int, uris ...string) router.RegistryMessage {
	return router.RegistryMessage{Host: host, Port: port, URIs: uris}
}

// addrs returns the endpoint addresses of the pool Lookup finds, or nil
// when Lookup finds none.
func addrs(r *registry.Registry, host, path string) []string {
	p := r.Lookup(host, path)
	if p == nil {
		return nil
	}
	out := []string{}
	for _, e := range p.Endpoints() {
		out = append(out, e.Addr)
	}
	return out
}

func TestLookupMatching(t *testing.T) {
	t.Parallel()
	r := registry.New(registry.Config{})
	r.Register(msg("10.0.0.1", 1, "app.example.com"), t0)
	r.Register(msg("10.0.0.2", 2, "app.example.com/api"), t0)
	r.Register(msg("10.0.0.3", 3, "app.example.com/api/v2"), t0)
	r.Register(msg("10.0.0.4", 4, "*.example.com"), t0)
	r.Register(msg("10.0.0.5", 5, "*.b.example.com"), t0)
	r.Register(msg("10.0.0.6", 6, "Mixed.Example.COM:8080/Path/"), t0)
	r.Register(msg("10.0.0.7", 7, "only.path.com/x"), t0)
	r.Register(msg("10.0.0.8", 8, "*.wild.com/w"), t0)

	tests := []struct {
		host, path string
		want       string // "" means no route
	}{
		{"app.example.com", "/", "10.0.0.1:1"},
		{"app.example.com", "", "10.0.0.1:1"},
		{"app.example.com", "/other", "10.0.0.1:1"},
		{"app.example.com", "/api", "10.0.0.2:2"},
		{"app.example.com", "/api/", "10.0.0.2:2"},
		{"app.example.com", "/api/x?q=1", "10.0.0.2:2"},
		{"app.example.com", "/apix", "10.0.0.1:1"},
		{"app.example.com", "/api/v2/users", "10.0.0.3:3"},
		{"app.example.com", "/API/V2", "10.0.0.3:3"},
		{"APP.Example.com:443", "/api", "10.0.0.2:2"},
		{"app.example.com.", "/", ""},
		{"x.example.com", "/", "10.0.0.4:4"},
		{"x.y.example.com", "/", "10.0.0.4:4"},
		{"x.b.example.com", "/", "10.0.0.5:5"},
		{"b.example.com", "/", "10.0.0.4:4"},
		{"example.com", "/", ""},
		{"mixed.example.com", "/path/a", "10.0.0.6:6"},
		{"mixed.example.com", "/", "10.0.0.4:4"}, // exact host without a matching path falls through to the wildcard
		{"only.path.com", "/x", "10.0.0.7:7"},
		{"only.path.com", "/", ""},
		{"a.wild.com", "/w/1", "10.0.0.8:8"},
		{"a.wild.com", "/", ""},
		{"unknown.org", "/", ""},
		{"", "/", ""},
		{"[::1]:80", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			t.Parallel()
			got := addrs(r, tt.host, tt.path)
			switch {
			case tt.want == "" && got != nil:
				t.Fatalf("Lookup(%q, %q) = %v, want no route", tt.host, tt.path, got)
			case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
				t.Fatalf("Lookup(%q, %q) = %v, want [%s]", tt.host, tt.path, got, tt.want)
			}
		})
	}
}

func TestRegisterUnregister(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(r *registry.Registry)
		want []string // endpoints of app.example.com; nil means no route
	}{
		{"register", func(r *registry.Registry) {
			r.Register(msg("h", 1, "app.example.com"), t0)
		}, []string{"h:1"}},
		{"two endpoints", func(r *registry.Registry) {
			r.Register(msg("h", 1, "app.example.com"), t0)
			r.Register(msg("h", 2, "app.example.com"), t0)
		}, []string{"h:1", "h:2"}},
		{"refresh is idempotent", func(r *registry.Registry) {
			r.Register(msg("h", 1, "app.example.com"), t0)
			r.Register(msg("h", 1, "app.example.com"), t0.Add(time.Second))
		}, []string{"h:1"}},
		{"tls port wins", func(r *registry.Registry) {
			m := msg("h", 1, "app.example.com")
			m.TLSPort = 443
			r.Register(m, t0)
		}, []string{"h:443"}},
		{"unregister leaves empty pool", func(r *registry.Registry) {
			r.Register(msg("h", 1, "app.example.com"), t0)
			r.Unregister(msg("h", 1, "app.example.com"))
		}, []string{}},
		{"unregister one of two", func(r *registry.Registry) {
			r.Register(msg("h", 1, "app.example.com"), t0)
			r.Register(msg("h", 2, "app.example.com"), t0)
			r.Unregister(msg("h", 1, "APP.example.com"))
		}, []string{"h:2"}},
		{"unregister other instance ignored", func(r *registry.Registry) {
			m := msg("h", 1, "app.example.com")
			m.PrivateInstanceID = "new"
			r.Register(m, t0)
			m.PrivateInstanceID = "old"
			r.Unregister(m)
		}, []string{"h:1"}},
		{"unregister unknown route", func(r *registry.Registry) {
			r.Unregister(msg("h", 1, "app.example.com"))
		}, nil},
		{"multiple uris", func(r *registry.Registry) {
			r.Register(msg("h", 1, "other.example.com", "app.example.com"), t0)
			r.Unregister(msg("h", 1, "other.example.com"))
		}, []string{"h:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := registry.New(registry.Config{})
			tt.run(r)
			got := addrs(r, "app.example.com", "/")
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("endpoints = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRegisterFields(t *testing.T) {
	t.Parallel()
	r := registry.New(registry.Config{})
	m := msg("10.0.0.1", 8080, "app.example.com")
	m.App, m.PrivateInstanceID, m.PrivateInstanceIndex = "app-guid", "iid", "2"
	m.Tags = map[string]string{"component": "x"}
	m.TLSPort, m.ServerCertDomainSAN = 8443, "iid"
	r.Register(m, t0)
	eps := r.Lookup("app.example.com", "/").Endpoints()
	if len(eps) != 1 {
		t.Fatalf("got %d endpoints", len(eps))
	}
	e := eps[0]
	if e.Addr != "10.0.0.1:8443" || !e.TLS || e.AppID != "app-guid" || e.PrivateInstanceID != "iid" ||
		e.PrivateInstanceIndex != "2" || e.Tags["component"] != "x" || e.ServerCertDomainSAN != "iid" || !e.UpdatedAt.Equal(t0) {
		t.Fatalf("endpoint = %+v", e)
	}
	// A refresh installs a new value and leaves the old one untouched.
	r.Register(m, t0.Add(time.Minute))
	if e2 := r.Lookup("app.example.com", "/").Endpoints()[0]; !e2.UpdatedAt.Equal(t0.Add(time.Minute)) || !e.UpdatedAt.Equal(t0) {
		t.Fatalf("refresh: old %v new %v", e.UpdatedAt, e2.UpdatedAt)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	const threshold = 2 * time.Minute
	tests := []struct {
		name    string
		suspend bool
		ttl     time.Duration
		prunes  []time.Duration // offsets from t0
		want    []string        // nil means no route
	}{
		{"fresh kept", false, 0, []time.Duration{time.Minute}, []string{"h:1", "h:2"}},
		{"stale removed, route kept", false, 0, []time.Duration{150 * time.Second}, []string{"h:2"}},
		{"all stale, ttl 0 removes route", false, 0, []time.Duration{5 * time.Minute}, nil},
		{"all stale, within ttl gives empty pool", false, time.Minute, []time.Duration{5 * time.Minute, 5*time.Minute + 30*time.Second}, []string{}},
		{"all stale, after ttl removes route", false, time.Minute, []time.Duration{5 * time.Minute, 6 * time.Minute}, nil},
		{"suspended keeps everything", true, 0, []time.Duration{time.Hour}, []string{"h:1", "h:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := registry.New(registry.Config{EmptyPoolTTL: tt.ttl})
			r.Register(msg("h", 1, "app.example.com"), t0)
			r.Register(msg("h", 2, "app.example.com"), t0.Add(time.Minute))
			r.SuspendPruning(tt.suspend)
			for _, d := range tt.prunes {
				r.Prune(t0.Add(d), threshold)
			}
			got := addrs(r, "app.example.com", "/")
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("endpoints = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSuspendThenResume(t *testing.T) {
	t.Parallel()
	r := registry.New(registry.Config{})
	r.Register(msg("h", 1, "app.example.com"), t0)
	r.SuspendPruning(true)
	if !r.PruningSuspended() {
		t.Fatal("PruningSuspended = false")
	}
	r.Prune(t0.Add(time.Hour), time.Minute)
	if r.Lookup("app.example.com", "/").Len() != 1 {
		t.Fatal("pruned while suspended")
	}
	r.SuspendPruning(false)
	r.Prune(t0.Add(time.Hour), time.Minute)
	if p := r.Lookup("app.example.com", "/"); p != nil {
		t.Fatalf("not pruned after resume: %d endpoints", p.Len())
	}
}

func TestEmptyPool503(t *testing.T) {
	t.Parallel()
	r := registry.New(registry.Config{EmptyPoolTTL: time.Minute})
	r.Register(msg("h", 1, "app.example.com"), t0)
	r.Unregister(msg("h", 1, "app.example.com"))
	p := r.Lookup("app.example.com", "/")
	if p == nil || p.Len() != 0 {
		t.Fatalf("Lookup = %v, want an empty pool", p)
	}
	if l, ok := p.Pick(nil); ok || l != nil {
		t.Fatal("Pick on empty pool succeeded")
	}
	r.Prune(t0.Add(time.Second), time.Hour) // starts the TTL
	if r.Lookup("app.example.com", "/") == nil {
		t.Fatal("route dropped before TTL")
	}
	// Re-registering within the TTL revives the route and resets the clock.
	r.Register(msg("h", 2, "app.example.com"), t0.Add(30*time.Second))
	r.Prune(t0.Add(2*time.Minute), time.Hour)
	if p := r.Lookup("app.example.com", "/"); p == nil || p.Len() != 1 {
		t.Fatal("revived route lost")
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	r := registry.New(registry.Config{})
	m := msg("h", 1, "app.example.com/api", "*.example.com")
	m.Options.LoadBalancing = router.LBLeastConnection
	r.Register(m, t0)
	r.Register(msg("h", 2, "app.example.com/api"), t0)
	routes := r.Routes()
	if len(routes) != 2 || len(routes["app.example.com/api"]) != 2 || len(routes["*.example.com"]) != 1 {
		t.Fatalf("Routes = %+v", routes)
	}
	if e := routes["app.example.com/api"][0]; e.Address != "h:1" || e.LoadBalancing != router.LBLeastConnection {
		t.Fatalf("first endpoint = %+v", e)
	}
	if _, err := json.Marshal(routes); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentRegisterLookup(t *testing.T) {
	t.Parallel()
	r := registry.New(registry.Config{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				uri := fmt.Sprintf("app%d.example.com", i%20)
				m := msg("h", 1000+w, uri)
				r.Register(m, t0.Add(time.Duration(i)*time.Millisecond))
				if i%7 == 0 {
					r.Unregister(m)
				}
			}
		})
		wg.Go(func() {
			for i := range 500 {
				if p := r.Lookup(fmt.Sprintf("APP%d.example.com", i%20), "/x"); p != nil {
					if l, ok := p.Pick(http.Header{}); ok {
						l.Release()
					}
					_ = p.Endpoints()
				}
				if i%50 == 0 {
					r.Prune(t0.Add(time.Second), time.Hour)
					_ = r.Routes()
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkLookup(b *testing.B) {
	r := registry.New(registry.Config{})
	const n = 10000
	for i := range n {
		r.Register(msg("10.0.0.1", 1000+i%50000, fmt.Sprintf("app-%d.apps.example.com", i)), t0)
		if i%10 == 0 {
			r.Register(msg("10.0.0.2", 1000+i%50000, fmt.Sprintf("app-%d.apps.example.com/api", i)), t0)
		}
	}
	r.Register(msg("10.0.0.3", 1, "*.wild.example.com"), t0)
	b.Run("exact", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if r.Lookup("app-4990.apps.example.com", "/api/users") == nil {
				b.Fatal("no route")
			}
		}
	})
	b.Run("wildcard", func(b *testing.B) {
		for b.Loop() {
			if r.Lookup("x.y.wild.example.com", "/") == nil {
				b.Fatal("no route")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if r.Lookup("app-123.apps.example.com:443", "/") == nil {
					b.Fatal("no route")
				}
			}
		})
	})
}
