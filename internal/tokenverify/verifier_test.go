package tokenverify_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
	"github.com/golang-jwt/jwt/v5"
)

var sentinels = []error{
	tokenverify.ErrMalformed, tokenverify.ErrAlgorithm, tokenverify.ErrUnknownKey, tokenverify.ErrSignature,
	tokenverify.ErrExpired, tokenverify.ErrNotYetValid, tokenverify.ErrIssuer, tokenverify.ErrAudience,
	tokenverify.ErrKeysUnavailable,
}

func TestVerify(t *testing.T) {
	t.Parallel()
	clock := newClock()
	now := clock.Now()
	iss := tokentest.New(t)
	jwk := iss.JWK(t)
	cfg := iss.Config()
	cfg.Audiences = []string{uaa.ResourceCloudController}
	v := newVerifier(t, cfg, iss.Keys(t), clock)

	valid := claimsAt(iss, now, uaa.ScopeCloudControllerRead, uaa.ScopeOpenID)
	good := iss.Sign(t, valid)
	with := func(f func(*uaa.Claims)) string {
		c := claimsAt(iss, now, uaa.ScopeCloudControllerRead, uaa.ScopeOpenID)
		f(&c)
		return iss.Sign(t, c)
	}
	client := iss.ClientClaims("cc-worker", uaa.ScopeCloudControllerAdmin)
	client.IssuedAt, client.ExpiresAt, client.Issuer = now.Unix(), now.Add(time.Minute).Unix(), iss.IssuerClaim()

	// signWith signs valid claims with any golang-jwt method, header kid set.
	signWith := func(m jwt.SigningMethod, key any, kid any) string {
		c := valid
		tok := jwt.NewWithClaims(m, &c)
		if kid != nil {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// manual builds a token from raw header and payload JSON, signed
	// RS256 with iss's key so that only the part under test is wrong.
	manual := func(header, payload string) string {
		in := b64(header) + "." + b64(payload)
		sum := sha256.Sum256([]byte(in))
		sig, err := rsa.SignPKCS1v15(rand.Reader, iss.Key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + b64(string(sig))
	}
	hdr := `{"alg":"RS256","kid":"` + iss.KeyID + `","typ":"JWT"}`
	payload := mustJSON(t, &valid)
	parts := strings.Split(good, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	other := &tokentest.Issuer{URL: iss.URL, KeyID: iss.KeyID, Key: tokentest.GenerateKey(t)}
	otherGood := other.Sign(t, valid)

	tests := []struct {
		name  string
		token string
		want  error // nil: valid
	}{
		{"valid", good, nil},
		{"bearer prefix", "bearer " + good, nil},
		{"Bearer prefix", "Bearer " + good, nil},
		{"BEARER prefix, extra spaces", "BEARER   " + good, nil},
		{"client token", iss.Sign(t, client), nil},
		{"expired", with(func(c *uaa.Claims) { c.ExpiresAt = now.Add(-10 * time.Second).Unix() }), tokenverify.ErrExpired},
		{"expired exactly leeway ago", with(func(c *uaa.Claims) { c.ExpiresAt = now.Add(-5 * time.Second).Unix() }), tokenverify.ErrExpired},
		{"expired within leeway", with(func(c *uaa.Claims) { c.ExpiresAt = now.Add(-4 * time.Second).Unix() }), nil},
		{"exp in 1970", with(func(c *uaa.Claims) { c.ExpiresAt = -1 }), tokenverify.ErrExpired},
		{"no exp", with(func(c *uaa.Claims) { c.ExpiresAt = 0 }), tokenverify.ErrMalformed},
		{"exp far future", with(func(c *uaa.Claims) { c.ExpiresAt = 1<<63 - 1 }), nil},
		{"nbf in future", with(func(c *uaa.Claims) { c.NotBefore = now.Add(time.Minute).Unix() }), tokenverify.ErrNotYetValid},
		{"nbf within leeway", with(func(c *uaa.Claims) { c.NotBefore = now.Add(5 * time.Second).Unix() }), nil},
		{"nbf huge", with(func(c *uaa.Claims) { c.NotBefore = 1<<63 - 1 }), tokenverify.ErrNotYetValid},
		{"iat in future", with(func(c *uaa.Claims) { c.IssuedAt = now.Add(time.Minute).Unix() }), tokenverify.ErrNotYetValid},
		{"iat within leeway", with(func(c *uaa.Claims) { c.IssuedAt = now.Add(4 * time.Second).Unix() }), nil},
		{"wrong iss", with(func(c *uaa.Claims) { c.Issuer = "https://evil.example.com/oauth/token" }), tokenverify.ErrIssuer},
		{"iss is the base URL", with(func(c *uaa.Claims) { c.Issuer = iss.URL }), tokenverify.ErrIssuer},
		{"no iss", with(func(c *uaa.Claims) { c.Issuer = "" }), tokenverify.ErrIssuer},
		{"wrong aud", with(func(c *uaa.Claims) { c.Audience = []string{"cf", "doppler"} }), tokenverify.ErrAudience},
		{"no aud", with(func(c *uaa.Claims) { c.Audience = nil }), tokenverify.ErrAudience},
		{"aud among others", with(func(c *uaa.Claims) { c.Audience = []string{"x", "cloud_controller"} }), nil},
		{"alg none", signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, iss.KeyID), tokenverify.ErrAlgorithm},
		{"alg none, no kid", signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil), tokenverify.ErrAlgorithm},
		{"alg None with RS256 signature", manual(`{"alg":"None","kid":"`+iss.KeyID+`"}`, payload), tokenverify.ErrAlgorithm},
		{"HS256 with the public key PEM as secret", signWith(jwt.SigningMethodHS256, []byte(jwk.Value), iss.KeyID), tokenverify.ErrAlgorithm},
		{"HS256 with PEM plus newline", signWith(jwt.SigningMethodHS256, []byte(jwk.Value+"\n"), iss.KeyID), tokenverify.ErrAlgorithm},
		{"HS256 with n as secret", signWith(jwt.SigningMethodHS256, []byte(jwk.N), iss.KeyID), tokenverify.ErrAlgorithm},
		{"RS512 with the right key", signWith(jwt.SigningMethodRS512, iss.Key, iss.KeyID), tokenverify.ErrAlgorithm},
		{"PS256 with the right key", signWith(jwt.SigningMethodPS256, iss.Key, iss.KeyID), tokenverify.ErrAlgorithm},
		{"alg missing", manual(`{"kid":"`+iss.KeyID+`"}`, payload), tokenverify.ErrAlgorithm},
		{"alg unknown", manual(`{"alg":"XX999","kid":"`+iss.KeyID+`"}`, payload), tokenverify.ErrAlgorithm},
		{"alg not a string", manual(`{"alg":256,"kid":"`+iss.KeyID+`"}`, payload), tokenverify.ErrAlgorithm},
		{"no kid", signWith(jwt.SigningMethodRS256, iss.Key, nil), tokenverify.ErrMalformed},
		{"kid not a string", signWith(jwt.SigningMethodRS256, iss.Key, 7), tokenverify.ErrMalformed},
		{"unknown kid", signWith(jwt.SigningMethodRS256, iss.Key, "nope"), tokenverify.ErrUnknownKey},
		{"right kid, other key", otherGood, tokenverify.ErrSignature},
		{"payload swapped", parts[0] + "." + b64(strings.Replace(payload, `"alice"`, `"admin"`, 1)) + "." + parts[2], tokenverify.ErrSignature},
		{"signature truncated", parts[0] + "." + parts[1] + "." + b64(string(sig[:len(sig)-3])), tokenverify.ErrSignature},
		{"signature empty", parts[0] + "." + parts[1] + ".", tokenverify.ErrSignature},
		{"signature with non-canonical last character", good[:len(good)-1] + string(good[len(good)-1]^1), tokenverify.ErrMalformed},
		{"empty", "", tokenverify.ErrMalformed},
		{"bearer only", "bearer ", tokenverify.ErrMalformed},
		{"garbage", "garbage", tokenverify.ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], tokenverify.ErrMalformed},
		{"four parts", good + ".x", tokenverify.ErrMalformed},
		{"dots", "..", tokenverify.ErrMalformed},
		{"newline inside", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], tokenverify.ErrMalformed},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], tokenverify.ErrMalformed},
		{"standard base64", strings.ReplaceAll(strings.ReplaceAll(good, "-", "+"), "_", "/"), tokenverify.ErrMalformed},
		{"header not JSON", b64("nope") + "." + parts[1] + "." + parts[2], tokenverify.ErrMalformed},
		{"payload not JSON", manual(hdr, "nope"), tokenverify.ErrMalformed},
		{"scope is a string", manual(hdr, strings.Replace(payload, `"scope":["cloud_controller.read","openid"]`, `"scope":"cloud_controller.read"`, 1)), tokenverify.ErrMalformed},
		{"exp is a string", manual(hdr, strings.Replace(payload, `"exp":`, `"exp":"1",  "x":`, 1)), tokenverify.ErrMalformed},
		{"exp is a float", manual(hdr, strings.Replace(payload, `"exp":`, `"exp":1.5e9,"x":`, 1)), tokenverify.ErrMalformed},
		{"too long", good[:len(parts[0])+1] + strings.Repeat("A", tokenverify.MaxTokenLength) + good[len(parts[0])+1:], tokenverify.ErrMalformed},
		{"huge header", b64(`{"alg":"RS256","kid":"`+strings.Repeat("k", 20000)+`"}`) + "." + parts[1] + "." + parts[2], tokenverify.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Twice: the second call may be a cache hit and must agree.
			for range 2 {
				c, err := v.Verify(t.Context(), tt.token)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if c == nil || c.UserName == "" && c.ClientID == "" {
						t.Fatalf("claims = %+v", c)
					}
					continue
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				if c != nil {
					t.Fatalf("claims %+v returned with error", c)
				}
				for _, s := range sentinels {
					if s != tt.want && errors.Is(err, s) {
						t.Fatalf("err %v also matches %v", err, s)
					}
				}
			}
		})
	}

	t.Run("claims", func(t *testing.T) {
		t.Parallel()
		c, err := v.Verify(t.Context(), good)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*c, valid) {
			t.Errorf("claims\n%+v\nwant\n%+v", *c, valid)
		}
		if !c.HasScope(uaa.ScopeCloudControllerRead) || c.HasScope(uaa.ScopeCloudControllerAdmin) || c.IsClient() {
			t.Errorf("helpers wrong on %+v", c)
		}
	})
}

