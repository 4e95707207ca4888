package tokenverify

import "errors"

// Errors returned by [Verifier.Verify], wrapped with detail; check them with
// errors.Is. Every failure wraps exactly one of the first eight, except that
// an unknown key whose refetch failed wraps both ErrUnknownKey and
// ErrKeysUnavailable. A handler answers 401 for all of them, except perhaps
// ErrKeysUnavailable (503: UAA is unreachable, the token may well be good).
var (
	// ErrMalformed: not a 3-part compact JWS of base64url JSON, too long, a
	// header without kid, claims of the wrong JSON type, or no exp claim.
	ErrMalformed = errors.New("malformed token")
	// ErrAlgorithm: the header's alg is not RS256 (none, HS256, ...).
	ErrAlgorithm = errors.New("token algorithm not accepted")
	// ErrUnknownKey: the kid is not among UAA's published keys, even after
	// a refetch (or a refetch was not allowed yet).
	ErrUnknownKey = errors.New("unknown token signing key")
	// ErrSignature: the signature does not match the key.
	ErrSignature = errors.New("invalid token signature")
	// ErrExpired: exp is in the past, beyond the leeway.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf or iat is in the future, beyond the leeway.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrIssuer: iss is not the configured issuer.
	ErrIssuer = errors.New("wrong token issuer")
	// ErrAudience: aud contains none of the configured audiences.
	ErrAudience = errors.New("wrong token audience")
	// ErrKeysUnavailable: the keys could not be fetched from UAA.
	ErrKeysUnavailable = errors.New("token keys unavailable")
)
