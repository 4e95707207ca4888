package tokenverify

import (
	"crypto/rsa"
	"slices"
	"sync"

	"github.com/anvilpaas/anvil/api/uaa"
)

// evictSample is how many entries an insert into a full cache looks at; it
// evicts the one that expires first.
const evictSample = 5

// verdict is a token that passed every check. It is never modified after
// it is cached.
type verdict struct {
	claims uaa.Claims
	// kid and key are the key that verified the signature. The verdict
	// holds only while the current key set maps kid to this same key.
	kid string
	key *rsa.PublicKey
}

// claimsCopy returns claims the caller may modify.
func (v *verdict) claimsCopy() *uaa.Claims {
	c := v.claims
	c.Scope = slices.Clone(c.Scope)
	c.Audience = slices.Clone(c.Audience)
	return &c
}

// cache maps a token string to its verdict. It holds at most max entries;
// inserting into a full cache evicts, among a few arbitrary entries, the
// one whose token expires first (expired ones first of all). A nil *cache
// is a disabled cache.
type cache struct {
	max int

	mu sync.RWMutex
	m  map[string]*verdict
}

func newCache(max int) *cache {
	if max <= 0 {
		return nil
	}
	return &cache{max: max, m: make(map[string]*verdict, min(max, 1024))}
}

func (c *cache) get(token string) *verdict {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	v := c.m[token]
	c.mu.RUnlock()
	return v
}

func (c *cache) put(token string, v *verdict) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[token]; !ok && len(c.m) >= c.max {
		c.evictLocked()
	}
	c.m[token] = v
}

func (c *cache) remove(token string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, token)
	c.mu.Unlock()
}

func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// evictLocked removes one entry. Map iteration starts at a random place, so
// the sample is arbitrary.
func (c *cache) evictLocked() {
	victim, victimExp, n := "", int64(0), 0
	for tok, v := range c.m {
		if n == 0 || v.claims.ExpiresAt < victimExp {
			victim, victimExp = tok, v.claims.ExpiresAt
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(c.m, victim)
}
