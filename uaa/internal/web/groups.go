package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/anvilpaas/anvil/uaa/internal/scimfilter"
	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// groupBody is the JSON a client sends to create or replace a group.
type groupBody struct {
	DisplayName string       `json:"displayName"`
	Description string       `json:"description"`
	Members     []scimMember `json:"members"`
}

func (b *groupBody) validate() error {
	b.DisplayName = strings.TrimSpace(b.DisplayName)
	if b.DisplayName == "" {
		return scimError(http.StatusBadRequest, "invalid_scim_resource", "A group name must be provided.")
	}
	if len(b.DisplayName) > 255 {
		return scimError(http.StatusBadRequest, "invalid_scim_resource", "A group name must be at most 255 characters.")
	}
	for _, m := range b.Members {
		if m.Value == "" {
			return scimError(http.StatusBadRequest, "invalid_scim_resource", "A member must have a value.")
		}
		if m.Type != "" && !strings.EqualFold(m.Type, "USER") {
			return scimError(http.StatusBadRequest, "invalid_scim_resource", "Only USER members are supported.")
		}
	}
	return nil
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request, scopes []string) bool {
	c, err := s.bearer(r)
	if err == nil {
		err = requireScope(c, scopes...)
	}
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	return true
}

func (s *Server) handleListGroups(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, scimReaders) {
		return
	}
	p, err := parseListParams(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	groups, total, err := s.store.ListGroups(r.Context(), store.ListOptions{
		Filter: p.Filter, SortBy: p.SortBy, Descending: p.Descending, StartIndex: p.StartIndex, Count: p.Count,
	})
	if err != nil {
		s.fail(w, r, listError(err))
		return
	}
	list := scimList{Resources: []any{}, StartIndex: p.StartIndex, ItemsPerPage: len(groups), TotalResults: total, Schemas: scimSchemas}
	for _, g := range groups {
		res, err := project(toSCIMGroup(g), p.Attributes)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		list.Resources = append(list.Resources, res)
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleCreateGroup(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, scimWriters) {
		return
	}
	var b groupBody
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := b.validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	members := make([]store.Member, 0, len(b.Members))
	for _, m := range b.Members {
		members = append(members, memberOf(m))
	}
	g, err := s.store.CreateGroup(r.Context(), store.Group{DisplayName: b.DisplayName, Description: b.Description, Members: members})
	if errors.Is(err, store.ErrConflict) {
		s.fail(w, r, scimError(http.StatusConflict, "scim_resource_already_exists", "A group with displayName: "+b.DisplayName+" already exists."))
		return
	}
	if err != nil {
		s.fail(w, r, storeError(err, "Group member"))
		return
	}
	w.Header().Set("ETag", etag(g.Version))
	writeJSON(w, http.StatusCreated, toSCIMGroup(g))
}

func memberOf(m scimMember) store.Member {
	origin := m.Origin
	if origin == "" {
		origin = "uaa"
	}
	return store.Member{ID: m.Value, Type: "USER", Origin: origin}
}

func (s *Server) handleGetGroup(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, scimReaders) {
		return
	}
	id := r.PathValue("id")
	g, err := s.store.GetGroup(r.Context(), id)
	if err != nil {
		s.fail(w, r, storeError(err, "Group "+id))
		return
	}
	w.Header().Set("ETag", etag(g.Version))
	writeJSON(w, http.StatusOK, toSCIMGroup(g))
}

func (s *Server) handleUpdateGroup(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, scimWriters) {
		return
	}
	version, err := ifMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b groupBody
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := b.validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	g, err := s.store.GetGroup(r.Context(), id)
	if err != nil {
		s.fail(w, r, storeError(err, "Group "+id))
		return
	}
	g.DisplayName, g.Description = b.DisplayName, b.Description
	// Replace the members with the body's, as UAA's PUT does.
	g.Members = make([]store.Member, 0, len(b.Members))
	for _, m := range b.Members {
		g.Members = append(g.Members, memberOf(m))
	}
	if g, err = s.store.UpdateGroup(r.Context(), g, version); err != nil {
		s.fail(w, r, storeError(err, "Group "+id))
		return
	}
	w.Header().Set("ETag", etag(g.Version))
	writeJSON(w, http.StatusOK, toSCIMGroup(g))
}

func (s *Server) handleDeleteGroup(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, scimWriters) {
		return
	}
	id := r.PathValue("id")
	g, err := s.store.DeleteGroup(r.Context(), id)
	if err != nil {
		s.fail(w, r, storeError(err, "Group "+id))
		return
	}
	writeJSON(w, http.StatusOK, toSCIMGroup(g))
}

func (s *Server) handleListMembers(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, scimReaders) {
		return
	}
	id := r.PathValue("id")
	g, err := s.store.GetGroup(r.Context(), id)
	if err != nil {
		s.fail(w, r, storeError(err, "Group "+id))
		return
	}
	out := make([]scimMember, 0, len(g.Members))
	for _, m := range g.Members {
		out = append(out, toSCIMMember(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAddMember(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, scimWriters) {
		return
	}
	var m scimMember
	if err := decodeJSON(r, &m); err != nil {
		s.fail(w, r, err)
		return
	}
	if m.Value == "" || (m.Type != "" && !strings.EqualFold(m.Type, "USER")) {
		s.fail(w, r, scimError(http.StatusBadRequest, "invalid_scim_resource", "A USER member with a value is required."))
		return
	}
	id := r.PathValue("id")
	member, err := s.store.AddMember(r.Context(), id, memberOf(m))
	if errors.Is(err, store.ErrConflict) {
		s.fail(w, r, scimError(http.StatusConflict, "member_already_exists", "Member "+m.Value+" already exists in group "+id))
		return
	}
	if err != nil {
		s.fail(w, r, storeError(err, "Group or member"))
		return
	}
	writeJSON(w, http.StatusCreated, toSCIMMember(member))
}

func (s *Server) handleRemoveMember(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, scimWriters) {
		return
	}
	id, member := r.PathValue("id"), r.PathValue("member")
	m, err := s.store.RemoveMember(r.Context(), id, member)
	if err != nil {
		s.fail(w, r, storeError(err, "Member "+member+" in group "+id))
		return
	}
	writeJSON(w, http.StatusOK, toSCIMMember(m))
}

// listError maps a list failure: an unknown filter attribute is the
// caller's mistake.
func listError(err error) error {
	var fe *scimfilter.Error
	if errors.As(err, &fe) {
		return scimError(http.StatusBadRequest, "invalid_filter", "Invalid filter expression: "+fe.Error())
	}
	if errors.Is(err, scimfilter.ErrInvalidFilter) || errors.Is(err, store.ErrInvalid) {
		return scimError(http.StatusBadRequest, "invalid_filter", err.Error())
	}
	return err
}
