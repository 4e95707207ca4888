package registry

import (
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anvilpaas/anvil/api/router"
)

// Endpoint is one backend instance serving a route. It is immutable; a
// refresh replaces it (see the package comment).
type Endpoint struct {
	// Addr is host:port, using tls_port when TLS is set.
	Addr string
	// TLS reports whether the router must speak TLS to Addr.
	TLS bool
	// ServerCertDomainSAN is the name the backend's certificate must carry.
	ServerCertDomainSAN  string
	AppID                string
	PrivateInstanceID    string
	PrivateInstanceIndex string
	RouteServiceURL      string
	IsolationSegment     string
	Protocol             string
	Tags                 map[string]string
	Options              router.Options
	// UpdatedAt is when the endpoint was last registered.
	UpdatedAt time.Time

	inflight *atomic.Int64
}

// InFlight returns the number of requests currently leased to e.
func (e *Endpoint) InFlight() int64 { return e.inflight.Load() }

// EndpointInfo is the JSON form of an endpoint in Registry.Routes.
type EndpointInfo struct {
	Address              string            `json:"address"`
	TLS                  bool              `json:"tls"`
	ServerCertDomainSAN  string            `json:"server_cert_domain_san,omitempty"`
	AppID                string            `json:"app,omitempty"`
	PrivateInstanceID    string            `json:"private_instance_id,omitempty"`
	PrivateInstanceIndex string            `json:"private_instance_index,omitempty"`
	RouteServiceURL      string            `json:"route_service_url,omitempty"`
	IsolationSegment     string            `json:"isolation_segment,omitempty"`
	Protocol             string            `json:"protocol,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`
	UpdatedAt            time.Time         `json:"updated_at"`
	LoadBalancing        string            `json:"loadbalancing"`
}

// Pool is the set of endpoints serving one route, and its load balancer.
type Pool struct {
	defaultLB string
	rr        atomic.Uint64

	mu        sync.RWMutex
	endpoints []*Endpoint // in registration order
	lb        router.Options
}

func newPool(defaultLB string) *Pool {
	return &Pool{defaultLB: defaultLB}
}

// Len returns the number of endpoints; 0 means the route is known but has
// nothing to serve it (503).
func (p *Pool) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.endpoints)
}

// Endpoints returns a snapshot of the pool's endpoints.
func (p *Pool) Endpoints() []*Endpoint {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.endpoints)
}

// LoadBalancing returns the pool's algorithm: that of the most recent
// registration naming one, else the registry default.
func (p *Pool) LoadBalancing() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.algorithm()
}

func (p *Pool) algorithm() string {
	if p.lb.LoadBalancing != "" {
		return p.lb.LoadBalancing
	}
	return p.defaultLB
}

// endpointAddr returns the address the router dials for msg.
func endpointAddr(msg router.RegistryMessage) (addr string, tls bool) {
	if msg.TLSPort != 0 {
		return net.JoinHostPort(msg.Host, strconv.Itoa(msg.TLSPort)), true
	}
	return net.JoinHostPort(msg.Host, strconv.Itoa(msg.Port)), false
}

