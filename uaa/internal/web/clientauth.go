package web

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// authenticateClient authenticates the OAuth client of a token-endpoint
// style request: HTTP Basic, or client_id and client_secret form fields.
// A client without a secret (the cf CLI's "cf") authenticates with an empty
// one. Every failure is the same 401, so a caller learns nothing about which
// clients exist.
func (s *Server) authenticateClient(ctx context.Context, r *http.Request) (store.Client, error) {
	id, secret, ok := basicAuth(r)
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		return store.Client{}, errBadClientCredentials()
	}
	c, err := s.clients.get(ctx, s.store, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, errBadClientCredentials()
	}
	if err != nil {
		return store.Client{}, err
	}
	if len(c.SecretHash) == 0 {
		if secret != "" {
			return store.Client{}, errBadClientCredentials()
		}
		return c, nil
	}
	if !s.secrets.check(c.SecretHash, secret) {
		return store.Client{}, errBadClientCredentials()
	}
	return c, nil
}

// basicAuth parses an Authorization: Basic header. The scheme is matched
// case-insensitively.
func basicAuth(r *http.Request) (user, pass string, ok bool) {
	h := r.Header.Get("Authorization")
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	return user, pass, ok
}
