package web

import (
	"crypto/subtle"
	"net/http"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
)

// authenticator decides who a request comes from: an internal caller
// (allowed client certificate or shared secret), the bearer of a signed URL
// for exactly this method and object, or nobody.
type authenticator struct {
	secrets     [][]byte
	clientNames map[string]bool
	keys        []apiblob.Key
	maxLifetime time.Duration
	now         func() time.Time
}

// check returns nil when r may proceed. Signed URLs count only where
// signedOK (the object routes).
func (a *authenticator) check(r *http.Request, signedOK bool) *apiError {
	if a.internal(r) {
		return nil
	}
	q := r.URL.Query()
	if apiblob.SignedQuery(q) {
		if !signedOK {
			return newError(http.StatusForbidden, apiblob.CodeForbidden, "signed URLs reach single objects only; this route needs internal credentials")
		}
		now := a.now()
		exp, err := apiblob.Verify(a.keys, r.Method, r.URL.Path, q, now)
		if err != nil {
			return newError(http.StatusForbidden, apiblob.CodeForbidden, "%s", err.Error())
		}
		if exp.Sub(now) > a.maxLifetime {
			return newError(http.StatusForbidden, apiblob.CodeForbidden, "signed URL: expires %s, more than %s from now (the longest lifetime allowed)", exp.UTC().Format(time.RFC3339), a.maxLifetime)
		}
		return nil
	}
	if r.Header.Get(apiblob.HeaderSecret) != "" {
		return newError(http.StatusForbidden, apiblob.CodeForbidden, "the %s header holds no valid shared secret", apiblob.HeaderSecret)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return newError(http.StatusForbidden, apiblob.CodeForbidden, "client certificate %q is not allowed to use the blobstore", r.TLS.PeerCertificates[0].Subject.CommonName)
	}
	return newError(http.StatusUnauthorized, apiblob.CodeUnauthorized, "authentication required: a client certificate, the %s header or a signed URL", apiblob.HeaderSecret)
}

// internal reports whether r carries internal credentials.
func (a *authenticator) internal(r *http.Request) bool {
	if got := r.Header.Get(apiblob.HeaderSecret); got != "" {
		ok := 0
		for _, s := range a.secrets {
			ok |= subtle.ConstantTimeCompare([]byte(got), s)
		}
		if ok == 1 {
			return true
		}
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(a.clientNames) == 0 {
		return false
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if a.clientNames[leaf.Subject.CommonName] {
		return true
	}
	for _, n := range leaf.DNSNames {
		if a.clientNames[n] {
			return true
		}
	}
	return false
}
