package tokenverify

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenLength bounds the token Verify accepts (after the bearer prefix).
// UAA tokens are 1–3 KiB.
const MaxTokenLength = 16 << 10

// Verifier checks UAA access tokens. It is safe for concurrent use.
type Verifier struct {
	issuer    string
	audiences []string
	leeway    int64 // seconds, rounded up
	now       func() time.Time
	parser    *jwt.Parser
	keys      *keyring
	cache     *cache
}

// New returns a Verifier for cfg, after applying Defaults and Validate. src
// supplies the keys; nil means HTTPKeys(cfg.UAAURL+"/token_keys",
// cfg.HTTPClient). Nothing is fetched until the first Verify. A nil logger
// discards logs.
func New(cfg Config, src KeySource, logger *slog.Logger) (*Verifier, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tokenverify: invalid config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if src == nil {
		if cfg.UAAURL == "" {
			return nil, errors.New("tokenverify: uaa_url is required when no key source is given")
		}
		src = HTTPKeys(cfg.UAAURL+"/token_keys", cfg.HTTPClient)
	}
	v := &Verifier{
		issuer:    cfg.Issuer,
		audiences: slices.Clone(cfg.Audiences),
		leeway:    int64((cfg.Leeway + time.Second - 1) / time.Second),
		now:       time.Now,
		// Claims are checked by Verify itself, so that a cache hit runs
		// the same time checks.
		parser: jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding()),
		keys:   &keyring{src: src, logger: logger, interval: cfg.RefetchInterval, maxAge: cfg.MaxKeyAge, now: time.Now},
		cache:  newCache(cfg.CacheSize),
	}
	return v, nil
}

// Verify checks rawToken, which may carry a "bearer " prefix in any case,
// and returns its claims, which the caller may modify. The token must be an
// RS256 JWS whose kid names one of UAA's keys, with a valid signature, an
// exp not in the past and nbf/iat not in the future (both give or take the
// leeway), the configured iss and, if configured, an accepted aud. Errors
// wrap the sentinels in errors.go.
//
// ctx bounds only the wait for a key fetch, which happens on first use and
// when the kid is unknown.
func (v *Verifier) Verify(ctx context.Context, rawToken string) (*uaa.Claims, error) {
	tok := stripBearer(rawToken)
	if len(tok) > MaxTokenLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLength)
	}
	now := v.now()
	if vd := v.cache.get(tok); vd != nil {
		if v.keys.current(vd.kid) == vd.key {
			if err := v.checkTimes(&vd.claims, now); err != nil {
				v.cache.remove(tok)
				return nil, err
			}
			return vd.claimsCopy(), nil
		}
		// The key was removed or replaced since: verify afresh.
		v.cache.remove(tok)
	}
	vd, err := v.verify(ctx, tok, now)
	if err != nil {
		return nil, err
	}
	c := vd.claimsCopy() // the cache keeps vd.claims' slices to itself
	v.cache.put(strings.Clone(tok), vd)
	return c, nil
}

// verify does the full check of tok, without the cache.
func (v *Verifier) verify(ctx context.Context, tok string, now time.Time) (*verdict, error) {
	if !compactJWS(tok) {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	vd := &verdict{}
	var keyErr error
	_, err := v.parser.ParseWithClaims(tok, &vd.claims, func(t *jwt.Token) (any, error) {
		key, kid, err := v.key(ctx, t)
		if err != nil {
			keyErr = err
			return nil, err
		}
		vd.kid, vd.key = kid, key
		return key, nil
	})
	switch {
	case keyErr != nil:
		return nil, keyErr
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// Raised before the key function only for a missing or unknown alg.
		return nil, fmt.Errorf("%w: %v", ErrAlgorithm, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := v.checkClaims(&vd.claims, now); err != nil {
		return nil, err
	}
	return vd, nil
}

// key is the jwt key function: it allows RS256 only and finds the kid.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (*rsa.PublicKey, string, error) {
	// Identity, not name: if anything re-registers "RS256" in golang-jwt's
	// global table, every token fails instead of being checked by it.
	if t.Method != jwt.SigningMethodRS256 {
		return nil, "", fmt.Errorf("%w: %v", ErrAlgorithm, t.Header["alg"])
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, "", fmt.Errorf("%w: header has no kid", ErrMalformed)
	}
	key, err := v.keys.lookup(ctx, kid)
	if err != nil {
		return nil, "", err
	}
	return key, kid, nil
}

// checkClaims checks a freshly verified token's claims. The result depends
// only on the claims, the fixed configuration and the clock, so a verdict
// can be cached as long as checkTimes is rerun on every hit.
func (v *Verifier) checkClaims(c *uaa.Claims, now time.Time) error {
	if c.ExpiresAt == 0 {
		return fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	if err := v.checkTimes(c, now); err != nil {
		return err
	}
	if c.Issuer != v.issuer {
		return fmt.Errorf("%w %q, want %q", ErrIssuer, c.Issuer, v.issuer)
	}
	if len(v.audiences) > 0 && !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(v.audiences, a) }) {
		return fmt.Errorf("%w %q, want one of %q", ErrAudience, c.Audience, v.audiences)
	}
	return nil
}

// checkTimes checks exp, nbf and iat in whole seconds. A token is valid
// while now < exp+leeway, and from nbf-leeway and iat-leeway on. The
// arithmetic stays on now's side so that huge claim values cannot overflow.
func (v *Verifier) checkTimes(c *uaa.Claims, now time.Time) error {
	n := now.Unix()
	if n-v.leeway >= c.ExpiresAt {
		return fmt.Errorf("%w at %s", ErrExpired, unixString(c.ExpiresAt))
	}
	if c.NotBefore != 0 && c.NotBefore > n+v.leeway {
		return fmt.Errorf("%w: nbf is %s", ErrNotYetValid, unixString(c.NotBefore))
	}
	if c.IssuedAt != 0 && c.IssuedAt > n+v.leeway {
		return fmt.Errorf("%w: iat is %s", ErrNotYetValid, unixString(c.IssuedAt))
	}
	return nil
}

func unixString(sec int64) string {
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

// stripBearer removes a leading "bearer " (any case) and the spaces after
// it. The cf CLI sends a lowercase "bearer".
func stripBearer(s string) string {
	const prefix = "bearer "
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return strings.TrimLeft(s[len(prefix):], " ")
	}
	return s
}

// compactJWS reports whether s is three base64url segments joined by dots.
// golang-jwt's decoder would skip embedded newlines; this does not.
func compactJWS(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2
}
