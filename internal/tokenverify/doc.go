// Package tokenverify verifies the access tokens Anvil's uaa daemon issues.
// Every daemon that accepts `Authorization: bearer <jwt>` (Cloud Controller,
// log-cache, the uaa daemon's own /check_token) uses one [Verifier].
//
// # Usage
//
//	v, err := tokenverify.New(cfg.Auth, nil, logger) // keys from cfg.Auth.UAAURL + "/token_keys"
//	if err != nil {
//		return err
//	}
//	...
//	claims, err := v.Verify(r.Context(), r.Header.Get("Authorization"))
//	switch {
//	case errors.Is(err, tokenverify.ErrKeysUnavailable):
//		// UAA is unreachable; the token may be fine. 503.
//	case err != nil:
//		// 401 invalid_token.
//	case !claims.HasAnyScope(uaa.ScopeCloudControllerRead, uaa.ScopeCloudControllerAdmin):
//		// 403.
//	}
//
// The uaa daemon passes [StaticKeys] with its own public keys; tests use
// package tokentest, which mints tokens without a UAA.
//
// # What is checked
//
// A token is accepted only if it is at most [MaxTokenLength] bytes of three
// strict base64url segments; its header has alg RS256 (none, HS256 and every
// other algorithm are refused before any key is touched, so a public key is
// never used as an HMAC secret) and a kid naming a published key; the RSA
// PKCS#1 v1.5 SHA-256 signature verifies with that key; exp is present and
// now < exp + leeway; nbf and iat, when present, are ≤ now + leeway; iss
// equals Config.Issuer; and, if Config.Audiences is set, aud contains one of
// them. Header parameters such as jku and x5u are ignored: keys come only
// from the KeySource.
//
// # Keys
//
// Keys are fetched on the first Verify, not in New, so a daemon can start
// before UAA. When a token names an unknown kid the key set is fetched
// again, at most once per Config.RefetchInterval (30s) — after a failed
// fetch, after min(RefetchInterval, 1s) — and concurrent callers share one
// fetch. Every fetch replaces the whole set: a key UAA stops publishing
// stops verifying, cached tokens included, as soon as a fetch has seen it
// gone. A set older than Config.MaxKeyAge (10m) is also refetched, in the
// background, by the next Verify, so a retired key stops verifying within
// about MaxKeyAge even when no token with a new kid arrives. A failed fetch
// keeps the previous set. Unusable keys in a set (wrong type, under 2048
// bits, no kid) are skipped and logged.
//
// # Cache
//
// An RSA-2048 signature check costs about 40µs, so the verdicts of valid
// tokens are cached by exact token string, up to Config.CacheSize entries.
// Invariants:
//
//   - Only a token that passed every check is cached; failures never are.
//   - A hit still checks exp, nbf and iat against the clock, and that the
//     kid still maps to the very key that verified the signature (unchanged
//     keys keep their identity across fetches, so rotation elsewhere in the
//     set does not empty the cache). iss and aud need no recheck: the
//     configuration is fixed.
//   - A full cache evicts the entry expiring soonest among a small
//     arbitrary sample.
//
// # Concurrency
//
// A Verifier is safe for concurrent use and has no background goroutines:
// a key fetch runs in a goroutine of its own only while callers wait for it
// (so that a caller whose ctx ends can stop waiting). The key set is an
// immutable map behind an atomic pointer; fetches run one at a time in a
// singleflight group; the rate-limit state has a mutex that is held for no
// I/O, logging or other lock; the cache has its own RWMutex, likewise never
// held with another.
package tokenverify
