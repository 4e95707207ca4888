package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

type userJSON struct {
	GUID             string          `json:"guid"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
	Username         *string         `json:"username"`
	PresentationName string          `json:"presentation_name"`
	Origin           *string         `json:"origin"`
	Metadata         Metadata        `json:"metadata"`
	Links            map[string]Link `json:"links"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) userJSON(u store.User) userJSON {
	pres := u.Username
	if pres == "" {
		pres = u.GUID
	}
	return userJSON{
		GUID: u.GUID, CreatedAt: timestamp(u.CreatedAt), UpdatedAt: timestamp(u.UpdatedAt),
		Username: strOrNil(u.Username), PresentationName: pres, Origin: strOrNil(u.Origin),
		Metadata: toMetadata(u.Metadata), Links: map[string]Link{"self": {Href: s.url("/v3/users/" + u.GUID)}},
	}
}

var userListSpec = query.Spec{Filters: []string{"guids", "usernames", "origins", "partial_usernames"}, LabelSelector: true, Timestamps: true}

func (s *Server) registerUsers() {
	s.authed("GET /v3/users", s.listUsers)
	s.authed("POST /v3/users", s.createUser)
	s.authed("GET /v3/users/{guid}", s.getUser)
	s.authed("PATCH /v3/users/{guid}", s.updateUser)
	s.authed("DELETE /v3/users/{guid}", s.deleteUser)
	s.authed("GET /v3/organizations/{guid}/users", s.listOrgUsers)
	s.authed("GET /v3/spaces/{guid}/users", s.listSpaceUsers)
}

// userVisibility restricts f to users the caller can see: itself and
// everyone with a role in an organization it can see.
func userVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	orgs, err := a.VisibleOrgs(r.Context())
	if err != nil {
		return err
	}
	f.Where(`(t.guid = ? OR t.guid IN (
		SELECT ro.user_guid FROM roles ro LEFT JOIN spaces sp ON sp.guid = ro.space_guid
		WHERE coalesce(ro.organization_guid, sp.organization_guid) = ANY(?::uuid[])))`, a.GUID, orgs)
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, a *Actor) error {
	return s.listUsersIn(w, r, a, "/v3/users", nil)
}

// listOrgUsers is GET /v3/organizations/:guid/users: users with a role in
// the organization or one of its spaces.
func (s *Server) listOrgUsers(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return s.listUsersIn(w, r, a, "/v3/organizations/"+o.GUID+"/users", func(f *store.Filter) {
		f.Where(`t.guid IN (SELECT ro.user_guid FROM roles ro LEFT JOIN spaces sp ON sp.guid = ro.space_guid
			WHERE ro.organization_guid = ?::uuid OR sp.organization_guid = ?::uuid)`, o.GUID, o.GUID)
	})
}

// listSpaceUsers is GET /v3/spaces/:guid/users: users with a role in the
// space.
func (s *Server) listSpaceUsers(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return s.listUsersIn(w, r, a, "/v3/spaces/"+sp.GUID+"/users", func(f *store.Filter) {
		f.Where(`t.guid IN (SELECT ro.user_guid FROM roles ro WHERE ro.space_guid = ?::uuid)`, sp.GUID)
	})
}

// listUsersIn lists users at path, narrowed by scope when set.
func (s *Server) listUsersIn(w http.ResponseWriter, r *http.Request, a *Actor, path string, scope func(*store.Filter)) error {
	l, err := query.Parse(r.URL.Query(), userListSpec)
	if err != nil {
		return err
	}
	if l.Has("origins") && !l.Has("usernames") && !l.Has("partial_usernames") {
		return apierr.BadQueryParameter("Origins filter cannot be provided without usernames or partial_usernames filter.")
	}
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["guids"]; ok {
		f.In("t.guid", v)
	}
	if v, ok := l.Filters["usernames"]; ok {
		f.In("t.username", v)
	}
	if v, ok := l.Filters["origins"]; ok {
		f.In("t.origin", v)
	}
	if v, ok := l.Filters["partial_usernames"]; ok {
		f.Where("t.username ILIKE ANY(?)", likePatterns(v))
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	if err := userVisibility(r, a, &f); err != nil {
		return err
	}
	if scope != nil {
		scope(&f)
	}
	users, total, err := s.store.ListUsers(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, s.userJSON(u))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url(path), total), Resources: out})
}

