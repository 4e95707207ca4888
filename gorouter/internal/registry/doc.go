// Package registry is the gorouter's route table: which backend endpoints
// serve which host and path, fed by router.register and router.unregister
// messages (see package api/router) and read by the proxy on every
// request.
//
// # Usage
//
//	reg := registry.New(registry.Config{EmptyPoolTTL: 30 * time.Second})
//	reg.Register(msg, time.Now())           // on router.register
//	reg.Unregister(msg)                     // on router.unregister
//	reg.Prune(time.Now(), pruneThreshold)   // from a ticker
//
//	pool := reg.Lookup(req.Host, req.URL.Path)
//	switch {
//	case pool == nil:        // 404: unknown route
//	case pool.Len() == 0:    // 503: route known, no endpoints left
//	default:
//		lease, _ := pool.Pick(req.Header)
//		defer lease.Release()
//		// proxy to lease.Endpoint.Addr
//	}
//
// # Matching
//
// Hosts are case-insensitive and a port is ignored. Paths are matched
// case-insensitively too (as CF does), on whole segments: route
// "a.com/foo" serves "/foo" and "/foo/bar" but not "/foobar". Among the
// routes of a host the longest matching path wins. An exact host is tried
// first; when none of its routes match, wildcard routes "*.example.com"
// are tried from the most specific suffix outwards, and a wildcard matches
// one or more leading labels ("a.example.com", "a.b.example.com", but not
// "example.com").
//
// # Lifetime of endpoints and routes
//
// An endpoint is identified by its address (host:port, or host:tls_port
// when tls_port is set). A registration refreshes it; a registration for
// the same address with a different private_instance_id replaces it (the
// address was reused). An unregistration removes it unless it names
// another private_instance_id. [Registry.Prune] removes endpoints not
// refreshed within the threshold, unless pruning is suspended with
// [Registry.SuspendPruning] (the router does this while NATS is down so it
// keeps serving the last known table).
//
// A route whose pool became empty is kept for [Config.EmptyPoolTTL] so the
// proxy can answer 503 instead of 404. The TTL is counted from the first
// Prune that sees the pool empty.
//
// # Concurrency
//
// All methods are safe for concurrent use. Lock order: Registry.mu before
// Pool.mu; Pool methods never take Registry.mu. Endpoint values are
// immutable: a refresh installs a new *Endpoint that shares the in-flight
// counter of the one it replaces, so a *Endpoint held by a request stays
// valid.
package registry