func TestVerifyReturnsPrivateCopy(t *testing.T) {
	t.Parallel()
	iss := tokentest.New(t)
	v := iss.Verifier(t)
	tok := iss.UserToken(t, "u", "alice", uaa.ScopeCloudControllerRead)
	c1, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	c1.Scope[0] = uaa.ScopeCloudControllerAdmin
	c1.Audience[0] = "evil"
	c1.UserName = "admin"
	c2, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Scope[0] != uaa.ScopeCloudControllerRead || c2.Audience[0] != "cf" || c2.UserName != "alice" {
		t.Fatalf("caller's changes leaked into the cache: %+v", c2)
	}
}

// Every way of failing leaves the cache empty, and a cached token that
// expires fails and leaves the cache.
func TestFailuresAreNeverCached(t *testing.T) {
	t.Parallel()
	clock := newClock()
	now := clock.Now()
	iss := tokentest.New(t)
	cfg := iss.Config()
	cfg.Audiences = []string{uaa.ResourceCloudController}
	v := newVerifier(t, cfg, iss.Keys(t), clock)
	other := &tokentest.Issuer{URL: iss.URL, KeyID: iss.KeyID, Key: tokentest.GenerateKey(t)}
	with := func(f func(*uaa.Claims)) uaa.Claims {
		c := claimsAt(iss, now, uaa.ScopeCloudControllerRead)
		f(&c)
		return c
	}
	bad := map[string]string{
		"signature": other.Sign(t, with(func(*uaa.Claims) {})),
		"expired":   iss.Sign(t, with(func(c *uaa.Claims) { c.ExpiresAt = now.Add(-time.Hour).Unix() })),
		"nbf":       iss.Sign(t, with(func(c *uaa.Claims) { c.NotBefore = now.Add(time.Hour).Unix() })),
		"issuer":    iss.Sign(t, with(func(c *uaa.Claims) { c.Issuer = "x" })),
		"audience":  iss.Sign(t, with(func(c *uaa.Claims) { c.Audience = []string{"x"} })),
		"kid":       (&tokentest.Issuer{URL: iss.URL, KeyID: "other", Key: iss.Key}).Sign(t, with(func(*uaa.Claims) {})),
	}
	for name, tok := range bad {
		for i := range 3 {
			if _, err := v.Verify(t.Context(), tok); err == nil {
				t.Fatalf("%s: attempt %d verified", name, i)
			}
		}
		if n := tokenverify.CacheLen(v); n != 0 {
			t.Fatalf("%s: %d cache entries after failures", name, n)
		}
	}

	// A valid token is cached; once expired it fails, even from the cache.
	c := with(func(c *uaa.Claims) { c.ExpiresAt = now.Add(time.Minute).Unix() })
	good := iss.Sign(t, c)
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	if n := tokenverify.CacheLen(v); n != 1 {
		t.Fatalf("cache has %d entries, want 1", n)
	}
	clock.Advance(time.Minute + 4*time.Second) // within the 5s leeway
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := v.Verify(t.Context(), good); !errors.Is(err, tokenverify.ErrExpired) {
		t.Fatalf("after exp+leeway: err = %v, want ErrExpired", err)
	}
	if n := tokenverify.CacheLen(v); n != 0 {
		t.Fatalf("expired token still cached (%d entries)", n)
	}
}

