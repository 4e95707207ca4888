package tokenverify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
)

// maxKeysBody bounds a /token_keys response.
const maxKeysBody = 1 << 20

// KeySource returns UAA's current public signing keys.
type KeySource interface {
	Keys(ctx context.Context) ([]uaa.JWK, error)
}

// HTTPKeySource fetches keys from a UAA /token_keys URL.
type HTTPKeySource struct {
	url    string
	client *http.Client
}

// HTTPKeys returns a KeySource that GETs url (UAA's /token_keys) with
// client; a nil client means one with a 10s timeout.
func HTTPKeys(url string, client *http.Client) *HTTPKeySource {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &HTTPKeySource{url: url, client: client}
}

// Keys fetches and decodes the key set.
func (s *HTTPKeySource) Keys(ctx context.Context) ([]uaa.JWK, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("get token keys: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get token keys: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysBody+1))
	if err != nil {
		return nil, fmt.Errorf("get token keys %s: %w", s.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get token keys %s: status %s", s.url, resp.Status)
	}
	if len(body) > maxKeysBody {
		return nil, fmt.Errorf("get token keys %s: response larger than %d bytes", s.url, maxKeysBody)
	}
	var set uaa.JWKSet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("get token keys %s: %w", s.url, err)
	}
	return set.Keys, nil
}

// StaticKeySource is a fixed key set. The uaa daemon verifies its own
// tokens (in /check_token) with one, and tests use it instead of a UAA.
type StaticKeySource []uaa.JWK

// StaticKeys returns a KeySource that always returns keys.
func StaticKeys(keys ...uaa.JWK) StaticKeySource {
	return slices.Clone(keys)
}

// Keys returns the keys.
func (s StaticKeySource) Keys(context.Context) ([]uaa.JWK, error) {
	return slices.Clone(s), nil
}
