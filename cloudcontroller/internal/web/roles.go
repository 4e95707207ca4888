package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

type roleJSON struct {
	GUID          string            `json:"guid"`
	CreatedAt     string            `json:"created_at"`
	UpdatedAt     string            `json:"updated_at"`
	Type          string            `json:"type"`
	Relationships roleRelationships `json:"relationships"`
	Links         roleLinks         `json:"links"`
}

type roleRelationships struct {
	User         ToOne `json:"user"`
	Organization ToOne `json:"organization"`
	Space        ToOne `json:"space"`
}

type roleLinks struct {
	Self         Link  `json:"self"`
	User         Link  `json:"user"`
	Organization *Link `json:"organization,omitempty"`
	Space        *Link `json:"space,omitempty"`
}

func (s *Server) roleJSON(ro store.Role) roleJSON {
	links := roleLinks{
		Self: Link{Href: s.url("/v3/roles/" + ro.GUID)},
		User: Link{Href: s.url("/v3/users/" + ro.UserGUID)},
	}
	if ro.OrgGUID != "" {
		links.Organization = &Link{Href: s.url("/v3/organizations/" + ro.OrgGUID)}
	}
	if ro.SpaceGUID != "" {
		links.Space = &Link{Href: s.url("/v3/spaces/" + ro.SpaceGUID)}
	}
	return roleJSON{
		GUID: ro.GUID, CreatedAt: timestamp(ro.CreatedAt), UpdatedAt: timestamp(ro.UpdatedAt), Type: ro.Type,
		Relationships: roleRelationships{User: toOne(ro.UserGUID), Organization: toOne(ro.OrgGUID), Space: toOne(ro.SpaceGUID)},
		Links:         links,
	}
}

var roleListSpec = query.Spec{
	Filters:    []string{"guids", "types", "space_guids", "organization_guids", "user_guids"},
	Includes:   []string{"user", "space", "organization"},
	Timestamps: true,
}

func (s *Server) registerRoles() {
	s.authed("GET /v3/roles", s.listRoles)
	s.authed("POST /v3/roles", s.createRole)
	s.authed("GET /v3/roles/{guid}", s.getRole)
	s.authed("DELETE /v3/roles/{guid}", s.deleteRole)
}

// roleVisibility restricts f to roles in organizations (and their spaces)
// the caller can see.
func roleVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	orgs, err := a.VisibleOrgs(r.Context())
	if err != nil {
		return err
	}
	f.Where(`coalesce(t.organization_guid, (SELECT sp.organization_guid FROM spaces sp WHERE sp.guid = t.space_guid)) = ANY(?::uuid[])`, orgs)
	return nil
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), roleListSpec)
	if err != nil {
		return err
	}
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	for key, col := range map[string]string{"guids": "t.guid::text", "types": "t.type", "space_guids": "t.space_guid::text", "organization_guids": "t.organization_guid::text", "user_guids": "t.user_guid"} {
		if v, ok := l.Filters[key]; ok {
			f.Where(col+" = ANY(?)", v)
		}
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	if err := roleVisibility(r, a, &f); err != nil {
		return err
	}
	roles, total, err := s.store.ListRoles(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]roleJSON, 0, len(roles))
	var userGUIDs, spaceGUIDs, orgGUIDs []string
	for _, ro := range roles {
		out = append(out, s.roleJSON(ro))
		userGUIDs = append(userGUIDs, ro.UserGUID)
		if ro.SpaceGUID != "" {
			spaceGUIDs = append(spaceGUIDs, ro.SpaceGUID)
		}
		if ro.OrgGUID != "" {
			orgGUIDs = append(orgGUIDs, ro.OrgGUID)
		}
	}
	resp := list{Pagination: l.Pagination(s.url("/v3/roles"), total), Resources: out}
	if len(l.Include) > 0 {
		resp.Included = map[string]any{}
	}
	if l.Includes("user") {
		users, err := s.store.UsersByGUID(r.Context(), nonNil(userGUIDs))
		if err != nil {
			return err
		}
		inc := make([]userJSON, 0, len(users))
		for _, u := range users {
			inc = append(inc, s.userJSON(u))
		}
		resp.Included["users"] = inc
	}
	if l.Includes("space") {
		f := store.Filter{}
		f.Where("t.guid = ANY(?::uuid[])", nonNil(spaceGUIDs))
		spaces, _, err := s.store.ListSpaces(r.Context(), f)
		if err != nil {
			return err
		}
		inc := make([]spaceJSON, 0, len(spaces))
		for _, sp := range spaces {
			inc = append(inc, s.spaceJSON(sp))
		}
		resp.Included["spaces"] = inc
	}
	if l.Includes("organization") {
		f := store.Filter{}
		f.Where("t.guid = ANY(?::uuid[])", nonNil(orgGUIDs))
		orgs, _, err := s.store.ListOrgs(r.Context(), f)
		if err != nil {
			return err
		}
		inc := make([]orgJSON, 0, len(orgs))
		for _, o := range orgs {
			inc = append(inc, s.orgJSON(o))
		}
		resp.Included["organizations"] = inc
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request, a *Actor) error {
	f := store.Filter{Limit: 1}
	f.Where("t.guid::text = ?", r.PathValue("guid"))
	if err := roleVisibility(r, a, &f); err != nil {
		return err
	}
	roles, _, err := s.store.ListRoles(r.Context(), f)
	if err != nil {
		return err
	}
	if len(roles) == 0 {
		return apierr.NotFound("Role")
	}
	return writeJSON(w, http.StatusOK, s.roleJSON(roles[0]))
}