// A token with a kid UAA does not publish yet verifies once the key
// appears and a refetch is allowed.
func TestUnknownKidRefetch(t *testing.T) {
	t.Parallel()
	clock := newClock()
	ks := newKeyServer(t)
	a, b := issuerAt(t, ks.URL), issuerAt(t, ks.URL)
	b.Key = tokentest.GenerateKey(t)
	ks.publish(a.JWK(t))
	v := newVerifier(t, tokenverify.Config{UAAURL: ks.URL, RefetchInterval: time.Minute}, nil, clock)
	tokB := b.Sign(t, claimsAt(b, clock.Now()))

	if ks.fetches.Load() != 0 {
		t.Fatal("New fetched keys")
	}
	if _, err := v.Verify(t.Context(), tokB); !errors.Is(err, tokenverify.ErrUnknownKey) {
		t.Fatalf("before publication: err = %v, want ErrUnknownKey", err)
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (the first use)", n)
	}

	ks.publish(a.JWK(t), b.JWK(t))
	if _, err := v.Verify(t.Context(), tokB); !errors.Is(err, tokenverify.ErrUnknownKey) {
		t.Fatalf("within the refetch interval: err = %v, want ErrUnknownKey", err)
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within the refetch interval, want 1", n)
	}

	clock.Advance(time.Minute)
	c, err := v.Verify(t.Context(), tokB)
	if err != nil {
		t.Fatalf("after the key appeared: %v", err)
	}
	if c.UserName != "alice" {
		t.Fatalf("claims = %+v", c)
	}
	if n := ks.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

// Unknown kids refetch at most once per RefetchInterval, and a token with
// a known kid never causes a fetch.
func TestRefetchRateLimit(t *testing.T) {
	t.Parallel()
	clock := newClock()
	ks := newKeyServer(t)
	iss := issuerAt(t, ks.URL)
	ks.publish(iss.JWK(t))
	v := newVerifier(t, tokenverify.Config{UAAURL: ks.URL, RefetchInterval: 30 * time.Second}, nil, clock)
	good := iss.Sign(t, claimsAt(iss, clock.Now()))
	unknown := func(i int) string {
		u := &tokentest.Issuer{URL: ks.URL, KeyID: "unknown-" + strings.Repeat("x", i%7), Key: iss.Key}
		return u.Sign(t, claimsAt(u, clock.Now()))
	}

	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := v.Verify(t.Context(), unknown(i)); !errors.Is(err, tokenverify.ErrUnknownKey) {
			t.Fatalf("unknown kid %d: err = %v", i, err)
		}
		if _, err := v.Verify(t.Context(), good); err != nil {
			t.Fatal(err)
		}
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within one interval, want 1", n)
	}
	clock.Advance(29 * time.Second)
	_, _ = v.Verify(t.Context(), unknown(1))
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after 29s, want 1", n)
	}
	clock.Advance(time.Second)
	for i := range 10 {
		_, _ = v.Verify(t.Context(), unknown(i))
	}
	if n := ks.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after 30s, want 2", n)
	}
}

