package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
)

// adminScopes read every source.
var adminScopes = []string{
	uaa.ScopeDopplerFirehose,
	uaa.ScopeLogsAdmin,
	uaa.ScopeCloudControllerAdmin,
	uaa.ScopeCloudControllerAdminReadOnly,
}

// errCCUnavailable means Cloud Controller could not answer (HTTP 502).
var errCCUnavailable = errors.New("cloud controller unavailable")

// isAdmin reports whether c reads every source.
func isAdmin(c *uaa.Claims) bool { return c.HasAnyScope(adminScopes...) }

// AuthConfig configures the Cloud Controller check of non-admin readers.
type AuthConfig struct {
	// CCURL is Cloud Controller's base URL; a user may read source_id S
	// when GET {CCURL}/v3/apps/S with the user's token answers 200.
	CCURL string
	// HTTPClient calls Cloud Controller; nil means one with a 5s timeout.
	HTTPClient *http.Client
	// CacheTTL is how long an allowed answer is remembered (denials are
	// remembered for at most 5s, so a just-pushed app shows up quickly).
	CacheTTL time.Duration
	// CacheSize bounds the answers remembered.
	CacheSize int
}

// authorizer answers "may this user read this source?" by asking Cloud
// Controller, with a small bounded cache. It is safe for concurrent use.
type authorizer struct {
	cfg    AuthConfig
	client *http.Client

	mu    sync.Mutex
	cache map[authKey]authAnswer
}

type authKey struct{ subject, sourceID string }

type authAnswer struct {
	allowed bool
	expires time.Time
}

func newAuthorizer(cfg AuthConfig) *authorizer {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10_000
	}
	cfg.CCURL = strings.TrimSuffix(cfg.CCURL, "/")
	c := cfg.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	return &authorizer{cfg: cfg, client: c, cache: make(map[authKey]authAnswer)}
}

// subject identifies the token's user or client for the cache.
func subject(c *uaa.Claims) string {
	if c.Subject != "" {
		return c.Subject
	}
	if c.UserID != "" {
		return "user:" + c.UserID
	}
	return "client:" + c.ClientID
}

// canRead reports whether the bearer of token (with claims c) may read
// sourceID. A Cloud Controller failure returns errCCUnavailable.
func (a *authorizer) canRead(ctx context.Context, c *uaa.Claims, token, sourceID string) (bool, error) {
	if isAdmin(c) {
		return true, nil
	}
	if a.cfg.CCURL == "" {
		return false, nil
	}
	key := authKey{subject(c), sourceID}
	now := time.Now()
	a.mu.Lock()
	ans, ok := a.cache[key]
	a.mu.Unlock()
	if ok && now.Before(ans.expires) {
		return ans.allowed, nil
	}
	allowed, err := a.askCC(ctx, token, sourceID)
	if err != nil {
		return false, err
	}
	ttl := a.cfg.CacheTTL
	if !allowed {
		ttl = min(ttl, 5*time.Second)
	}
	a.remember(key, authAnswer{allowed: allowed, expires: now.Add(ttl)}, now)
	return allowed, nil
}

func (a *authorizer) remember(key authKey, ans authAnswer, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= a.cfg.CacheSize {
		for k, v := range a.cache {
			if now.After(v.expires) {
				delete(a.cache, k)
			}
		}
		// Still full: drop an arbitrary eighth.
		drop := len(a.cache) - a.cfg.CacheSize + 1
		if drop > 0 {
			drop = max(drop, a.cfg.CacheSize/8)
			for k := range a.cache {
				if drop == 0 {
					break
				}
				delete(a.cache, k)
				drop--
			}
		}
	}
	a.cache[key] = ans
}

// askCC calls GET {cc}/v3/apps/{sourceID} with the user's token.
func (a *authorizer) askCC(ctx context.Context, token, sourceID string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.CCURL+"/v3/apps/"+url.PathEscape(sourceID), nil)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errCCUnavailable, err)
	}
	req.Header.Set("Authorization", "bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errCCUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound, http.StatusForbidden, http.StatusUnauthorized:
		return false, nil
	}
	return false, fmt.Errorf("%w: GET /v3/apps/{guid}: status %d", errCCUnavailable, resp.StatusCode)
}
