package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

type spaceQuotaJSON struct {
	GUID          string             `json:"guid"`
	CreatedAt     string             `json:"created_at"`
	UpdatedAt     string             `json:"updated_at"`
	Name          string             `json:"name"`
	Apps          appsLimitsJSON     `json:"apps"`
	Services      servicesLimitsJSON `json:"services"`
	Routes        routesLimitsJSON   `json:"routes"`
	Relationships struct {
		Organization ToOne        `json:"organization"`
		Spaces       quotaRelJSON `json:"spaces"`
	} `json:"relationships"`
	Links map[string]Link `json:"links"`
}

// spaceQuotaJSON renders q; spaces are the spaces with the quota that the
// caller can see.
func (s *Server) spaceQuotaJSON(q store.SpaceQuota, spaces []string) spaceQuotaJSON {
	out := spaceQuotaJSON{
		GUID: q.GUID, CreatedAt: timestamp(q.CreatedAt), UpdatedAt: timestamp(q.UpdatedAt), Name: q.Name,
		Apps: appsLimits(q.Limits), Services: servicesLimits(q.Limits), Routes: routesLimits(q.Limits),
		Links: map[string]Link{
			"self":         {Href: s.url("/v3/space_quotas/" + q.GUID)},
			"organization": {Href: s.url("/v3/organizations/" + q.OrgGUID)},
		},
	}
	out.Relationships.Organization = toOne(q.OrgGUID)
	out.Relationships.Spaces = quotaRel(spaces)
	return out
}

var spaceQuotaListSpec = query.Spec{Filters: []string{"guids", "names", "organization_guids", "space_guids"}, OrderBy: []string{"name"}, Timestamps: true}

func (s *Server) registerSpaceQuotas() {
	s.authed("GET /v3/space_quotas", s.listSpaceQuotas)
	s.authed("POST /v3/space_quotas", s.createSpaceQuota)
	s.authed("GET /v3/space_quotas/{guid}", s.getSpaceQuota)
	s.authed("PATCH /v3/space_quotas/{guid}", s.updateSpaceQuota)
	s.authed("DELETE /v3/space_quotas/{guid}", s.deleteSpaceQuota)
	s.authed("POST /v3/space_quotas/{guid}/relationships/spaces", s.applySpaceQuota)
	s.authed("DELETE /v3/space_quotas/{guid}/relationships/spaces/{space_guid}", s.removeSpaceQuota)
}

// spaceQuotaVisibility restricts f to the space quotas the caller can
// see, as CF does: those of organizations it manages, and those applied to
// a space where it has a role.
func spaceQuotaVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	spaces, managed, err := a.SpaceVisibility(r.Context())
	if err != nil {
		return err
	}
	f.Where("(t.organization_guid = ANY(?::uuid[]) OR t.guid IN (SELECT sp.space_quota_guid FROM spaces sp WHERE sp.guid = ANY(?::uuid[])))", managed, spaces)
	return nil
}

// quotaSpaces returns, per quota, the spaces having it that the caller can
// see.
func (s *Server) quotaSpaces(r *http.Request, a *Actor, quotaGUIDs []string) (store.QuotaMembers, error) {
	f := store.Filter{}
	f.Where("t.space_quota_guid = ANY(?::uuid[])", quotaGUIDs)
	if err := spaceVisibility(r, a, &f); err != nil {
		return nil, err
	}
	return s.store.SpaceQuotaSpaces(r.Context(), f)
}

