package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// tokenResponse is the body of a successful POST /oauth/token. token_type
// is lowercase "bearer": the cf CLI strips that exact prefix.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	JTI          string `json:"jti"`
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, formError(err))
		return
	}
	ctx := r.Context()
	grant := r.Form.Get("grant_type")
	if grant == "" {
		writeError(w, errorf(http.StatusBadRequest, "invalid_request", "Missing grant type"))
		return
	}
	client, err := s.authenticateClient(ctx, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.Contains(client.GrantTypes, grant) {
		if !KnownGrantType(grant) {
			writeError(w, errorf(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+grant))
			return
		}
		e := errorf(http.StatusUnauthorized, "invalid_client", "Unauthorized grant type: "+grant)
		writeError(w, e)
		return
	}
	var resp tokenResponse
	switch grant {
	case "password":
		resp, err = s.passwordGrant(ctx, r, client)
	case "client_credentials":
		resp, err = s.clientCredentialsGrant(r, client)
	case "refresh_token":
		resp, err = s.refreshGrant(ctx, r, client)
	default:
		err = errorf(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+grant)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// fail writes err; errors that are not UAA errors are logged as internal.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauthError
	if errors.As(err, &oe) {
		writeError(w, oe)
		return
	}
	s.internal(w, r, err)
}

// KnownGrantType reports whether g is a grant type UAA knows (whether or not
// this server implements it).
func KnownGrantType(g string) bool {
	switch g {
	case "password", "client_credentials", "refresh_token", "authorization_code", "implicit",
		"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:saml2-bearer":
		return true
	}
	return false
}

// formError maps a ParseForm failure to a 4xx.
func formError(err error) *oauthError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, "invalid_request", "Request body too large")
	}
	return errorf(http.StatusBadRequest, "invalid_request", "Malformed request body")
}

const lockedMessage = "Your account has been locked because of too many failed attempts to login."

func (s *Server) passwordGrant(ctx context.Context, r *http.Request, client store.Client) (tokenResponse, error) {
	username, password := r.Form.Get("username"), r.Form.Get("password")
	if username == "" || password == "" {
		return tokenResponse{}, errBadUserCredentials()
	}
	origin := "uaa"
	if hint := r.Form.Get("login_hint"); hint != "" {
		var h struct {
			Origin string `json:"origin"`
		}
		if err := json.Unmarshal([]byte(hint), &h); err != nil {
			return tokenResponse{}, errorf(http.StatusBadRequest, "invalid_request", "Malformed login_hint")
		}
		if h.Origin != "" {
			origin = h.Origin
		}
	}
	user, err := s.store.GetUserByName(ctx, username, origin)
	if errors.Is(err, store.ErrNotFound) {
		// Same cost as a real check, so that unknown users cannot be told
		// apart by timing.
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		return tokenResponse{}, errBadUserCredentials()
	}
	if err != nil {
		return tokenResponse{}, err
	}
	now := s.now()
	lo := s.opts.Lockout
	window := max(lo.CountWithin, lo.Period)
	failures, err := s.store.CountLoginFailures(ctx, user.ID, now.Add(-window))
	if err != nil {
		return tokenResponse{}, err
	}
	if failures >= lo.AfterFailures {
		e := errorf(http.StatusUnauthorized, "unauthorized", lockedMessage)
		return tokenResponse{}, e
	}
	if s.checkPassword(user.PasswordHash, password) != nil || !user.Active {
		if err := s.store.RecordLoginFailure(ctx, user.ID, now); err != nil {
			return tokenResponse{}, err
		}
		return tokenResponse{}, errBadUserCredentials()
	}
	if failures > 0 {
		if err := s.store.ClearLoginFailures(ctx, user.ID); err != nil {
			return tokenResponse{}, err
		}
	}
	groups, err := s.store.UserGroupNames(ctx, user.ID)
	if err != nil {
		return tokenResponse{}, err
	}
	scopes, oe := narrowScopes(intersectScopes(groups, client.Scope), r.Form.Get("scope"))
	if oe != nil {
		return tokenResponse{}, oe
	}
	return s.issueUserTokens(ctx, client, user, scopes, "password", now)
}

func (s *Server) clientCredentialsGrant(r *http.Request, client store.Client) (tokenResponse, error) {
	allowed := slices.Clone(client.Authorities)
	slices.Sort(allowed)
	allowed = slices.Compact(allowed)
	scopes, oe := narrowScopes(allowed, r.Form.Get("scope"))
	if oe != nil {
		return tokenResponse{}, oe
	}
	now := s.now()
	validity := s.accessValidity(client)
	claims := &apiuaa.Claims{
		ID:                  newJTI(),
		Subject:             client.ID,
		Scope:               nonNil(scopes),
		ClientID:            client.ID,
		CID:                 client.ID,
		AZP:                 client.ID,
		GrantType:           "client_credentials",
		IssuedAt:            now.Unix(),
		ExpiresAt:           now.Add(validity).Unix(),
		Issuer:              s.issuer(),
		ZoneID:              "uaa",
		Audience:            apiuaa.ResourceIDs(client.ID, scopes),
		RevocationSignature: revSig(nil, client),
	}
	tok, err := s.keys.Sign(claims)
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{
		AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(validity/time.Second) - 1,
		Scope: strings.Join(scopes, " "), JTI: claims.ID,
	}, nil
}

