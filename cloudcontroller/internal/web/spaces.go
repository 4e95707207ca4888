package web

import (
	"errors"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

type spaceJSON struct {
	GUID          string `json:"guid"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Name          string `json:"name"`
	Relationships struct {
		Organization ToOne `json:"organization"`
		Quota        ToOne `json:"quota"`
	} `json:"relationships"`
	Metadata Metadata   `json:"metadata"`
	Links    spaceLinks `json:"links"`
}

type spaceLinks struct {
	Self          Link `json:"self"`
	Organization  Link `json:"organization"`
	Features      Link `json:"features"`
	ApplyManifest Link `json:"apply_manifest"`
}

func (s *Server) spaceJSON(sp store.Space) spaceJSON {
	self := s.url("/v3/spaces/" + sp.GUID)
	out := spaceJSON{
		GUID: sp.GUID, CreatedAt: timestamp(sp.CreatedAt), UpdatedAt: timestamp(sp.UpdatedAt), Name: sp.Name,
		Metadata: toMetadata(sp.Metadata),
		Links: spaceLinks{
			Self:          Link{Href: self},
			Organization:  Link{Href: s.url("/v3/organizations/" + sp.OrgGUID)},
			Features:      Link{Href: self + "/features"},
			ApplyManifest: Link{Href: self + "/actions/apply_manifest", Method: "POST"},
		},
	}
	out.Relationships.Organization = toOne(sp.OrgGUID)
	out.Relationships.Quota = toOne(sp.QuotaGUID)
	return out
}

var spaceListSpec = query.Spec{
	Filters: []string{"names", "guids", "organization_guids"}, OrderBy: []string{"name"},
	LabelSelector: true, Timestamps: true, Includes: []string{"organization"},
}

func (s *Server) registerSpaces() {
	s.authed("GET /v3/spaces", s.listSpaces)
	s.authed("POST /v3/spaces", s.createSpace)
	s.authed("GET /v3/spaces/{guid}", s.getSpace)
	s.authed("PATCH /v3/spaces/{guid}", s.updateSpace)
	s.authed("DELETE /v3/spaces/{guid}", s.deleteSpace)
	s.authed("GET /v3/spaces/{guid}/features", s.listSpaceFeatures)
	s.authed("GET /v3/spaces/{guid}/features/{name}", s.getSpaceFeature)
	s.authed("PATCH /v3/spaces/{guid}/features/{name}", s.updateSpaceFeature)
}

// spaceVisibility restricts f to the spaces the caller can see.
func spaceVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	spaces, orgs, err := a.SpaceVisibility(r.Context())
	if err != nil {
		return err
	}
	f.Where("(t.guid = ANY(?::uuid[]) OR t.organization_guid = ANY(?::uuid[]))", spaces, orgs)
	return nil
}

func (s *Server) listSpaces(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), spaceListSpec)
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
	if v, ok := l.Filters["organization_guids"]; ok {
		f.Where("t.organization_guid = ANY(?::uuid[])", v)
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	if err := spaceVisibility(r, a, &f); err != nil {
		return err
	}
	spaces, total, err := s.store.ListSpaces(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]spaceJSON, 0, len(spaces))
	orgGUIDs := []string{}
	for _, sp := range spaces {
		out = append(out, s.spaceJSON(sp))
		orgGUIDs = append(orgGUIDs, sp.OrgGUID)
	}
	resp := list{Pagination: l.Pagination(s.url("/v3/spaces"), total), Resources: out}
	if l.Includes("organization") {
		of := store.Filter{}
		of.Where("t.guid = ANY(?::uuid[])", orgGUIDs)
		orgs, _, err := s.store.ListOrgs(r.Context(), of)
		if err != nil {
			return err
		}
		inc := make([]orgJSON, 0, len(orgs))
		for _, o := range orgs {
			inc = append(inc, s.orgJSON(o))
		}
		resp.Included = map[string]any{"organizations": inc}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// visibleSpace returns the space if the caller may see it, else 404.
func (s *Server) visibleSpace(r *http.Request, a *Actor, guid string) (store.Space, error) {
	sp, err := s.store.GetSpace(r.Context(), guid)
	if errors.Is(err, store.ErrNotFound) {
		return sp, apierr.NotFound("Space")
	}
	if err != nil || a.GlobalReader() {
		return sp, err
	}
	ok, err := a.HasSpaceRole(r.Context(), sp.GUID, store.SpaceDeveloper, store.SpaceManager, store.SpaceAuditor, store.SpaceSupporter)
	if err != nil {
		return sp, err
	}
	if !ok {
		if ok, err = a.HasOrgRole(r.Context(), sp.OrgGUID, store.OrgManager); err != nil {
			return sp, err
		}
	}
	if !ok {
		return sp, apierr.NotFound("Space")
	}
	return sp, nil
}

// canManageSpace: admin, the org's manager or the space's manager.
func (s *Server) canManageSpace(r *http.Request, a *Actor, sp store.Space) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	if a.Admin() {
		return nil
	}
	ok, err := a.HasOrgRole(r.Context(), sp.OrgGUID, store.OrgManager)
	if err != nil || ok {
		return err
	}
	if ok, err = a.HasSpaceRole(r.Context(), sp.GUID, store.SpaceManager); err != nil || ok {
		return err
	}
	return apierr.NotAuthorized()
}

func (s *Server) getSpace(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.spaceJSON(sp))
}

type spaceBody struct {
	Name          *string `json:"name"`
	Relationships *struct {
		Organization ToOne `json:"organization"`
	} `json:"relationships"`
	Metadata *metadataPatch `json:"metadata"`
}

func (s *Server) createSpace(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	var b spaceBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name must be a string")
	}
	if err := validName("Space", *b.Name); err != nil {
		return err
	}
	if b.Relationships == nil || b.Relationships.Organization.Data == nil || b.Relationships.Organization.Data.GUID == "" {
		return apierr.Unprocessable("Relationships Organization must be a relationship object with a guid")
	}
	orgGUID := b.Relationships.Organization.Data.GUID
	if _, err := s.visibleOrg(r, a, orgGUID); err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return apierr.Unprocessable("Invalid organization. Ensure the organization exists and you have access to it.")
		}
		return err
	}
	if !a.Admin() {
		ok, err := a.HasOrgRole(r.Context(), orgGUID, store.OrgManager)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotAuthorized()
		}
	}
	sp := store.Space{Name: *b.Name, OrgGUID: orgGUID, AllowSSH: true}
	if err := b.Metadata.apply(&sp.Metadata); err != nil {
		return err
	}
	created, err := s.store.CreateSpace(r.Context(), sp)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists("Name must be unique per organization")
	}
	if err != nil {
		return err
	}
	s.audit(r, a, spaceEvent(eventSpaceCreate, created, b))
	return writeJSON(w, http.StatusCreated, s.spaceJSON(created))
}

func (s *Server) updateSpace(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := s.canManageSpace(r, a, sp); err != nil {
		return err
	}
	var b spaceBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Relationships != nil {
		return apierr.Unprocessable("Unknown field(s): 'relationships'")
	}
	if b.Name != nil {
		if err := validName("Space", *b.Name); err != nil {
			return err
		}
		sp.Name = *b.Name
	}
	if err := b.Metadata.apply(&sp.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateSpace(r.Context(), sp)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists("Name must be unique per organization")
	}
	if err != nil {
		return err
	}
	s.audit(r, a, spaceEvent(eventSpaceUpdate, updated, b))
	return writeJSON(w, http.StatusOK, s.spaceJSON(updated))
}

func (s *Server) deleteSpace(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := a.requireWrite(); err != nil {
		return err
	}
	if !a.Admin() {
		ok, err := a.HasOrgRole(r.Context(), sp.OrgGUID, store.OrgManager)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotAuthorized()
		}
	}
	s.audit(r, a, spaceEvent(eventSpaceDeleteRequest, sp, map[string]any{"recursive": true}))
	return s.enqueue(w, r, a, "space.delete", guidPayload{GUID: sp.GUID})
}

type spaceFeature struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

func sshFeature(sp store.Space) spaceFeature {
	return spaceFeature{Name: "ssh", Description: "Enable SSHing into apps in the space.", Enabled: sp.AllowSSH}
}

func (s *Server) listSpaceFeatures(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"resources": []spaceFeature{sshFeature(sp)}})
}

func (s *Server) getSpaceFeature(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if r.PathValue("name") != "ssh" {
		return apierr.NotFound("Feature")
	}
	return writeJSON(w, http.StatusOK, sshFeature(sp))
}

func (s *Server) updateSpaceFeature(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if r.PathValue("name") != "ssh" {
		return apierr.NotFound("Feature")
	}
	if err := s.canManageSpace(r, a, sp); err != nil {
		return err
	}
	var b struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Enabled == nil {
		return apierr.Unprocessable("Enabled must be a boolean")
	}
	sp.AllowSSH = *b.Enabled
	updated, err := s.store.UpdateSpace(r.Context(), sp)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sshFeature(updated))
}

// inVisibleSpace finishes a lookup of a space-scoped resource: one that is
// not found, or lives in a space the caller cannot see, is 404 "<name> not
// found" (CF never says it exists).
func inVisibleSpace[T any](s *Server, r *http.Request, a *Actor, name string, v T, err error, spaceGUID func(T) string) (T, store.Space, error) {
	if errors.Is(err, store.ErrNotFound) {
		return v, store.Space{}, apierr.NotFound(name)
	}
	if err != nil {
		return v, store.Space{}, err
	}
	sp, err := s.visibleSpace(r, a, spaceGUID(v))
	if err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return v, sp, apierr.NotFound(name)
		}
		return v, sp, err
	}
	return v, sp, nil
}