func (s *Server) listSpaceQuotas(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), spaceQuotaListSpec)
	if err != nil {
		return err
	}
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["names"]; ok {
		f.In("t.name", v)
	}
	if v, ok := l.Filters["organization_guids"]; ok {
		f.Where("t.organization_guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["space_guids"]; ok {
		f.Where("t.guid IN (SELECT sp.space_quota_guid FROM spaces sp WHERE sp.guid = ANY(?::uuid[]))", v)
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	if err := spaceQuotaVisibility(r, a, &f); err != nil {
		return err
	}
	quotas, total, err := s.store.ListSpaceQuotas(r.Context(), f)
	if err != nil {
		return err
	}
	guids := make([]string, 0, len(quotas))
	for _, q := range quotas {
		guids = append(guids, q.GUID)
	}
	spaces, err := s.quotaSpaces(r, a, guids)
	if err != nil {
		return err
	}
	out := make([]spaceQuotaJSON, 0, len(quotas))
	for _, q := range quotas {
		out = append(out, s.spaceQuotaJSON(q, spaces[q.GUID]))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/space_quotas"), total), Resources: out})
}

// visibleSpaceQuota returns the space quota if the caller may see it, else
// 404.
func (s *Server) visibleSpaceQuota(r *http.Request, a *Actor) (store.SpaceQuota, error) {
	f := store.Filter{Limit: 1}
	f.Where("t.guid::text = ?", r.PathValue("guid"))
	if err := spaceQuotaVisibility(r, a, &f); err != nil {
		return store.SpaceQuota{}, err
	}
	quotas, _, err := s.store.ListSpaceQuotas(r.Context(), f)
	if err != nil {
		return store.SpaceQuota{}, err
	}
	if len(quotas) == 0 {
		return store.SpaceQuota{}, apierr.NotFound("Space quota")
	}
	return quotas[0], nil
}

// canManageSpaceQuotas: admin, or a manager of the (not suspended)
// organization.
func (s *Server) canManageSpaceQuotas(r *http.Request, a *Actor, orgGUID string) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	if a.Admin() {
		return nil
	}
	ok, err := a.HasOrgRole(r.Context(), orgGUID, store.OrgManager)
	if err != nil {
		return err
	}
	if !ok {
		return apierr.NotAuthorized()
	}
	o, err := s.store.GetOrg(r.Context(), orgGUID)
	if err != nil {
		return err
	}
	if o.Suspended {
		return apierr.NotAuthorized()
	}
	return nil
}

// writeSpaceQuota answers with q and the spaces the caller sees.
func (s *Server) writeSpaceQuota(w http.ResponseWriter, r *http.Request, a *Actor, status int, q store.SpaceQuota) error {
	spaces, err := s.quotaSpaces(r, a, []string{q.GUID})
	if err != nil {
		return err
	}
	return writeJSON(w, status, s.spaceQuotaJSON(q, spaces[q.GUID]))
}

func (s *Server) getSpaceQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	q, err := s.visibleSpaceQuota(r, a)
	if err != nil {
		return err
	}
	return s.writeSpaceQuota(w, r, a, http.StatusOK, q)
}

type spaceQuotaBody struct {
	Name          *string         `json:"name"`
	Apps          json.RawMessage `json:"apps"`
	Services      json.RawMessage `json:"services"`
	Routes        json.RawMessage `json:"routes"`
	Relationships *struct {
		Organization ToOne         `json:"organization"`
		Spaces       *quotaRelBody `json:"spaces"`
	} `json:"relationships"`
}

// checkQuotaSpaces fails with CF's 422 unless every guid names a space the
// caller can see in org (create: not found and outside the org are one
// message; apply: two).
func (s *Server) checkQuotaSpaces(r *http.Request, a *Actor, guids []string, org string, create bool) error {
	if len(guids) == 0 {
		return nil
	}
	f := store.Filter{}
	f.Where("t.guid = ANY(?::uuid[])", guids)
	if create {
		f.Where("t.organization_guid::text = ?", org)
	}
	if err := spaceVisibility(r, a, &f); err != nil {
		return err
	}
	spaces, _, err := s.store.ListSpaces(r.Context(), f)
	if err != nil {
		return err
	}
	found, outside := map[string]bool{}, false
	for _, sp := range spaces {
		found[sp.GUID] = true
		outside = outside || sp.OrgGUID != org
	}
	if m := missingGUIDs(guids, found); len(m) > 0 {
		if create {
			return apierr.Unprocessable(fmt.Sprintf("Spaces with guids %s do not exist within the organization specified, or you do not have access to them.", rubyGUIDList(m)))
		}
		return apierr.Unprocessable(fmt.Sprintf("Spaces with guids %s do not exist, or you do not have access to them.", rubyGUIDList(m)))
	}
	if outside {
		return apierr.Unprocessable("Space quotas cannot be applied outside of their owning organization.")
	}
	return nil
}

func (s *Server) createSpaceQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	var b spaceQuotaBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := quotaName(b.Name); err != nil {
		return err
	}
	patch, err := parseLimits(quotaSections{Apps: b.Apps, Services: b.Services, Routes: b.Routes})
	if err != nil {
		return err
	}
	if b.Relationships == nil || b.Relationships.Organization.Data == nil || b.Relationships.Organization.Data.GUID == "" {
		return apierr.Unprocessable("Relationships Organization must be a relationship object with a guid")
	}
	var spaceGUIDs []string
	if spaceGUIDs, err = b.Relationships.Spaces.guids("Relationships Spaces", "spaces"); err != nil {
		return err
	}
	orgGUID := b.Relationships.Organization.Data.GUID
	if _, err := s.visibleOrg(r, a, orgGUID); err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return apierr.Unprocessable(fmt.Sprintf("Organization with guid '%s' does not exist, or you do not have access to it.", orgGUID))
		}
		return err
	}
	if err := s.canManageSpaceQuotas(r, a, orgGUID); err != nil {
		return err
	}
	q := store.SpaceQuota{Name: *b.Name, OrgGUID: orgGUID, Limits: store.Limits{PaidServicesAllowed: true}}
	patch.apply(&q.Limits)
	if err := checkQuotaLimits(q.Limits); err != nil {
		return err
	}
	if err := s.checkQuotaSpaces(r, a, spaceGUIDs, orgGUID, true); err != nil {
		return err
	}
	created, err := s.store.CreateSpaceQuota(r.Context(), q, spaceGUIDs)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(fmt.Sprintf("Space Quota '%s' already exists.", q.Name))
	}
	if err != nil {
		return err
	}
	return s.writeSpaceQuota(w, r, a, http.StatusCreated, created)
}

