package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

type stackJSON struct {
	GUID             string          `json:"guid"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
	Name             string          `json:"name"`
	Description      *string         `json:"description"`
	State            string          `json:"state"`
	StateReason      *string         `json:"state_reason"`
	RunRootfsImage   string          `json:"run_rootfs_image"`
	BuildRootfsImage string          `json:"build_rootfs_image"`
	Default          bool            `json:"default"`
	Metadata         Metadata        `json:"metadata"`
	Links            map[string]Link `json:"links"`
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) stackJSON(st store.Stack) stackJSON {
	return stackJSON{
		GUID: st.GUID, CreatedAt: timestamp(st.CreatedAt), UpdatedAt: timestamp(st.UpdatedAt), Name: st.Name,
		Description: nullString(st.Description), State: st.State, StateReason: nullString(st.StateReason),
		RunRootfsImage: st.Name, BuildRootfsImage: st.Name, Default: st.Default,
		Metadata: toMetadata(st.Metadata),
		Links:    map[string]Link{"self": {Href: s.url("/v3/stacks/" + st.GUID)}},
	}
}

var stackStates = []string{store.StackActive, store.StackRestricted, store.StackDeprecated, store.StackDisabled}

var stackListSpec = query.Spec{Filters: []string{"names", "guids", "default"}, OrderBy: []string{"name"}, LabelSelector: true, Timestamps: true}

func (s *Server) registerStacks() {
	s.authed("GET /v3/stacks", s.listStacks)
	s.authed("POST /v3/stacks", s.createStack)
	s.authed("GET /v3/stacks/{guid}", s.getStack)
	s.authed("PATCH /v3/stacks/{guid}", s.updateStack)
	s.authed("DELETE /v3/stacks/{guid}", s.deleteStack)
}

func (s *Server) listStacks(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), stackListSpec)
	if err != nil {
		return err
	}
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["names"]; ok {
		f.In("t.name", v)
	}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["default"]; ok {
		if len(v) != 1 || (v[0] != "true" && v[0] != "false") {
			return apierr.BadQueryParameter("Default must be a boolean")
		}
		f.Where("t.is_default = ?", v[0] == "true")
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	stacks, total, err := s.store.ListStacks(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]stackJSON, 0, len(stacks))
	for _, st := range stacks {
		out = append(out, s.stackJSON(st))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/stacks"), total), Resources: out})
}

func (s *Server) stack(r *http.Request) (store.Stack, error) {
	st, err := s.store.GetStack(r.Context(), r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) {
		return st, apierr.NotFound("Stack")
	}
	return st, err
}

func (s *Server) getStack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	st, err := s.stack(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.stackJSON(st))
}

type stackBody struct {
	Name        *string        `json:"name"`
	Description *string        `json:"description"`
	State       *string        `json:"state"`
	StateReason *string        `json:"state_reason"`
	Metadata    *metadataPatch `json:"metadata"`
}

// check validates the fields of a create (create) or update body.
func (b stackBody) check(create bool) error {
	var p problems
	if create {
		if b.Name == nil || strings.TrimSpace(*b.Name) == "" {
			p.add("Name can't be blank")
		} else if utf8.RuneCountInString(*b.Name) > 250 {
			p.add("Name is too long (maximum is 250 characters)")
		}
		if b.Description != nil && utf8.RuneCountInString(*b.Description) > 250 {
			p.add("Description is too long (maximum is 250 characters)")
		}
	} else {
		if b.Name != nil {
			p.add("Unknown field(s): 'name'")
		}
		if b.Description != nil {
			p.add("Unknown field(s): 'description'")
		}
	}
	if b.State != nil && !slices.Contains(stackStates, *b.State) {
		p.add("State must be one of %s", strings.Join(stackStates, ", "))
	}
	if b.StateReason != nil && utf8.RuneCountInString(*b.StateReason) > 5000 {
		p.add("State reason is too long (maximum is 5000 characters)")
	}
	return p.err()
}

// requireAdmin fails with 403 unless the caller is an admin.
func requireAdmin(a *Actor) error {
	if !a.Admin() {
		return apierr.NotAuthorized()
	}
	return nil
}

func (s *Server) createStack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	var b stackBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := b.check(true); err != nil {
		return err
	}
	st := store.Stack{Name: *b.Name, State: store.StackActive}
	if b.Description != nil {
		st.Description = *b.Description
	}
	if b.State != nil {
		st.State = *b.State
	}
	if b.StateReason != nil {
		st.StateReason = *b.StateReason
	}
	if err := b.Metadata.apply(&st.Metadata); err != nil {
		return err
	}
	created, err := s.store.CreateStack(r.Context(), st)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists("Name must be unique")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.stackJSON(created))
}

func (s *Server) updateStack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	st, err := s.stack(r)
	if err != nil {
		return err
	}
	if err := requireAdmin(a); err != nil {
		return err
	}
	var b stackBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := b.check(false); err != nil {
		return err
	}
	if b.State != nil {
		st.State = *b.State
	}
	if b.StateReason != nil {
		st.StateReason = *b.StateReason
	}
	if err := b.Metadata.apply(&st.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateStack(r.Context(), st)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.stackJSON(updated))
}

func (s *Server) deleteStack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	st, err := s.stack(r)
	if err != nil {
		return err
	}
	if err := requireAdmin(a); err != nil {
		return err
	}
	// Apps fall back to the default stack; the configuration names it and
	// bootstrap would bring it back at the next start anyway.
	if st.Default {
		return apierr.Unprocessable(fmt.Sprintf("Cannot delete the default stack '%s'.", st.Name))
	}
	if err := s.store.DeleteStack(r.Context(), st.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
