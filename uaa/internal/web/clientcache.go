package web

import (
	"context"
	"sync"
	"time"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// clientCache keeps client records read by the token and bearer paths for
// a short time, so that issuing a token costs no database round trip: at
// thousands of tokens a second the lookup was the platform's bottleneck,
// not the signature. Writes through this server drop the entry at once;
// another UAA instance's change is seen within the TTL (as a client's
// token validity already is).
type clientCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cachedClient
}

type cachedClient struct {
	c       store.Client
	fetched time.Time
}

// maxCachedClients bounds the cache; it is emptied when full.
const maxCachedClients = 10_000

func newClientCache(ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{ttl: ttl, now: now, entries: make(map[string]cachedClient)}
}

// get returns the client id from the cache or the store. Not-found is not
// cached.
func (c *clientCache) get(ctx context.Context, st *store.Store, id string) (store.Client, error) {
	if c.ttl <= 0 {
		return st.GetClient(ctx, id)
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.ttl {
		return e.c, nil
	}
	cl, err := st.GetClient(ctx, id)
	if err != nil {
		return cl, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedClients {
		clear(c.entries)
	}
	c.entries[id] = cachedClient{c: cl, fetched: now}
	c.mu.Unlock()
	return cl, nil
}

// forget drops id after a change made through this server.
func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