// userRef is a role's user: by guid, or by username with an optional
// origin.
type userRef struct {
	Data *struct {
		GUID     string `json:"guid"`
		Username string `json:"username"`
		Origin   string `json:"origin"`
	} `json:"data"`
}

type roleBody struct {
	Type          string `json:"type"`
	Relationships struct {
		User         userRef `json:"user"`
		Organization ToOne   `json:"organization"`
		Space        ToOne   `json:"space"`
	} `json:"relationships"`
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	var b roleBody
	if err := decode(r, &b); err != nil {
		return err
	}
	rel := b.Relationships
	orgRole, spaceRole := store.IsOrgRole(b.Type), store.IsSpaceRole(b.Type)
	switch {
	case !orgRole && !spaceRole:
		return apierr.Unprocessable("Type must be one of the allowed types ['organization_auditor', 'organization_manager', 'organization_billing_manager', 'organization_user', 'space_auditor', 'space_manager', 'space_developer', 'space_supporter']")
	case orgRole && (rel.Organization.Data == nil || rel.Space.Data != nil):
		return apierr.Unprocessable("Organization role must have an organization relationship and no space relationship")
	case spaceRole && (rel.Space.Data == nil || rel.Organization.Data != nil):
		return apierr.Unprocessable("Space role must have a space relationship and no organization relationship")
	case rel.User.Data == nil || (rel.User.Data.GUID == "" && rel.User.Data.Username == ""):
		return apierr.Unprocessable("Relationships User must have a guid or a username")
	case rel.User.Data.GUID != "" && rel.User.Data.Username != "":
		return apierr.Unprocessable("User cannot be specified by both guid and username")
	}
	ro := store.Role{Type: b.Type}
	var scopeKind, scopeName, orgGUID string
	if orgRole {
		o, err := s.visibleOrg(r, a, rel.Organization.Data.GUID)
		if err != nil {
			return apierr.Unprocessable("Invalid organization. Ensure that the organization exists and you have access to it.")
		}
		ro.OrgGUID, orgGUID, scopeKind, scopeName = o.GUID, o.GUID, "organization", o.Name
	} else {
		sp, err := s.visibleSpace(r, a, rel.Space.Data.GUID)
		if err != nil {
			return apierr.Unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
		}
		ro.SpaceGUID, orgGUID, scopeKind, scopeName = sp.GUID, sp.OrgGUID, "space", sp.Name
	}
	if err := s.canAssignRole(r, a, orgGUID, ro.SpaceGUID); err != nil {
		return err
	}
	user, err := s.resolveRoleUser(r, rel.User)
	if err != nil {
		return err
	}
	ro.UserGUID = user.GUID
	if spaceRole {
		// CF requires an organization role before a space role.
		uf := store.Filter{Limit: 1}
		uf.Where("t.user_guid = ? AND t.organization_guid::text = ?", user.GUID, orgGUID)
		if roles, _, err := s.store.ListRoles(r.Context(), uf); err != nil {
			return err
		} else if len(roles) == 0 {
			return apierr.Unprocessable("Users cannot be assigned roles in a space if they do not have a role in that space's organization.")
		}
	}
	created, err := s.store.CreateRole(r.Context(), ro)
	if errors.Is(err, store.ErrConflict) {
		name := user.Username
		if name == "" {
			name = user.GUID
		}
		return apierr.RoleExists(name, b.Type, scopeKind, scopeName)
	}
	if err != nil {
		return err
	}
	s.auditRole(r, a, created, orgGUID, "add")
	return writeJSON(w, http.StatusCreated, s.roleJSON(created))
}