// Concurrent callers needing keys share one fetch.
func TestConcurrentFetchesCoalesce(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	iss := issuerAt(t, ks.URL)
	ks.publish(iss.JWK(t))
	gate := make(chan struct{})
	ks.setGate(gate)
	// A tiny interval: only coalescing, not the rate limit, prevents a
	// second fetch.
	v := newVerifier(t, tokenverify.Config{UAAURL: ks.URL, RefetchInterval: time.Nanosecond}, nil, nil)
	tok := iss.Token(t, iss.UserClaims("u", "alice"))

	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if ks.fetches.Load() == 0 {
			return errors.New("no fetch started")
		}
		return nil
	})
	close(gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := ks.fetches.Load(); got != 1 {
		t.Fatalf("%d fetches, want 1", got)
	}
}

// A caller that gives up waiting for keys gets ErrKeysUnavailable; the
// fetch it started still completes for the others.
func TestFetchOutlivesCancelledCaller(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	iss := issuerAt(t, ks.URL)
	ks.publish(iss.JWK(t))
	gate := make(chan struct{})
	ks.setGate(gate)
	v := newVerifier(t, tokenverify.Config{UAAURL: ks.URL}, nil, nil)
	tok := iss.Token(t, iss.UserClaims("u", "alice"))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, tok)
		done <- err
	}()
	testenv.Eventually(t, 10*time.Second, func() error {
		if ks.fetches.Load() == 0 {
			return errors.New("no fetch started")
		}
		return nil
	})
	cancel()
	if err := <-done; !errors.Is(err, tokenverify.ErrKeysUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrKeysUnavailable and context.Canceled", err)
	}
	ks.setGate(nil)
	close(gate)
	testenv.Eventually(t, 10*time.Second, func() error {
		_, err := v.Verify(t.Context(), tok)
		return err
	})
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// Rotation: a token signed with the old key verifies while the old key is
// published, and stops once a fetch sees it removed, though it is cached.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	clock := newClock()
	ks := newKeyServer(t)
	oldIss, newIss := issuerAt(t, ks.URL), issuerAt(t, ks.URL)
	newIss.Key = tokentest.GenerateKey(t)
	ks.publish(oldIss.JWK(t))
	v := newVerifier(t, tokenverify.Config{UAAURL: ks.URL, RefetchInterval: time.Minute}, nil, clock)
	oldTok := oldIss.Sign(t, claimsAt(oldIss, clock.Now()))
	verify := func(tok string) error {
		_, err := v.Verify(t.Context(), tok)
		return err
	}

	if err := verify(oldTok); err != nil {
		t.Fatal(err)
	}
	// UAA adds the new key and starts signing with it.
	ks.publish(oldIss.JWK(t), newIss.JWK(t))
	clock.Advance(time.Minute)
	newTok := newIss.Sign(t, claimsAt(newIss, clock.Now()))
	if err := verify(newTok); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if err := verify(oldTok); err != nil {
		t.Fatalf("old key while still published: %v", err)
	}
	if n := tokenverify.CacheLen(v); n != 2 {
		t.Fatalf("%d cached, want 2 (the refetch must not evict the unchanged old key's verdicts)", n)
	}

	// UAA drops the old key. Until a fetch sees that, the old token works.
	ks.publish(newIss.JWK(t))
	if err := verify(oldTok); err != nil {
		t.Fatalf("old key before the refetch: %v", err)
	}
	clock.Advance(time.Minute)
	probe := &tokentest.Issuer{URL: ks.URL, KeyID: "probe", Key: newIss.Key}
	if err := verify(probe.Sign(t, claimsAt(probe, clock.Now()))); !errors.Is(err, tokenverify.ErrUnknownKey) {
		t.Fatalf("probe: %v", err)
	}
	if n := ks.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	if err := verify(oldTok); !errors.Is(err, tokenverify.ErrUnknownKey) {
		t.Fatalf("old key after removal: err = %v, want ErrUnknownKey", err)
	}
	if err := verify(newTok); err != nil {
		t.Fatalf("new key after removal of the old: %v", err)
	}

	// Same kid, different key: the cached verdict must not survive.
	replaced := &tokentest.Issuer{URL: ks.URL, KeyID: newIss.KeyID, Key: tokentest.GenerateKey(t)}
	ks.publish(replaced.JWK(t))
	clock.Advance(time.Minute)
	_ = verify(probe.Sign(t, claimsAt(probe, clock.Now()))) // triggers the refetch
	if err := verify(newTok); !errors.Is(err, tokenverify.ErrSignature) {
		t.Fatalf("token of a replaced key: err = %v, want ErrSignature", err)
	}
	if err := verify(replaced.Sign(t, claimsAt(replaced, clock.Now()))); err != nil {
		t.Fatalf("token of the replacement key: %v", err)
	}
}

