package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// resourceAuthority is the authority a client needs to check tokens.
const resourceAuthority = "uaa.resource"

// handleCheckToken is POST /check_token: a resource server (client with
// uaa.resource) asks whether a token is valid and gets its claims.
func (s *Server) handleCheckToken(w http.ResponseWriter, r *http.Request) {
	c, ok := s.checkTokenRequest(w, r)
	if !ok {
		return
	}
	if want := parseScopeParam(r.PostForm.Get("scopes")); len(want) > 0 {
		for _, sc := range want {
			if !slices.Contains(c.Scope, sc) {
				writeError(w, errorf(http.StatusBadRequest, "invalid_scope", "Some requested scopes are missing: "+strings.Join(want, ",")))
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, c)
}

// introspection is RFC 7662's response: the claims plus active.
type introspection struct {
	Active bool `json:"active"`
	*apiuaa.Claims
}

// handleIntrospect is POST /introspect (RFC 7662).
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, formError(err))
		return
	}
	if err := s.authenticateResourceClient(r); err != nil {
		s.fail(w, r, err)
		return
	}
	inactive := map[string]bool{"active": false}
	c, err := s.verify.Verify(r.Context(), r.PostForm.Get("token"))
	if err != nil {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	if err := s.checkRevocation(r.Context(), c); err != nil {
		var oe *oauthError
		if errors.As(err, &oe) {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, introspection{Active: true, Claims: c})
}

// checkTokenRequest authenticates the resource client and verifies the
// token form field, writing the error response itself when it fails.
func (s *Server) checkTokenRequest(w http.ResponseWriter, r *http.Request) (*apiuaa.Claims, bool) {
	if err := r.ParseForm(); err != nil {
		writeError(w, formError(err))
		return nil, false
	}
	if err := s.authenticateResourceClient(r); err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	raw := r.PostForm.Get("token")
	if raw == "" {
		writeError(w, errorf(http.StatusBadRequest, "invalid_request", "Missing token"))
		return nil, false
	}
	c, err := s.verify.Verify(r.Context(), raw)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "invalid_token", verifyMessage(err)))
		return nil, false
	}
	if err := s.checkRevocation(r.Context(), c); err != nil {
		var oe *oauthError
		if errors.As(err, &oe) {
			writeError(w, errorf(http.StatusBadRequest, "invalid_token", oe.Description))
			return nil, false
		}
		s.internal(w, r, err)
		return nil, false
	}
	return c, true
}

// authenticateResourceClient requires client credentials with the
// uaa.resource authority.
func (s *Server) authenticateResourceClient(r *http.Request) error {
	client, err := s.authenticateClient(r.Context(), r)
	if err != nil {
		return err
	}
	if !slices.Contains(client.Authorities, resourceAuthority) {
		return errorf(http.StatusForbidden, "access_denied", "Access is denied")
	}
	return nil
}

// userInfo is GET /userinfo's body (OpenID Connect).
type userInfo struct {
	UserID        string  `json:"user_id"`
	Sub           string  `json:"sub"`
	UserName      string  `json:"user_name"`
	GivenName     string  `json:"given_name"`
	FamilyName    string  `json:"family_name"`
	Email         string  `json:"email"`
	EmailVerified bool    `json:"email_verified"`
	PhoneNumber   *string `json:"phone_number"`
	Name          string  `json:"name"`
}

func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	c, err := s.bearer(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := requireScope(c, "openid"); err != nil {
		s.fail(w, r, err)
		return
	}
	if c.UserID == "" {
		writeError(w, errorf(http.StatusForbidden, "access_denied", "A user token is required"))
		return
	}
	u, err := s.store.GetUser(r.Context(), c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, errInvalidToken("Invalid token: user no longer exists"))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userInfo{
		UserID: u.ID, Sub: u.ID, UserName: u.Username, GivenName: u.GivenName, FamilyName: u.FamilyName,
		Email: u.Email, EmailVerified: u.Verified, Name: strings.TrimSpace(u.GivenName + " " + u.FamilyName),
	})
}