// likePatterns turns substrings into ILIKE patterns with wildcards escaped.
func likePatterns(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		esc := make([]rune, 0, len(s))
		for _, r := range s {
			if r == '%' || r == '_' || r == '\\' {
				esc = append(esc, '\\')
			}
			esc = append(esc, r)
		}
		out[i] = "%" + string(esc) + "%"
	}
	return out
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, a *Actor) error {
	f := store.Filter{Limit: 1}
	f.In("t.guid", []string{r.PathValue("guid")})
	if err := userVisibility(r, a, &f); err != nil {
		return err
	}
	users, _, err := s.store.ListUsers(r.Context(), f)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return apierr.NotFound("User")
	}
	return writeJSON(w, http.StatusOK, s.userJSON(users[0]))
}

type userBody struct {
	GUID     *string        `json:"guid"`
	Username *string        `json:"username"`
	Origin   *string        `json:"origin"`
	Metadata *metadataPatch `json:"metadata"`
}

// createUser is POST /v3/users: by UAA guid (cf create-user), or by
// username and origin looked up in UAA.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if !a.Admin() {
		return apierr.NotAuthorized()
	}
	var b userBody
	if err := decode(r, &b); err != nil {
		return err
	}
	u := store.User{}
	switch {
	case b.GUID != nil && b.Username == nil && b.Origin == nil:
		if *b.GUID == "" || len(*b.GUID) > 250 {
			return apierr.Unprocessable("Guid must be between 1 and 250 characters")
		}
		u.GUID = *b.GUID
		if s.users != nil {
			if name, origin, found, err := s.users.UserByID(r.Context(), u.GUID); err == nil && found {
				u.Username, u.Origin = name, origin
			}
		}
	case b.GUID == nil && b.Username != nil && b.Origin != nil:
		guid, origin, err := s.lookupUAAUser(r.Context(), *b.Username, *b.Origin)
		if err != nil {
			return err
		}
		u.GUID, u.Username, u.Origin = guid, *b.Username, origin
	default:
		return apierr.Unprocessable("Either guid, or username and origin, must be given")
	}
	if err := b.Metadata.apply(&u.Metadata); err != nil {
		return err
	}
	created, err := s.store.CreateUser(r.Context(), u)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(fmt.Sprintf("User with guid '%s' already exists.", u.GUID))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.userJSON(created))
}

// lookupUAAUser finds a UAA user by name; origin "" means any.
func (s *Server) lookupUAAUser(ctx context.Context, username, origin string) (guid, foundOrigin string, err error) {
	if s.users == nil {
		return "", "", apierr.ServiceUnavailable("The UAA service is not configured")
	}
	guid, foundOrigin, found, err := s.users.LookupUser(ctx, username, origin)
	if err != nil {
		return "", "", apierr.ServiceUnavailable("The UAA service is currently unavailable")
	}
	if !found {
		if origin == "" {
			origin = "uaa"
		}
		return "", "", apierr.Unprocessable(fmt.Sprintf("No user exists with the username '%s' and origin '%s'.", username, origin))
	}
	return guid, foundOrigin, nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if !a.Admin() {
		return apierr.NotAuthorized()
	}
	u, err := s.store.GetUser(r.Context(), r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("User")
	}
	if err != nil {
		return err
	}
	var b struct {
		Metadata *metadataPatch `json:"metadata"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := b.Metadata.apply(&u.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateUserMetadata(r.Context(), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userJSON(updated))
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if !a.Admin() {
		return apierr.NotAuthorized()
	}
	u, err := s.store.GetUser(r.Context(), r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("User")
	}
	if err != nil {
		return err
	}
	return s.runJob(w, r, "user.delete", a, func() error {
		s.known.forget(u.GUID)
		return s.store.DeleteUser(r.Context(), u.GUID)
	})
}