func TestKeysUnavailable(t *testing.T) {
	t.Parallel()
	clock := newClock()
	ks := newKeyServer(t)
	iss := issuerAt(t, ks.URL)
	ks.publish(iss.JWK(t))
	ks.setStatus(500)
	v := newVerifier(t, tokenverify.Config{UAAURL: ks.URL}, nil, clock)
	tok := iss.Sign(t, claimsAt(iss, clock.Now()))

	for range 3 {
		_, err := v.Verify(t.Context(), tok)
		if !errors.Is(err, tokenverify.ErrKeysUnavailable) || errors.Is(err, tokenverify.ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrKeysUnavailable only", err)
		}
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches during the failure backoff, want 1", n)
	}
	ks.setStatus(200)
	clock.Advance(time.Second)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("after UAA recovered: %v", err)
	}

	// With keys in hand, a failed refetch for an unknown kid reports both.
	ks.setStatus(503)
	clock.Advance(time.Hour)
	u := &tokentest.Issuer{URL: ks.URL, KeyID: "new", Key: iss.Key}
	_, err := v.Verify(t.Context(), u.Sign(t, claimsAt(u, clock.Now())))
	if !errors.Is(err, tokenverify.ErrKeysUnavailable) || !errors.Is(err, tokenverify.ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey and ErrKeysUnavailable", err)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("a failed refetch dropped the old keys: %v", err)
	}
}