// canAssignRole: admin, the org's manager, or (for space roles) the
// space's manager.
func (s *Server) canAssignRole(r *http.Request, a *Actor, orgGUID, spaceGUID string) error {
	if a.Admin() {
		return nil
	}
	ok, err := a.HasOrgRole(r.Context(), orgGUID, store.OrgManager)
	if err != nil || ok {
		return err
	}
	if spaceGUID != "" {
		if ok, err = a.HasSpaceRole(r.Context(), spaceGUID, store.SpaceManager); err != nil || ok {
			return err
		}
	}
	return apierr.NotAuthorized()
}

// resolveRoleUser finds (or, from UAA, creates) the CC user a role names.
func (s *Server) resolveRoleUser(r *http.Request, ref userRef) (store.User, error) {
	d := ref.Data
	if d.GUID != "" {
		u, err := s.store.GetUser(r.Context(), d.GUID)
		if errors.Is(err, store.ErrNotFound) {
			// A UAA user CC has not met yet (cf set-org-role with a guid).
			if s.users != nil {
				if name, origin, found, lerr := s.users.UserByID(r.Context(), d.GUID); lerr == nil && found {
					return s.store.EnsureUser(r.Context(), store.User{GUID: d.GUID, Username: name, Origin: origin})
				}
			}
			return u, apierr.Unprocessable("Invalid user. Ensure that the user exists and you have access to it.")
		}
		return u, err
	}
	u, err := s.store.GetUserByName(r.Context(), d.Username, d.Origin)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	guid, origin, err := s.lookupUAAUser(r.Context(), d.Username, d.Origin)
	if err != nil {
		return u, err
	}
	return s.store.EnsureUser(r.Context(), store.User{GUID: guid, Username: d.Username, Origin: origin})
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, a *Actor) error {
	ro, err := s.store.GetRole(r.Context(), r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Role")
	}
	if err != nil {
		return err
	}
	orgGUID := ro.OrgGUID
	if ro.SpaceGUID != "" {
		sp, err := s.store.GetSpace(r.Context(), ro.SpaceGUID)
		if err != nil {
			return err
		}
		orgGUID = sp.OrgGUID
	}
	if !a.GlobalReader() {
		orgs, err := a.VisibleOrgs(r.Context())
		if err != nil {
			return err
		}
		visible := false
		for _, o := range orgs {
			visible = visible || o == orgGUID
		}
		if !visible {
			return apierr.NotFound("Role")
		}
	}
	if err := a.requireWrite(); err != nil {
		return err
	}
	if err := s.canAssignRole(r, a, orgGUID, ro.SpaceGUID); err != nil {
		return err
	}
	return s.runJob(w, r, "role.delete", a, func() error {
		if err := s.store.DeleteRole(r.Context(), ro.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete role: %w", err)
		}
		s.auditRole(r, a, ro, orgGUID, "remove")
		return nil
	})
}
