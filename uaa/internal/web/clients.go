package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// Scopes that allow the clients API.
var (
	clientReaders = []string{"clients.read", "clients.admin", "uaa.admin"}
	clientWriters = []string{"clients.write", "clients.admin", "uaa.admin"}
	secretAdmins  = []string{"clients.secret", "clients.admin", "uaa.admin"}
)

// clientJSON is a client as UAA's clients API shows and accepts it. The
// secret is accepted, never shown.
type clientJSON struct {
	ClientID             string   `json:"client_id"`
	ClientSecret         string   `json:"client_secret,omitempty"`
	Name                 string   `json:"name,omitempty"`
	Scope                []string `json:"scope"`
	ResourceIDs          []string `json:"resource_ids"`
	AuthorizedGrantTypes []string `json:"authorized_grant_types"`
	RedirectURI          []string `json:"redirect_uri"`
	AutoApprove          []string `json:"autoapprove"`
	Authorities          []string `json:"authorities"`
	AccessTokenValidity  int      `json:"access_token_validity,omitempty"`
	RefreshTokenValidity int      `json:"refresh_token_validity,omitempty"`
	LastModified         int64    `json:"lastModified,omitempty"`
}

func toClientJSON(c store.Client) clientJSON {
	return clientJSON{
		ClientID: c.ID, Name: c.Name, Scope: orNone(c.Scope), ResourceIDs: []string{"none"},
		AuthorizedGrantTypes: nonNil(c.GrantTypes), RedirectURI: nonNil(c.RedirectURIs), AutoApprove: nonNil(c.AutoApprove),
		Authorities: orNone(c.Authorities), AccessTokenValidity: c.AccessTokenValidity, RefreshTokenValidity: c.RefreshTokenValidity,
		LastModified: c.LastModified.UnixMilli(),
	}
}

// orNone shows an empty scope list as UAA does: ["uaa.none"].
func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"uaa.none"}
	}
	return s
}

// fromNone drops UAA's "uaa.none" placeholder.
func fromNone(s []string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == "uaa.none" || v == "" })
}

func (b *clientJSON) validate() error {
	b.ClientID = strings.TrimSpace(b.ClientID)
	if b.ClientID == "" {
		return errorf(http.StatusBadRequest, "invalid_client", "client_id is required")
	}
	if len(b.ClientID) > 255 {
		return errorf(http.StatusBadRequest, "invalid_client", "client_id must be at most 255 characters")
	}
	if len(b.AuthorizedGrantTypes) == 0 {
		return errorf(http.StatusBadRequest, "invalid_client", "An authorized grant type must be provided. Must be one of: password, client_credentials, refresh_token, authorization_code, implicit")
	}
	for _, g := range b.AuthorizedGrantTypes {
		if !KnownGrantType(g) {
			return errorf(http.StatusBadRequest, "invalid_client", g+" is not an allowed grant type.")
		}
	}
	if slices.Contains(b.AuthorizedGrantTypes, "client_credentials") && b.ClientSecret == "" {
		return errorf(http.StatusBadRequest, "invalid_client", "Client secret is required for client_credentials grant type")
	}
	if len(b.ClientSecret) > maxPasswordBytes {
		return errorf(http.StatusBadRequest, "invalid_client", "Client secret must be at most 72 bytes")
	}
	if b.AccessTokenValidity < 0 || b.RefreshTokenValidity < 0 {
		return errorf(http.StatusBadRequest, "invalid_client", "Token validity must not be negative")
	}
	return nil
}

func (b *clientJSON) toStore() store.Client {
	return store.Client{
		ID: b.ClientID, Name: b.Name, Scope: fromNone(b.Scope), Authorities: fromNone(b.Authorities),
		GrantTypes: b.AuthorizedGrantTypes, RedirectURIs: b.RedirectURI, AutoApprove: b.AutoApprove,
		AccessTokenValidity: b.AccessTokenValidity, RefreshTokenValidity: b.RefreshTokenValidity,
	}
}

func clientStoreError(err error, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "invalid_client", "No client with requested id: "+id)
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "invalid_client", "Client already exists: "+id)
	}
	return err
}