func TestUnusableKeysAreSkipped(t *testing.T) {
	t.Parallel()
	iss := tokentest.New(t)
	good := iss.JWK(t)
	weak := good
	weak.KeyID, weak.N, weak.Value = "weak", good.N[:len(good.N)/2], ""
	hmac := uaa.JWK{KeyType: "MAC", KeyID: "mac", Value: "secret"}
	noKid := good
	noKid.KeyID = ""

	v := newVerifier(t, iss.Config(), tokenverify.StaticKeys(weak, hmac, noKid, good), nil)
	if _, err := v.Verify(t.Context(), iss.UserToken(t, "u", "alice")); err != nil {
		t.Fatalf("good key among bad ones: %v", err)
	}
	for _, k := range []uaa.JWK{weak, hmac} {
		u := &tokentest.Issuer{URL: iss.URL, KeyID: k.KeyID, Key: iss.Key}
		if _, err := v.Verify(t.Context(), u.UserToken(t, "u", "alice")); !errors.Is(err, tokenverify.ErrUnknownKey) {
			t.Errorf("kid %q: err = %v, want ErrUnknownKey", k.KeyID, err)
		}
	}

	v = newVerifier(t, iss.Config(), tokenverify.StaticKeys(weak, hmac), nil)
	if _, err := v.Verify(t.Context(), iss.UserToken(t, "u", "alice")); !errors.Is(err, tokenverify.ErrKeysUnavailable) {
		t.Fatalf("no usable key: err = %v, want ErrKeysUnavailable", err)
	}
	v = newVerifier(t, iss.Config(), tokenverify.StaticKeys(), nil)
	if _, err := v.Verify(t.Context(), iss.UserToken(t, "u", "alice")); !errors.Is(err, tokenverify.ErrKeysUnavailable) {
		t.Fatalf("empty key set: err = %v, want ErrKeysUnavailable", err)
	}
}

