package tokenverify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, every
// error must wrap a sentinel, and only the one genuine token may verify.
func FuzzVerify(f *testing.F) {
	iss := tokentest.New(f)
	v, err := tokenverify.New(iss.Config(), iss.Keys(f), nil)
	if err != nil {
		f.Fatal(err)
	}
	claims := iss.UserClaims("user-1", "alice", uaa.ScopeCloudControllerRead)
	claims.ExpiresAt = time.Now().Add(24 * time.Hour).Unix()
	valid := iss.Token(f, claims)
	parts := strings.Split(valid, ".")
	sign := func(m jwt.SigningMethod, key any) string {
		c := claims
		tok := jwt.NewWithClaims(m, &c)
		tok.Header["kid"] = iss.KeyID
		s, err := tok.SignedString(key)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}

	f.Add(valid)
	f.Add("bearer " + valid)
	f.Add(sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType))
	f.Add(sign(jwt.SigningMethodHS256, []byte(iss.JWK(f).Value)))
	f.Add(parts[0] + "." + parts[1])
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(valid[:len(valid)/2])
	f.Add(b64(`{"alg":"RS256","kid":"`+strings.Repeat("k", 12000)+`"}`) + "." + parts[1] + "." + parts[2])
	f.Add(b64(`{"alg":"RS256","kid":["x"]}`) + "." + b64(`{"exp":1e400}`) + ".AA")
	f.Add("..")
	f.Add("")

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(t.Context(), tok)
		if err == nil {
			if c == nil || c.UserName != "alice" {
				t.Fatalf("verified %q with claims %+v", tok, c)
			}
			if !strings.HasSuffix(tok, valid) {
				t.Fatalf("verified a token other than the genuine one: %q", tok)
			}
			return
		}
		if c != nil {
			t.Fatalf("claims returned with error %v", err)
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error %v wraps no sentinel", err)
	})
}