func (s *Server) handleListClients(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, clientReaders) {
		return
	}
	p, err := parseListParams(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	clients, total, err := s.store.ListClients(r.Context(), p.StartIndex, p.Count)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	list := scimList{Resources: []any{}, StartIndex: p.StartIndex, ItemsPerPage: len(clients), TotalResults: total, Schemas: []string{"http://cloudfoundry.org/schema/scim/oauth-clients-1.0"}}
	for _, c := range clients {
		list.Resources = append(list.Resources, toClientJSON(c))
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, clientWriters) {
		return
	}
	var b clientJSON
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := b.validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	c := b.toStore()
	if b.ClientSecret != "" {
		h, err := hashSecret(b.ClientSecret, s.opts.BcryptCost)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		c.SecretHash = h
	}
	created, err := s.store.CreateClient(r.Context(), c)
	if err != nil {
		s.fail(w, r, clientStoreError(err, b.ClientID))
		return
	}
	writeJSON(w, http.StatusCreated, toClientJSON(created))
}

func (s *Server) handleGetClient(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, clientReaders) {
		return
	}
	id := r.PathValue("id")
	c, err := s.store.GetClient(r.Context(), id)
	if err != nil {
		s.fail(w, r, clientStoreError(err, id))
		return
	}
	writeJSON(w, http.StatusOK, toClientJSON(c))
}

func (s *Server) handleUpdateClient(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, clientWriters) {
		return
	}
	id := r.PathValue("id")
	var b clientJSON
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if b.ClientID == "" {
		b.ClientID = id
	}
	if b.ClientID != id {
		s.fail(w, r, errorf(http.StatusBadRequest, "invalid_client", "client_id does not match the URL"))
		return
	}
	existing, err := s.store.GetClient(r.Context(), id)
	if err != nil {
		s.fail(w, r, clientStoreError(err, id))
		return
	}
	if b.ClientSecret != "" {
		s.fail(w, r, errorf(http.StatusBadRequest, "invalid_client", "Change a client's secret with PUT /oauth/clients/{id}/secret"))
		return
	}
	if len(existing.SecretHash) > 0 {
		b.ClientSecret = "unchanged" // only for validation: the secret is kept
	}
	if err := b.validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	c := b.toStore()
	updated, err := s.store.UpdateClient(r.Context(), c)
	s.clients.forget(id)
	if err != nil {
		s.fail(w, r, clientStoreError(err, id))
		return
	}
	writeJSON(w, http.StatusOK, toClientJSON(updated))
}

func (s *Server) handleDeleteClient(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, clientWriters) {
		return
	}
	id := r.PathValue("id")
	c, err := s.store.DeleteClient(r.Context(), id)
	s.clients.forget(id)
	if err != nil {
		s.fail(w, r, clientStoreError(err, id))
		return
	}
	writeJSON(w, http.StatusOK, toClientJSON(c))
}

// handleChangeClientSecret is PUT /oauth/clients/{id}/secret: an admin sets
// any client's secret; a client changes its own with oldSecret.
func (s *Server) handleChangeClientSecret(w http.ResponseWriter, r *http.Request) {
	c, err := s.bearer(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	admin := c.HasAnyScope(secretAdmins...)
	if !admin && !(c.IsClient() && c.ClientID == id) {
		s.fail(w, r, errInsufficientScope("Not permitted to change this client's secret"))
		return
	}
	var b struct {
		Secret    string `json:"secret"`
		OldSecret string `json:"oldSecret"`
	}
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if b.Secret == "" || len(b.Secret) > maxPasswordBytes {
		s.fail(w, r, errorf(http.StatusBadRequest, "invalid_client", "Secret must be between 1 and 72 bytes"))
		return
	}
	existing, err := s.store.GetClient(r.Context(), id)
	if err != nil {
		s.fail(w, r, clientStoreError(err, id))
		return
	}
	if !admin && (len(existing.SecretHash) == 0 || !s.secrets.check(existing.SecretHash, b.OldSecret)) {
		s.fail(w, r, errorf(http.StatusBadRequest, "invalid_client", "Previous secret is required and must be valid"))
		return
	}
	h, err := hashSecret(b.Secret, s.opts.BcryptCost)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	err = s.store.SetClientSecret(r.Context(), id, h)
	s.clients.forget(id)
	if err != nil {
		s.fail(w, r, clientStoreError(err, id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "message": "secret updated"})
}