func TestCacheDisabled(t *testing.T) {
	t.Parallel()
	iss := tokentest.New(t)
	cfg := iss.Config()
	cfg.CacheSize = -1
	v := newVerifier(t, cfg, iss.Keys(t), nil)
	tok := iss.UserToken(t, "u", "alice")
	for range 3 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := tokenverify.CacheLen(v); n != 0 {
		t.Fatalf("disabled cache holds %d", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	iss := tokentest.New(t)
	cfg := iss.Config()
	cfg.CacheSize = 8
	v := newVerifier(t, cfg, iss.Keys(t), nil)
	var toks []string
	for i := range 40 {
		tok := iss.UserToken(t, "u", strings.Repeat("a", i+1))
		toks = append(toks, tok)
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		if n := tokenverify.CacheLen(v); n > 8 {
			t.Fatalf("cache holds %d > 8", n)
		}
	}
	// Evicted tokens still verify (the slow way).
	for _, tok := range toks {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRetiredKeyStopsAfterMaxKeyAge: without any unknown kid to trigger a
// refetch, a key UAA stopped publishing still stops verifying once the key
// set is older than MaxKeyAge.
func TestRetiredKeyStopsAfterMaxKeyAge(t *testing.T) {
	t.Parallel()
	clock := newClock()
	ks := newKeyServer(t)
	oldIss, newIss := issuerAt(t, ks.URL), issuerAt(t, ks.URL)
	ks.publish(oldIss.JWK(t), newIss.JWK(t))
	v := newVerifier(t, tokenverify.Config{UAAURL: ks.URL, RefetchInterval: time.Second, MaxKeyAge: time.Minute}, nil, clock)
	oldTok := oldIss.Sign(t, claimsAt(oldIss, clock.Now()))
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatal(err)
	}
	ks.publish(newIss.JWK(t)) // the old key is retired
	clock.Advance(30 * time.Second)
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatalf("within MaxKeyAge: %v", err)
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within MaxKeyAge, want 1", n)
	}
	clock.Advance(time.Minute)
	// The verification that finds the set stale goes on with it and
	// refetches in the background.
	_, _ = v.Verify(t.Context(), oldTok)
	testenv.Eventually(t, 5*time.Second, func() error {
		if _, err := v.Verify(t.Context(), oldTok); !errors.Is(err, tokenverify.ErrUnknownKey) {
			return fmt.Errorf("old token: err = %v, want ErrUnknownKey", err)
		}
		return nil
	})
}