// put adds or refreshes the endpoint of msg.
func (p *Pool) put(msg router.RegistryMessage, now time.Time) {
	addr, tls := endpointAddr(msg)
	e := &Endpoint{
		Addr:                 addr,
		TLS:                  tls,
		ServerCertDomainSAN:  msg.ServerCertDomainSAN,
		AppID:                msg.App,
		PrivateInstanceID:    msg.PrivateInstanceID,
		PrivateInstanceIndex: msg.PrivateInstanceIndex,
		RouteServiceURL:      msg.RouteServiceURL,
		IsolationSegment:     msg.IsolationSegment,
		Protocol:             msg.Protocol,
		Tags:                 maps.Clone(msg.Tags),
		Options:              msg.Options,
		UpdatedAt:            now,
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if msg.Options.LoadBalancing != "" {
		p.lb = msg.Options
	}
	for i, old := range p.endpoints {
		if old.Addr != addr {
			continue
		}
		e.inflight = old.inflight
		if old.PrivateInstanceID != msg.PrivateInstanceID {
			// The address now belongs to another instance; requests in
			// flight to the old one are counted apart.
			e.inflight = new(atomic.Int64)
		}
		p.endpoints[i] = e
		return
	}
	e.inflight = new(atomic.Int64)
	p.endpoints = append(p.endpoints, e)
}

// remove drops the endpoint at addr unless instanceID names another
// instance.
func (p *Pool) remove(addr, instanceID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endpoints = slices.DeleteFunc(p.endpoints, func(e *Endpoint) bool {
		return e.Addr == addr && (instanceID == "" || e.PrivateInstanceID == "" || e.PrivateInstanceID == instanceID)
	})
}

// pruneBefore drops endpoints last updated before cutoff and returns how
// many remain.
func (p *Pool) pruneBefore(cutoff time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endpoints = slices.DeleteFunc(p.endpoints, func(e *Endpoint) bool { return e.UpdatedAt.Before(cutoff) })
	return len(p.endpoints)
}

func (p *Pool) info() []EndpointInfo {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]EndpointInfo, 0, len(p.endpoints))
	for _, e := range p.endpoints {
		out = append(out, EndpointInfo{
			Address: e.Addr, TLS: e.TLS, ServerCertDomainSAN: e.ServerCertDomainSAN,
			AppID: e.AppID, PrivateInstanceID: e.PrivateInstanceID, PrivateInstanceIndex: e.PrivateInstanceIndex,
			RouteServiceURL: e.RouteServiceURL, IsolationSegment: e.IsolationSegment, Protocol: e.Protocol,
			Tags: e.Tags, UpdatedAt: e.UpdatedAt, LoadBalancing: p.algorithm(),
		})
	}
	slices.SortFunc(out, func(a, b EndpointInfo) int {
		switch {
		case a.Address < b.Address:
			return -1
		case a.Address > b.Address:
			return 1
		}
		return 0
	})
	return out
}

// Lease is one request's use of an endpoint. Release it when the request
// is done; that lowers the endpoint's in-flight count used by
// least-connection balancing.
type Lease struct {
	Endpoint *Endpoint
	released atomic.Bool
}

// Release ends the lease. Calls after the first do nothing.
func (l *Lease) Release() {
	if l.released.CompareAndSwap(false, true) {
		l.Endpoint.inflight.Add(-1)
	}
}

// Pick chooses an endpoint by the pool's algorithm and leases it. For
// hash balancing it hashes the value of the pool's hash header in h (h may
// be nil); without a value it falls back to round-robin. It returns false
// when the pool is empty.
func (p *Pool) Pick(h http.Header) (*Lease, bool) {
	p.mu.RLock()
	e := p.pick(h)
	p.mu.RUnlock()
	if e == nil {
		return nil, false
	}
	e.inflight.Add(1)
	return &Lease{Endpoint: e}, true
}

// Lease leases e, an endpoint taken from this pool (a request pinned to an
// instance, or a sticky session), so that least-connection balancing counts
// it like any other request.
func (p *Pool) Lease(e *Endpoint) *Lease {
	e.inflight.Add(1)
	return &Lease{Endpoint: e}
}

// Find returns the endpoint whose private instance id is id, if any.
func (p *Pool) Find(id string) *Endpoint {
	if id == "" {
		return nil
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, e := range p.endpoints {
		if e.PrivateInstanceID == id {
			return e
		}
	}
	return nil
}

// pick runs under p.mu (read).
func (p *Pool) pick(h http.Header) *Endpoint {
	n := len(p.endpoints)
	if n == 0 {
		return nil
	}
	start := int((p.rr.Add(1) - 1) % uint64(n))
	switch p.algorithm() {
	case router.LBLeastConnection:
		best := p.endpoints[start]
		for i := 1; i < n; i++ {
			if e := p.endpoints[(start+i)%n]; e.inflight.Load() < best.inflight.Load() {
				best = e
			}
		}
		return best
	case router.LBHash:
		if key := h.Get(p.lb.HashHeader); key != "" && p.lb.HashHeader != "" {
			return rendezvous(p.endpoints, key)
		}
	}
	return p.endpoints[start]
}

// rendezvous returns the endpoint with the highest hash of (key, address),
// so a key keeps its endpoint as long as it is registered, and only the
// keys of a removed endpoint move.
func rendezvous(endpoints []*Endpoint, key string) *Endpoint {
	var best *Endpoint
	var bestScore uint64
	for _, e := range endpoints {
		if s := score(key, e.Addr); best == nil || s > bestScore {
			best, bestScore = e, s
		}
	}
	return best
}

// score is FNV-1a over key, a separator and addr, then a 64-bit finalizer
// (splitmix64) so that similar addresses spread. It is stable across
// processes, so every router sends a key to the same endpoint.
func score(key, addr string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	h *= prime // a zero byte separates key from addr
	for i := 0; i < len(addr); i++ {
		h = (h ^ uint64(addr[i])) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
