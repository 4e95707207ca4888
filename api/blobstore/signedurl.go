package blobstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Query parameters of a signed URL.
const (
	SignExpiresParam = "expires"
	SignKeyIDParam   = "kid"
	SignatureParam   = "sig"
)

// signPrefix starts the string to sign of scheme version 1.
const signPrefix = "anvil-blobstore-v1\n"

// MaxKeyIDLen bounds a signing key's id.
const MaxKeyIDLen = 64

// Errors Verify returns; each message is meant for the 403 body.
var (
	ErrSignatureMissing   = errors.New("signed URL: missing expires, kid or sig parameter")
	ErrSignatureMalformed = errors.New("signed URL: malformed parameter")
	ErrSignatureUnknownID = errors.New("signed URL: signed with an unknown key id")
	ErrSignatureMismatch  = errors.New("signed URL: signature does not match (the URL was altered or signed with another secret)")
	ErrSignatureMethod    = errors.New("signed URL: signed for another method")
	ErrSignatureExpired   = errors.New("signed URL: expired")
)

// Key is a signing key: an id carried in every URL it signs, and the
// HMAC secret.
type Key struct {
	ID     string
	Secret []byte
}

// ValidateKeyID checks a signing key id: 1 to MaxKeyIDLen bytes of the key
// grammar's characters.
func ValidateKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id must be 1 to %d bytes", MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !keyByte(id[i]) {
			return fmt.Errorf("key id %q: byte %q not allowed (want A-Z a-z 0-9 . _ -)", id, id[i])
		}
	}
	return nil
}

// Sign returns the query string ("expires=…&kid=…&sig=…") that authorizes
// method on path until expires. path is an [ObjectPath].
func Sign(key Key, method, path string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{}
	q.Set(SignExpiresParam, exp)
	q.Set(SignKeyIDParam, key.ID)
	q.Set(SignatureParam, base64.RawURLEncoding.EncodeToString(mac(key.Secret, method, path, exp, key.ID)))
	return q.Encode()
}

// SignedQuery reports whether query carries a signature (any of the three
// parameters), so a server can tell a signed request from an anonymous one.
func SignedQuery(query url.Values) bool {
	return query.Has(SignatureParam) || query.Has(SignKeyIDParam) || query.Has(SignExpiresParam)
}

// Verify checks that query authorizes method on path at now, with one of
// keys, and returns the URL's expiry. The signature is checked before the
// expiry, so an altered URL reports ErrSignatureMismatch even when it has
// also expired. A URL signed for GET also authorizes HEAD. When the
// signature matches another method, Verify returns ErrSignatureMethod.
// Comparisons are constant-time.
func Verify(keys []Key, method, path string, query url.Values, now time.Time) (time.Time, error) {
	exp, kid, sig := query.Get(SignExpiresParam), query.Get(SignKeyIDParam), query.Get(SignatureParam)
	if exp == "" || kid == "" || sig == "" {
		return time.Time{}, ErrSignatureMissing
	}
	// One value each: a second expires= must not be able to hide behind
	// the first.
	if len(query[SignExpiresParam]) != 1 || len(query[SignKeyIDParam]) != 1 || len(query[SignatureParam]) != 1 {
		return time.Time{}, fmt.Errorf("%w: repeated parameter", ErrSignatureMalformed)
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || secs < 0 || strconv.FormatInt(secs, 10) != exp {
		return time.Time{}, fmt.Errorf("%w: expires %q is not a canonical Unix time", ErrSignatureMalformed, exp)
	}
	// Only the canonical encoding is accepted: the decoder skips newlines,
	// so "AB\nCD" would otherwise pass as "ABCD".
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(got) != sha256.Size || base64.RawURLEncoding.EncodeToString(got) != sig {
		return time.Time{}, fmt.Errorf("%w: sig is not a base64url HMAC-SHA256", ErrSignatureMalformed)
	}
	if strings.ContainsAny(path, "\n\x00") || strings.ContainsAny(kid, "\n\x00") {
		return time.Time{}, fmt.Errorf("%w: control byte in path or kid", ErrSignatureMalformed)
	}
	var secret []byte
	for _, k := range keys {
		if k.ID == kid {
			secret = k.Secret
			break
		}
	}
	if secret == nil {
		if len(kid) > MaxKeyIDLen {
			kid = kid[:MaxKeyIDLen] + "…"
		}
		return time.Time{}, fmt.Errorf("%w %q", ErrSignatureUnknownID, kid)
	}
	methods := []string{method}
	if method == http.MethodHead {
		methods = append(methods, http.MethodGet)
	}
	ok := false
	for _, m := range methods {
		if hmac.Equal(got, mac(secret, m, path, exp, kid)) {
			ok = true
		}
	}
	if !ok {
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodPost} {
			if m != method && hmac.Equal(got, mac(secret, m, path, exp, kid)) {
				return time.Time{}, fmt.Errorf("%w: this URL allows %s, not %s", ErrSignatureMethod, m, method)
			}
		}
		return time.Time{}, ErrSignatureMismatch
	}
	expires := time.Unix(secs, 0)
	if !now.Before(expires) {
		return expires, fmt.Errorf("%w at %s", ErrSignatureExpired, expires.UTC().Format(time.RFC3339))
	}
	return expires, nil
}

func mac(secret []byte, method, path, expires, kid string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(signPrefix))
	h.Write([]byte(method))
	h.Write([]byte{'\n'})
	h.Write([]byte(path))
	h.Write([]byte{'\n'})
	h.Write([]byte(expires))
	h.Write([]byte{'\n'})
	h.Write([]byte(kid))
	return h.Sum(nil)
}