type spaceQuotaUpdateBody struct {
	Name     *string         `json:"name"`
	Apps     json.RawMessage `json:"apps"`
	Services json.RawMessage `json:"services"`
	Routes   json.RawMessage `json:"routes"`
}

func (s *Server) updateSpaceQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	q, err := s.visibleSpaceQuota(r, a)
	if err != nil {
		return err
	}
	if err := s.canManageSpaceQuotas(r, a, q.OrgGUID); err != nil {
		return err
	}
	var b spaceQuotaUpdateBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name != nil {
		if err := quotaName(b.Name); err != nil {
			return err
		}
		q.Name = *b.Name
	}
	patch, err := parseLimits(quotaSections{Apps: b.Apps, Services: b.Services, Routes: b.Routes})
	if err != nil {
		return err
	}
	patch.apply(&q.Limits)
	if err := checkQuotaLimits(q.Limits); err != nil {
		return err
	}
	updated, err := s.store.UpdateSpaceQuota(r.Context(), q)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(fmt.Sprintf("Space Quota '%s' already exists.", q.Name))
	}
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Space quota")
	}
	if err != nil {
		return err
	}
	return s.writeSpaceQuota(w, r, a, http.StatusOK, updated)
}

const spaceQuotaInUse = "This quota is applied to one or more spaces. Remove this quota from all spaces before deleting."

func (s *Server) deleteSpaceQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	q, err := s.visibleSpaceQuota(r, a)
	if err != nil {
		return err
	}
	if err := s.canManageSpaceQuotas(r, a, q.OrgGUID); err != nil {
		return err
	}
	f := store.Filter{}
	f.Where("t.space_quota_guid::text = ?", q.GUID)
	spaces, err := s.store.SpaceQuotaSpaces(r.Context(), f)
	if err != nil {
		return err
	}
	if len(spaces[q.GUID]) > 0 {
		return apierr.Unprocessable(spaceQuotaInUse)
	}
	return s.runJob(w, r, "space_quota.delete", a, func() error {
		err := s.store.DeleteSpaceQuota(r.Context(), q.GUID)
		switch {
		case errors.Is(err, store.ErrReferenced):
			return apierr.Unprocessable(spaceQuotaInUse)
		case errors.Is(err, store.ErrNotFound):
			return nil
		}
		return err
	})
}

// applySpaceQuota is POST /v3/space_quotas/:guid/relationships/spaces.
func (s *Server) applySpaceQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	q, err := s.visibleSpaceQuota(r, a)
	if err != nil {
		return err
	}
	if err := s.canManageSpaceQuotas(r, a, q.OrgGUID); err != nil {
		return err
	}
	var b quotaRelBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Data == nil {
		return apierr.Unprocessable("Data must be an array")
	}
	guids, err := b.guids("Data", "data")
	if err != nil {
		return err
	}
	if err := s.checkQuotaSpaces(r, a, guids, q.OrgGUID, false); err != nil {
		return err
	}
	if err := s.store.ApplySpaceQuota(r.Context(), q.GUID, guids); err != nil {
		return err
	}
	// CF lists every space with the quota here, not only visible ones.
	f := store.Filter{}
	f.Where("t.space_quota_guid::text = ?", q.GUID)
	spaces, err := s.store.SpaceQuotaSpaces(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"data":  quotaRel(spaces[q.GUID]).Data,
		"links": map[string]Link{"self": {Href: s.url("/v3/space_quotas/" + q.GUID + "/relationships/spaces")}},
	})
}

// removeSpaceQuota is DELETE /v3/space_quotas/:guid/relationships/spaces/:space_guid.
func (s *Server) removeSpaceQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	q, err := s.visibleSpaceQuota(r, a)
	if err != nil {
		return err
	}
	if err := s.canManageSpaceQuotas(r, a, q.OrgGUID); err != nil {
		return err
	}
	spaceGUID := r.PathValue("space_guid")
	err = s.store.RemoveSpaceQuota(r.Context(), q.GUID, spaceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.Unprocessable(fmt.Sprintf("Unable to remove quota from space with guid '%s'. Ensure the space quota is applied to this space.", spaceGUID))
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
