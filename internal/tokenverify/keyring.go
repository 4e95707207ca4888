package tokenverify

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
	"golang.org/x/sync/singleflight"
)

const (
	// fetchTimeout bounds one key fetch, whatever the callers' contexts.
	fetchTimeout = 10 * time.Second
	// failureBackoff is the longest wait after a failed fetch before the
	// next one (RefetchInterval when that is shorter).
	failureBackoff = time.Second
)

// keySet is one fetched key set. It is never modified after it is stored.
type keySet struct {
	byKID     map[string]*rsa.PublicKey
	fetchedAt time.Time
}

// keyring holds the current key set and refetches it, at most once per
// interval, with concurrent callers sharing one fetch.
type keyring struct {
	src      KeySource
	logger   *slog.Logger
	interval time.Duration
	maxAge   time.Duration
	now      func() time.Time

	cur   atomic.Pointer[keySet] // nil until the first successful fetch
	group singleflight.Group

	mu      sync.Mutex
	next    time.Time // no fetch before this
	lastErr error     // the last fetch's error, nil if it succeeded
}

// current returns the key named kid in the current set, or nil. A set
// older than maxAge is refetched in the background; the caller goes on with
// the current one.
func (r *keyring) current(kid string) *rsa.PublicKey {
	ks := r.cur.Load()
	if ks == nil {
		return nil
	}
	if r.maxAge > 0 && r.now().Sub(ks.fetchedAt) > r.maxAge {
		go func() { _, _ = r.refresh(context.Background()) }()
	}
	return ks.byKID[kid]
}

// lookup returns the key named kid, fetching the key set first if kid is
// unknown and a fetch is allowed.
func (r *keyring) lookup(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k := r.current(kid); k != nil {
		return k, nil
	}
	ks, err := r.refresh(ctx)
	if ks != nil {
		if k := ks.byKID[kid]; k != nil {
			return k, nil
		}
	}
	switch {
	case ks == nil && err != nil:
		return nil, err // never had keys: ErrKeysUnavailable
	case err != nil:
		return nil, fmt.Errorf("%w %q: %w", ErrUnknownKey, kid, err)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// refresh fetches the key set unless the last fetch was too recent, and
// returns the current set with the last fetch's error.
func (r *keyring) refresh(ctx context.Context) (*keySet, error) {
	ch := r.group.DoChan("keys", func() (any, error) { return r.fetch(ctx) })
	select {
	case res := <-ch:
		ks, _ := res.Val.(*keySet)
		return ks, res.Err
	case <-ctx.Done():
		return r.cur.Load(), fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
	}
}

// fetch runs inside the singleflight group, so at most one runs at a time.
func (r *keyring) fetch(ctx context.Context) (*keySet, error) {
	r.mu.Lock()
	if r.now().Before(r.next) {
		err := r.lastErr
		r.mu.Unlock()
		return r.cur.Load(), err
	}
	r.mu.Unlock()

	// The fetch serves every waiting caller, so the first caller's
	// cancellation must not end it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	jwks, err := r.src.Keys(ctx)
	var ks *keySet
	if err == nil {
		ks, err = r.build(jwks)
	}

	r.mu.Lock()
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		r.lastErr = err
		r.next = r.now().Add(min(r.interval, failureBackoff))
		r.mu.Unlock()
		r.logger.Warn("token keys fetch failed", "err", err)
		return r.cur.Load(), err
	}
	r.lastErr = nil
	r.next = r.now().Add(r.interval)
	old := r.cur.Swap(ks)
	r.mu.Unlock()
	r.logChanges(old, ks)
	return ks, nil
}

// build turns a fetched key set into a keySet, skipping (and logging)
// unusable keys. A key that is unchanged since the previous set keeps its
// *rsa.PublicKey, so cached verdicts made with it stay valid.
func (r *keyring) build(jwks []uaa.JWK) (*keySet, error) {
	old := r.cur.Load()
	byKID := make(map[string]*rsa.PublicKey, len(jwks))
	for _, k := range jwks {
		if k.KeyID == "" {
			r.logger.Warn("ignoring token key without kid")
			continue
		}
		if _, dup := byKID[k.KeyID]; dup {
			r.logger.Warn("ignoring token key with duplicate kid", "kid", k.KeyID)
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			r.logger.Warn("ignoring unusable token key", "kid", k.KeyID, "err", err)
			continue
		}
		if old != nil {
			if prev := old.byKID[k.KeyID]; prev != nil && prev.Equal(pub) {
				pub = prev
			}
		}
		byKID[k.KeyID] = pub
	}
	if len(byKID) == 0 {
		return nil, fmt.Errorf("no usable key among %d published", len(jwks))
	}
	return &keySet{byKID: byKID, fetchedAt: r.now()}, nil
}

func (r *keyring) logChanges(old, cur *keySet) {
	var added, removed []string
	for kid, k := range cur.byKID {
		if old == nil || old.byKID[kid] != k {
			added = append(added, kid)
		}
	}
	if old != nil {
		for kid, k := range old.byKID {
			if cur.byKID[kid] != k {
				removed = append(removed, kid)
			}
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		r.logger.Debug("token keys unchanged")
		return
	}
	slices.Sort(added)
	slices.Sort(removed)
	r.logger.Info("token keys updated", "kids", slices.Sorted(maps.Keys(cur.byKID)), "added", added, "removed", removed)
}
