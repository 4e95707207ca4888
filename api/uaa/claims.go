package uaa

import (
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of an access token, with UAA's JSON names. Times
// are seconds since the Unix epoch. A user token (password, authorization
// code, jwt-bearer grants) has UserID, UserName and Origin; a client token
// (client_credentials) has none of them, and its Subject is the client ID.
//
// The user fields, AuthTime, NotBefore, AZP, RevocationSignature and
// Revocable are omitted from the JSON when empty; the rest are always
// written, as UAA does.
type Claims struct {
	// ID (jti) names the token, for revocation and logout.
	ID string `json:"jti"`
	// Subject (sub) is the user ID for user tokens, the client ID otherwise.
	Subject string `json:"sub"`
	// Scope lists the granted scopes (a JSON array, as UAA sends it).
	Scope []string `json:"scope"`
	// ClientID (client_id) and CID (cid) name the OAuth client that got the
	// token; AZP (azp) is the authorized party, also the client.
	ClientID string `json:"client_id"`
	CID      string `json:"cid"`
	AZP      string `json:"azp,omitempty"`
	// GrantType is the grant that produced the token, e.g. "password".
	GrantType string `json:"grant_type"`
	// UserID, Origin (the identity zone's provider, "uaa" for internal
	// users), UserName and Email describe the user of a user token.
	UserID   string `json:"user_id,omitempty"`
	Origin   string `json:"origin,omitempty"`
	UserName string `json:"user_name,omitempty"`
	Email    string `json:"email,omitempty"`
	// AuthTime is when the user authenticated.
	AuthTime int64 `json:"auth_time,omitempty"`
	// IssuedAt (iat), ExpiresAt (exp) and NotBefore (nbf, which UAA does not
	// send but verifiers honour) bound the token's validity.
	IssuedAt  int64 `json:"iat"`
	ExpiresAt int64 `json:"exp"`
	NotBefore int64 `json:"nbf,omitempty"`
	// Issuer (iss) is the UAA's token endpoint, e.g.
	// "https://uaa.example.com/oauth/token".
	Issuer string `json:"iss"`
	// ZoneID (zid) is the identity zone, "uaa" for the default zone.
	ZoneID string `json:"zid"`
	// Audience (aud) lists the resource IDs the token is for; see
	// [ResourceIDs].
	Audience []string `json:"aud"`
	// RevocationSignature (rev_sig) changes when the user's or client's
	// credentials change, revoking older tokens.
	RevocationSignature string `json:"rev_sig,omitempty"`
	// Revocable tokens can be revoked by jti (cf logout calls
	// DELETE /oauth/token/revoke/<jti> only when it is true).
	Revocable bool `json:"revocable,omitempty"`
}

var _ jwt.Claims = (*Claims)(nil)

// HasScope reports whether the token grants scope.
func (c *Claims) HasScope(scope string) bool {
	return slices.Contains(c.Scope, scope)
}

// HasAnyScope reports whether the token grants at least one of scopes.
func (c *Claims) HasAnyScope(scopes ...string) bool {
	return slices.ContainsFunc(c.Scope, func(s string) bool { return slices.Contains(scopes, s) })
}

// IsClient reports whether this is a client token, one that acts for an
// OAuth client rather than a user: it has no user_name.
func (c *Claims) IsClient() bool {
	return c.UserName == ""
}

// GetExpirationTime returns exp, or nil when it is zero. It and the other
// Get methods implement jwt.Claims, so *Claims can be signed with
// jwt.NewWithClaims and parsed into with jwt.ParseWithClaims.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.ExpiresAt), nil }

// GetIssuedAt returns iat, or nil when it is zero.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IssuedAt), nil }

// GetNotBefore returns nbf, or nil when it is zero.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return numericDate(c.NotBefore), nil }

// GetIssuer returns iss.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject returns sub.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience returns aud.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings(c.Audience), nil }

func numericDate(sec int64) *jwt.NumericDate {
	if sec == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(sec, 0))
}
