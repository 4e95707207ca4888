package registry

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anvilpaas/anvil/api/router"
)

// Config configures a Registry.
type Config struct {
	// DefaultLoadBalancing is used by pools whose registrations ask for
	// none: router.LBRoundRobin (the default when empty) or
	// router.LBLeastConnection.
	DefaultLoadBalancing string
	// EmptyPoolTTL is how long a route whose pool became empty stays known
	// (Lookup returns an empty pool, the proxy answers 503). 0 removes it
	// at the next Prune.
	EmptyPoolTTL time.Duration
}

// Registry is the route table. The zero value is not usable; call New.
type Registry struct {
	cfg Config

	mu        sync.RWMutex
	exact     map[string]*hostRoutes // by lowercased host
	wild      map[string]*hostRoutes // by suffix: "*.example.com" is "example.com"
	suspended bool
}

// hostRoutes are the routes of one host, longest path first.
type hostRoutes struct {
	routes []*route
}

type route struct {
	path string // "" or "/a/b", lowercased, no trailing slash
	key  string // the route as shown by Routes: host + path
	pool *Pool
	// emptySince is when Prune first saw the pool empty; zero otherwise.
	emptySince time.Time
}

// New returns an empty Registry.
func New(cfg Config) *Registry {
	if cfg.DefaultLoadBalancing == "" {
		cfg.DefaultLoadBalancing = router.LBRoundRobin
	}
	return &Registry{
		cfg:   cfg,
		exact: make(map[string]*hostRoutes),
		wild:  make(map[string]*hostRoutes),
	}
}

// Register adds or refreshes the endpoint of msg on each of its URIs, as
// of now. msg should have passed router.ParseRegistryMessage.
func (r *Registry) Register(msg router.RegistryMessage, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, uri := range msg.URIs {
		host, path, wildcard := splitURI(uri)
		if host == "" {
			continue
		}
		rt := r.route(host, path, wildcard, true)
		rt.emptySince = time.Time{}
		rt.pool.put(msg, now)
	}
}

// Unregister removes the endpoint of msg from each of its URIs. A route
// left without endpoints stays known until Prune removes it.
func (r *Registry) Unregister(msg router.RegistryMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	addr, _ := endpointAddr(msg)
	for _, uri := range msg.URIs {
		host, path, wildcard := splitURI(uri)
		if rt := r.route(host, path, wildcard, false); rt != nil {
			rt.pool.remove(addr, msg.PrivateInstanceID)
		}
	}
}

// route finds the route for host and path, creating it when create is set.
// r.mu must be held (for writing when create is set).
func (r *Registry) route(host, path string, wildcard, create bool) *route {
	table := r.exact
	if wildcard {
		table = r.wild
	}
	hr := table[host]
	if hr == nil {
		if !create {
			return nil
		}
		hr = &hostRoutes{}
		table[host] = hr
	}
	for _, rt := range hr.routes {
		if rt.path == path {
			return rt
		}
	}
	if !create {
		return nil
	}
	key := host + path
	if wildcard {
		key = "*." + key
	}
	rt := &route{path: path, key: key, pool: newPool(r.cfg.DefaultLoadBalancing)}
	hr.routes = append(hr.routes, rt)
	slices.SortStableFunc(hr.routes, func(a, b *route) int { return len(b.path) - len(a.path) })
	return rt
}

// Lookup returns the pool serving host and path: nil when no route
// matches (404), an empty pool when the route is known but has no
// endpoints left (503). host may carry a port; path may carry a query.
func (r *Registry) Lookup(host, path string) *Pool {
	host = normalizeHost(host)
	path = normalizePath(path)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if hr := r.exact[host]; hr != nil {
		if p := hr.match(path); p != nil {
			return p
		}
	}
	for i := strings.IndexByte(host, '.'); i >= 0; {
		suffix := host[i+1:]
		if hr := r.wild[suffix]; hr != nil {
			if p := hr.match(path); p != nil {
				return p
			}
		}
		j := strings.IndexByte(suffix, '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}

// match returns the pool of the longest route path that is a
// segment-prefix of path.
func (hr *hostRoutes) match(path string) *Pool {
	for _, rt := range hr.routes {
		if rt.path == "" {
			return rt.pool
		}
		if strings.HasPrefix(path, rt.path) && (len(path) == len(rt.path) || path[len(rt.path)] == '/') {
			return rt.pool
		}
	}
	return nil
}

// SuspendPruning stops (true) or resumes (false) Prune.
func (r *Registry) SuspendPruning(suspend bool) {
	r.mu.Lock()
	r.suspended = suspend
	r.mu.Unlock()
}

// PruningSuspended reports whether Prune is suspended.
func (r *Registry) PruningSuspended() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.suspended
}

// Prune removes endpoints not refreshed within threshold of now, and
// routes that have been empty for longer than Config.EmptyPoolTTL. It does
// nothing while pruning is suspended.
func (r *Registry) Prune(now time.Time, threshold time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.suspended {
		return
	}
	for _, table := range []map[string]*hostRoutes{r.exact, r.wild} {
		for host, hr := range table {
			hr.routes = slices.DeleteFunc(hr.routes, func(rt *route) bool {
				if rt.pool.pruneBefore(now.Add(-threshold)) > 0 {
					return false
				}
				if rt.emptySince.IsZero() {
					rt.emptySince = now
				}
				return now.Sub(rt.emptySince) >= r.cfg.EmptyPoolTTL
			})
			if len(hr.routes) == 0 {
				delete(table, host)
			}
		}
	}
}

// Routes returns a snapshot of the table for the /routes endpoint: each
// route ("host/path", "*.example.com") with its endpoints, sorted by
// address. Routes with no endpoints are listed with an empty slice.
func (r *Registry) Routes() map[string][]EndpointInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string][]EndpointInfo)
	for _, table := range []map[string]*hostRoutes{r.exact, r.wild} {
		for _, hr := range table {
			for _, rt := range hr.routes {
				out[rt.key] = rt.pool.info()
			}
		}
	}
	return out
}

// Counts returns the number of routes and of endpoints in the table (an
// endpoint serving several routes counts once per route).
func (r *Registry) Counts() (routes, endpoints int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, table := range []map[string]*hostRoutes{r.exact, r.wild} {
		for _, hr := range table {
			routes += len(hr.routes)
			for _, rt := range hr.routes {
				endpoints += rt.pool.Len()
			}
		}
	}
	return routes, endpoints
}

// splitURI splits a registered URI into its normalized host (without the
// "*." of a wildcard) and path.
func splitURI(uri string) (host, path string, wildcard bool) {
	host, path = uri, ""
	if i := strings.IndexByte(uri, '/'); i >= 0 {
		host, path = uri[:i], uri[i:]
	}
	host = normalizeHost(host)
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		host, wildcard = rest, true
	}
	return host, normalizePath(path), wildcard
}

// normalizeHost lowercases host and strips a port. It does not allocate
// when host is already lowercase.
func normalizeHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && allDigits(host[i+1:]) {
		// Keep IPv6 literals without a port ("[::1]", "::1") intact.
		if host[0] == '[' && host[i-1] == ']' {
			host = host[1 : i-1]
		} else if strings.IndexByte(host[:i], ':') < 0 {
			host = host[:i]
		}
	}
	return strings.ToLower(host)
}

// normalizePath drops the query and trailing slashes and lowercases.
func normalizePath(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimRight(path, "/")
	return strings.ToLower(path)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
