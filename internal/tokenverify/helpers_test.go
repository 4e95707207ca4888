package tokenverify_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// keyServer is a UAA /token_keys endpoint on 127.0.0.1 whose keys, status
// and blocking the test controls.
type keyServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	keys   []uaa.JWK
	status int
	gate   chan struct{} // when set, requests wait for it to close
}

func newKeyServer(t *testing.T, keys ...uaa.JWK) *keyServer {
	t.Helper()
	ks := &keyServer{keys: keys, status: http.StatusOK}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token_keys" {
			http.NotFound(w, r)
			return
		}
		ks.fetches.Add(1)
		ks.mu.Lock()
		keys, status, gate := ks.keys, ks.status, ks.gate
		ks.mu.Unlock()
		if gate != nil {
			<-gate
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(uaa.JWKSet{Keys: keys})
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) publish(keys ...uaa.JWK) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys = keys
}

func (ks *keyServer) setStatus(code int) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.status = code
}

func (ks *keyServer) setGate(gate chan struct{}) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.gate = gate
}

// newVerifier builds a Verifier on clock. A nil src means the HTTP source
// at cfg.UAAURL.
func newVerifier(t testing.TB, cfg tokenverify.Config, src tokenverify.KeySource, clock *fakeClock) *tokenverify.Verifier {
	t.Helper()
	v, err := tokenverify.New(cfg, src, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if clock != nil {
		tokenverify.SetClock(v, clock.Now)
	}
	return v
}

// issuerAt returns an Issuer for the UAA at url with a kid of its own.
func issuerAt(t testing.TB, url string) *tokentest.Issuer {
	iss := tokentest.New(t)
	iss.URL = url
	return iss
}

// claimsAt returns user claims issued at now, valid for an hour.
func claimsAt(iss *tokentest.Issuer, now time.Time, scopes ...string) uaa.Claims {
	c := iss.UserClaims("user-1", "alice", scopes...)
	c.ID = "jti-1"
	c.IssuedAt = now.Unix()
	c.AuthTime = now.Unix()
	c.ExpiresAt = now.Add(time.Hour).Unix()
	c.Issuer = iss.IssuerClaim()
	c.ZoneID = uaa.ZoneUAA
	return c
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
