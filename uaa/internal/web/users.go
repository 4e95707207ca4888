package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// Scopes that allow the SCIM user and group APIs.
var (
	scimReaders = []string{"scim.read", "uaa.admin"}
	scimWriters = []string{"scim.write", "uaa.admin"}
	scimCreator = []string{"scim.write", "scim.create", "uaa.admin"}
)

// userBody is the JSON a client sends to create or replace a user.
type userBody struct {
	UserName   string      `json:"userName"`
	Password   string      `json:"password"`
	Origin     string      `json:"origin"`
	ExternalID string      `json:"externalId"`
	Name       scimName    `json:"name"`
	Emails     []scimEmail `json:"emails"`
	Active     *bool       `json:"active"`
	Verified   *bool       `json:"verified"`
}

// maxPasswordBytes is bcrypt's limit.
const maxPasswordBytes = 72

func (b *userBody) validate(requirePassword bool) error {
	b.UserName = strings.TrimSpace(b.UserName)
	if b.UserName == "" {
		return scimError(http.StatusBadRequest, "invalid_scim_resource", "A username must be provided.")
	}
	if len(b.UserName) > 255 {
		return scimError(http.StatusBadRequest, "invalid_scim_resource", "Username must be at most 255 characters.")
	}
	if b.primaryEmail() == "" {
		return scimError(http.StatusBadRequest, "invalid_scim_resource", "An email must be provided.")
	}
	if requirePassword && b.Password == "" {
		return scimError(http.StatusBadRequest, "invalid_password", "Password must be provided.")
	}
	if len(b.Password) > maxPasswordBytes {
		return scimError(http.StatusBadRequest, "invalid_password", "Password must be no more than 72 bytes in length.")
	}
	if b.Origin == "" {
		b.Origin = "uaa"
	}
	return nil
}