func (s *Server) refreshGrant(ctx context.Context, r *http.Request, client store.Client) (tokenResponse, error) {
	raw := r.Form.Get("refresh_token")
	if raw == "" {
		return tokenResponse{}, errorf(http.StatusBadRequest, "invalid_request", "Missing refresh_token")
	}
	id := refreshTokenID(raw)
	rt, err := s.store.GetRefreshToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return tokenResponse{}, errInvalidToken("Invalid refresh token: " + truncate(raw, 12))
	}
	if err != nil {
		return tokenResponse{}, err
	}
	if rt.ClientID != client.ID {
		return tokenResponse{}, errInvalidToken("Wrong client for this refresh token: " + client.ID)
	}
	now := s.now()
	// One use only: whoever deletes it gets to refresh.
	deleted, err := s.store.DeleteRefreshToken(ctx, id)
	if err != nil {
		return tokenResponse{}, err
	}
	if !deleted {
		return tokenResponse{}, errInvalidToken("Invalid refresh token: " + truncate(raw, 12))
	}
	if !now.Before(rt.ExpiresAt) {
		return tokenResponse{}, errInvalidToken("Invalid refresh token (expired): " + truncate(raw, 12))
	}
	user, err := s.store.GetUser(ctx, rt.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return tokenResponse{}, errInvalidToken("Invalid refresh token: user no longer exists")
	}
	if err != nil {
		return tokenResponse{}, err
	}
	if !user.Active {
		return tokenResponse{}, errInvalidToken("Invalid refresh token: user is not active")
	}
	groups, err := s.store.UserGroupNames(ctx, user.ID)
	if err != nil {
		return tokenResponse{}, err
	}
	// The scopes of the original grant that the user and the client still
	// have.
	current := intersectScopes(intersectScopes(rt.Scopes, groups), client.Scope)
	scopes, oe := narrowScopes(current, r.Form.Get("scope"))
	if oe != nil {
		return tokenResponse{}, oe
	}
	return s.issueUserTokens(ctx, client, user, scopes, rt.GrantType, now)
}

// issueUserTokens mints an access token for user, and a refresh token when
// the client may refresh.
func (s *Server) issueUserTokens(ctx context.Context, client store.Client, user store.User, scopes []string, grant string, now time.Time) (tokenResponse, error) {
	validity := s.accessValidity(client)
	claims := &apiuaa.Claims{
		ID:                  newJTI(),
		Subject:             user.ID,
		Scope:               nonNil(scopes),
		ClientID:            client.ID,
		CID:                 client.ID,
		AZP:                 client.ID,
		GrantType:           grant,
		UserID:              user.ID,
		Origin:              user.Origin,
		UserName:            user.Username,
		Email:               user.Email,
		AuthTime:            now.Unix(),
		IssuedAt:            now.Unix(),
		ExpiresAt:           now.Add(validity).Unix(),
		Issuer:              s.issuer(),
		ZoneID:              "uaa",
		Audience:            apiuaa.ResourceIDs(client.ID, scopes),
		RevocationSignature: revSig(&user, client),
	}
	tok, err := s.keys.Sign(claims)
	if err != nil {
		return tokenResponse{}, err
	}
	resp := tokenResponse{
		AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(validity/time.Second) - 1,
		Scope: strings.Join(scopes, " "), JTI: claims.ID,
	}
	if slices.Contains(client.GrantTypes, "refresh_token") {
		raw := newRefreshToken()
		_, err := s.store.CreateRefreshToken(ctx, store.RefreshToken{
			ID: refreshTokenID(raw), ClientID: client.ID, UserID: user.ID, Scopes: nonNil(scopes), GrantType: grant,
			IssuedAt: now, ExpiresAt: now.Add(s.refreshValidity(client)),
		})
		if err != nil {
			return tokenResponse{}, err
		}
		resp.RefreshToken = raw
	}
	return resp, nil
}

func (s *Server) issuer() string { return s.opts.URL + "/oauth/token" }

func (s *Server) accessValidity(c store.Client) time.Duration {
	if c.AccessTokenValidity > 0 {
		return time.Duration(c.AccessTokenValidity) * time.Second
	}
	return s.opts.AccessTokenValidity
}

func (s *Server) refreshValidity(c store.Client) time.Duration {
	if c.RefreshTokenValidity > 0 {
		return time.Duration(c.RefreshTokenValidity) * time.Second
	}
	return s.opts.RefreshTokenValidity
}

// newJTI returns a token id: 32 hex digits, as UAA's.
func newJTI() string {
	u := uuid.New()
	return hex.EncodeToString(u[:])
}

// newRefreshToken returns an opaque refresh token. Only its SHA-256 is
// stored, so the database never holds a usable token.
func newRefreshToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b) + "-r"
}

func refreshTokenID(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// revSig is the token's revocation signature: it changes when the user's
// password or identity, or the client's secret, changes, and check_token
// rejects tokens whose signature no longer matches.
func revSig(u *store.User, c store.Client) string {
	h := sha256.New()
	if u != nil {
		for _, s := range []string{u.ID, u.Username, u.Email, strconv.FormatInt(u.PasswordLastModified.UnixNano(), 10)} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	h.Write([]byte(c.ID))
	h.Write([]byte{0})
	h.Write(c.SecretHash)
	return hex.EncodeToString(h.Sum(nil)[:4])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
