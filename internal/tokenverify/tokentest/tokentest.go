// Package tokentest mints UAA access tokens for tests, so a component's
// tests can authenticate requests without a running uaa daemon. Import it
// only from _test.go files.
//
//	iss := tokentest.New(t)
//	v := iss.Verifier(t) // or tokenverify.New(iss.Config(), iss.Keys(t), logger)
//	tok := iss.UserToken(t, "user-guid", "alice", uaa.ScopeCloudControllerRead)
//	req.Header.Set("Authorization", "bearer "+tok)
//
// Generating an RSA key takes about 100ms, so every Issuer from [New] in a
// test binary shares one key, each under its own kid; a token from one
// Issuer therefore fails another's Verifier with ErrUnknownKey. For a
// rotation, or the same kid with a different key, build an Issuer with
// [GenerateKey].
package tokentest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/golang-jwt/jwt/v5"
)

// DefaultURL is the UAA base URL of Issuers from New.
const DefaultURL = "https://uaa.anvil.test"

// DefaultValidity is the lifetime Token gives a token without exp.
const DefaultValidity = time.Hour

var (
	sharedKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	kidSeq    atomic.Int64
)

// Issuer signs tokens as a UAA at URL would, with Key under KeyID.
type Issuer struct {
	// URL is the UAA base URL; tokens' iss is URL + "/oauth/token".
	URL   string
	KeyID string
	Key   *rsa.PrivateKey
}

// New returns an Issuer at DefaultURL with the test binary's shared key
// under a kid no other Issuer from New uses.
func New(t testing.TB) *Issuer {
	t.Helper()
	key, err := sharedKey()
	if err != nil {
		t.Fatalf("tokentest: generate key: %v", err)
	}
	return &Issuer{URL: DefaultURL, KeyID: fmt.Sprintf("tokentest-%d", kidSeq.Add(1)), Key: key}
}

// GenerateKey returns a new RSA-2048 key.
func GenerateKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("tokentest: generate key: %v", err)
	}
	return key
}

// IssuerClaim returns the iss of i's tokens, URL + "/oauth/token".
func (i *Issuer) IssuerClaim() string { return i.URL + "/oauth/token" }

// JWK returns i's public key as UAA publishes it.
func (i *Issuer) JWK(t testing.TB) uaa.JWK {
	t.Helper()
	k, err := uaa.NewJWK(i.KeyID, &i.Key.PublicKey)
	if err != nil {
		t.Fatalf("tokentest: %v", err)
	}
	return k
}

// Keys returns a key source holding only i's key.
func (i *Issuer) Keys(t testing.TB) tokenverify.StaticKeySource {
	t.Helper()
	return tokenverify.StaticKeys(i.JWK(t))
}

// Config returns a verifier configuration that trusts i.
func (i *Issuer) Config() tokenverify.Config {
	return tokenverify.Config{UAAURL: i.URL}
}

// Verifier returns a Verifier for i.Config() and i.Keys.
func (i *Issuer) Verifier(t testing.TB) *tokenverify.Verifier {
	t.Helper()
	v, err := tokenverify.New(i.Config(), i.Keys(t), nil)
	if err != nil {
		t.Fatalf("tokentest: %v", err)
	}
	return v
}

// UserClaims returns the claims UAA gives the cf CLI for a password login
// of user userName (ID userID, origin uaa) with scopes.
func (i *Issuer) UserClaims(userID, userName string, scopes ...string) uaa.Claims {
	now := time.Now().Unix()
	return uaa.Claims{
		Subject:   userID,
		Scope:     scopes,
		ClientID:  "cf",
		CID:       "cf",
		AZP:       "cf",
		GrantType: uaa.GrantPassword,
		UserID:    userID,
		Origin:    uaa.OriginUAA,
		UserName:  userName,
		Email:     userName,
		AuthTime:  now,
		Audience:  uaa.ResourceIDs("cf", scopes),
		Revocable: true,
	}
}

// ClientClaims returns the claims of a client_credentials token for
// clientID with scopes (UAA calls them the client's authorities).
func (i *Issuer) ClientClaims(clientID string, scopes ...string) uaa.Claims {
	return uaa.Claims{
		Subject:   clientID,
		Scope:     scopes,
		ClientID:  clientID,
		CID:       clientID,
		AZP:       clientID,
		GrantType: uaa.GrantClientCredentials,
		Audience:  uaa.ResourceIDs(clientID, scopes),
	}
}

// UserToken returns a signed token with UserClaims.
func (i *Issuer) UserToken(t testing.TB, userID, userName string, scopes ...string) string {
	t.Helper()
	return i.Token(t, i.UserClaims(userID, userName, scopes...))
}

// ClientToken returns a signed token with ClientClaims.
func (i *Issuer) ClientToken(t testing.TB, clientID string, scopes ...string) string {
	t.Helper()
	return i.Token(t, i.ClientClaims(clientID, scopes...))
}

// Token signs c after filling what is empty among jti (random), iat (now),
// exp (iat + DefaultValidity), iss (IssuerClaim) and zid (uaa).
func (i *Issuer) Token(t testing.TB, c uaa.Claims) string {
	t.Helper()
	if c.ID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		c.ID = hex.EncodeToString(b[:])
	}
	if c.IssuedAt == 0 {
		c.IssuedAt = time.Now().Unix()
	}
	if c.ExpiresAt == 0 {
		c.ExpiresAt = c.IssuedAt + int64(DefaultValidity/time.Second)
	}
	if c.Issuer == "" {
		c.Issuer = i.IssuerClaim()
	}
	if c.ZoneID == "" {
		c.ZoneID = uaa.ZoneUAA
	}
	return i.Sign(t, c)
}

// Sign signs exactly c, RS256 with kid KeyID, as the uaa daemon does.
func (i *Issuer) Sign(t testing.TB, c uaa.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, &c)
	tok.Header["kid"] = i.KeyID
	s, err := tok.SignedString(i.Key)
	if err != nil {
		t.Fatalf("tokentest: sign: %v", err)
	}
	return s
}
