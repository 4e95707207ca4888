package web

import (
	"context"
	"errors"
	"net/http"
	"slices"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// bearer verifies the request's bearer token (signature, expiry, issuer)
// and that it has not been revoked by a password or secret change.
func (s *Server) bearer(r *http.Request) (*apiuaa.Claims, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, errorf(http.StatusUnauthorized, "unauthorized", "Full authentication is required to access this resource")
	}
	c, err := s.verify.Verify(r.Context(), h)
	if err != nil {
		return nil, errInvalidToken(verifyMessage(err))
	}
	if err := s.checkRevocation(r.Context(), c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkRevocation recomputes the token's rev_sig from the current user and
// client.
func (s *Server) checkRevocation(ctx context.Context, c *apiuaa.Claims) error {
	client, err := s.clients.get(ctx, s.store, c.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidToken("Invalid token: client no longer exists")
	}
	if err != nil {
		return err
	}
	var u *store.User
	if c.UserID != "" {
		user, err := s.store.GetUser(ctx, c.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return errInvalidToken("Invalid token: user no longer exists")
		}
		if err != nil {
			return err
		}
		u = &user
	}
	if c.RevocationSignature != revSig(u, client) {
		return errInvalidToken("Token has been revoked")
	}
	return nil
}

func verifyMessage(err error) string {
	switch {
	case errors.Is(err, tokenverify.ErrExpired):
		return "Token has expired"
	case errors.Is(err, tokenverify.ErrSignature), errors.Is(err, tokenverify.ErrUnknownKey), errors.Is(err, tokenverify.ErrAlgorithm):
		return "Could not verify token signature."
	case errors.Is(err, tokenverify.ErrIssuer):
		return "Invalid issuer for token"
	default:
		return "Invalid token"
	}
}

// requireScope fails with 403 unless the token has one of scopes.
func requireScope(c *apiuaa.Claims, scopes ...string) error {
	for _, s := range scopes {
		if slices.Contains(c.Scope, s) {
			return nil
		}
	}
	return errInsufficientScope("Insufficient scope for this resource")
}