func (b *userBody) primaryEmail() string {
	for _, e := range b.Emails {
		if e.Primary && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range b.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	return ""
}

// userFilterAttrs is not here: the store owns the mapping of SCIM
// attributes to columns.

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	c, err := s.bearer(r)
	if err == nil {
		err = requireScope(c, scimReaders...)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := parseListParams(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	users, total, err := s.store.ListUsers(r.Context(), store.ListOptions{
		Filter: p.Filter, SortBy: p.SortBy, Descending: p.Descending, StartIndex: p.StartIndex, Count: p.Count,
	})
	if err != nil {
		s.fail(w, r, listError(err))
		return
	}
	list := scimList{Resources: []any{}, StartIndex: p.StartIndex, ItemsPerPage: len(users), TotalResults: total, Schemas: scimSchemas}
	for _, u := range users {
		res, err := project(toSCIMUser(u), p.Attributes)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		list.Resources = append(list.Resources, res)
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	c, err := s.bearer(r)
	if err == nil {
		err = requireScope(c, scimCreator...)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b userBody
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := b.validate(false); err != nil {
		s.fail(w, r, err)
		return
	}
	u := store.User{
		Username: b.UserName, Origin: b.Origin, Email: b.primaryEmail(),
		GivenName: b.Name.GivenName, FamilyName: b.Name.FamilyName,
		Active: b.Active == nil || *b.Active, Verified: b.Verified == nil || *b.Verified,
	}
	if b.Password != "" {
		if u.PasswordHash, err = hashSecret(b.Password, s.opts.BcryptCost); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	created, err := s.store.CreateUser(r.Context(), u)
	if errors.Is(err, store.ErrConflict) {
		e := scimError(http.StatusConflict, "scim_resource_already_exists", "Username already in use: "+b.UserName)
		if existing, gerr := s.store.GetUserByName(r.Context(), b.UserName, b.Origin); gerr == nil {
			writeJSON(w, e.Status, struct {
				*oauthError
				UserID string `json:"user_id"`
			}{e, existing.ID})
			return
		}
		writeError(w, e)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, name := range s.opts.DefaultGroups {
		g, err := s.store.EnsureGroup(r.Context(), name, "")
		if err == nil {
			err = s.store.EnsureMember(r.Context(), g.ID, created.ID)
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
	}
	if created, err = s.store.GetUser(r.Context(), created.ID); err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(created.Version))
	writeJSON(w, http.StatusCreated, toSCIMUser(created))
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) {
	c, err := s.bearer(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if c.UserID != id {
		if err := requireScope(c, scimReaders...); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	u, err := s.store.GetUser(r.Context(), id)
	if err != nil {
		s.fail(w, r, storeError(err, "User "+id))
		return
	}
	w.Header().Set("ETag", etag(u.Version))
	writeJSON(w, http.StatusOK, toSCIMUser(u))
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) {
	c, err := s.bearer(r)
	if err == nil {
		err = requireScope(c, scimWriters...)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	version, err := ifMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b userBody
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := b.validate(false); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	u, err := s.store.GetUser(r.Context(), id)
	if err != nil {
		s.fail(w, r, storeError(err, "User "+id))
		return
	}
	u.Username, u.Origin, u.Email = b.UserName, b.Origin, b.primaryEmail()
	u.GivenName, u.FamilyName = b.Name.GivenName, b.Name.FamilyName
	if b.Active != nil {
		u.Active = *b.Active
	}
	if b.Verified != nil {
		u.Verified = *b.Verified
	}
	updated, err := s.store.UpdateUser(r.Context(), u, version)
	if err != nil {
		s.fail(w, r, storeError(err, "User "+id))
		return
	}
	w.Header().Set("ETag", etag(updated.Version))
	writeJSON(w, http.StatusOK, toSCIMUser(updated))
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	c, err := s.bearer(r)
	if err == nil {
		err = requireScope(c, scimWriters...)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	u, err := s.store.DeleteUser(r.Context(), id)
	if err != nil {
		s.fail(w, r, storeError(err, "User "+id))
		return
	}
	writeJSON(w, http.StatusOK, toSCIMUser(u))
}

// handleChangePassword is PUT /Users/{id}/password: a user changes their
// own password (oldPassword required), or an admin sets anyone's.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	c, err := s.bearer(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	self := c.UserID == id
	admin := c.HasAnyScope("uaa.admin", "scim.write")
	if !self && !admin {
		s.fail(w, r, errInsufficientScope("Not permitted to change another user's password"))
		return
	}
	var b struct {
		Password    string `json:"password"`
		OldPassword string `json:"oldPassword"`
	}
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if b.Password == "" || len(b.Password) > maxPasswordBytes {
		s.fail(w, r, scimError(http.StatusBadRequest, "invalid_password", "Password must be between 1 and 72 bytes in length."))
		return
	}
	u, err := s.store.GetUser(r.Context(), id)
	if err != nil {
		s.fail(w, r, storeError(err, "User "+id))
		return
	}
	if self && !admin {
		if b.OldPassword == "" || s.checkPassword(u.PasswordHash, b.OldPassword) != nil {
			s.fail(w, r, scimError(http.StatusUnauthorized, "unauthorized", "Old password is incorrect"))
			return
		}
	}
	hash, err := hashSecret(b.Password, s.opts.BcryptCost)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.store.SetPassword(r.Context(), id, hash); err != nil {
		s.fail(w, r, storeError(err, "User "+id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "message": "password updated"})
}

// storeError maps store sentinels to SCIM errors; others pass through
// (and become 500s).
func storeError(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return scimError(http.StatusNotFound, "scim_resource_not_found", what+" does not exist")
	case errors.Is(err, store.ErrVersionMismatch):
		return scimError(http.StatusPreconditionFailed, "optimistic_locking_failure", "Version mismatch for "+what)
	case errors.Is(err, store.ErrConflict):
		return scimError(http.StatusConflict, "scim_resource_already_exists", what+" already exists")
	}
	return err
}
