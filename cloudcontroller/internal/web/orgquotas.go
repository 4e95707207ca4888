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

type orgQuotaJSON struct {
	GUID          string             `json:"guid"`
	CreatedAt     string             `json:"created_at"`
	UpdatedAt     string             `json:"updated_at"`
	Name          string             `json:"name"`
	Apps          appsLimitsJSON     `json:"apps"`
	Services      servicesLimitsJSON `json:"services"`
	Routes        routesLimitsJSON   `json:"routes"`
	Domains       domainsLimitsJSON  `json:"domains"`
	Relationships struct {
		Organizations quotaRelJSON `json:"organizations"`
	} `json:"relationships"`
	Links map[string]Link `json:"links"`
}

// orgQuotaJSON renders q; orgs are the organizations with the quota that
// the caller can see.
func (s *Server) orgQuotaJSON(q store.OrgQuota, orgs []string) orgQuotaJSON {
	out := orgQuotaJSON{
		GUID: q.GUID, CreatedAt: timestamp(q.CreatedAt), UpdatedAt: timestamp(q.UpdatedAt), Name: q.Name,
		Apps: appsLimits(q.Limits), Services: servicesLimits(q.Limits), Routes: routesLimits(q.Limits),
		Domains: domainsLimitsJSON{TotalDomains: q.Limits.TotalDomains},
		Links:   map[string]Link{"self": {Href: s.url("/v3/organization_quotas/" + q.GUID)}},
	}
	out.Relationships.Organizations = quotaRel(orgs)
	return out
}

var orgQuotaListSpec = query.Spec{Filters: []string{"guids", "names", "organization_guids"}, OrderBy: []string{"name"}, Timestamps: true}

func (s *Server) registerOrgQuotas() {
	s.authed("GET /v3/organization_quotas", s.listOrgQuotas)
	s.authed("POST /v3/organization_quotas", s.createOrgQuota)
	s.authed("GET /v3/organization_quotas/{guid}", s.getOrgQuota)
	s.authed("PATCH /v3/organization_quotas/{guid}", s.updateOrgQuota)
	s.authed("DELETE /v3/organization_quotas/{guid}", s.deleteOrgQuota)
	s.authed("POST /v3/organization_quotas/{guid}/relationships/organizations", s.applyOrgQuota)
}

// quotaOrgs returns, per quota, the organizations having it that the
// caller can see (CF shows every quota to every user, but only visible
// organizations in its relationships).
func (s *Server) quotaOrgs(r *http.Request, a *Actor, quotaGUIDs []string) (store.QuotaMembers, error) {
	f := store.Filter{}
	f.Where("t.quota_guid = ANY(?::uuid[])", quotaGUIDs)
	if !a.GlobalReader() {
		orgs, err := a.VisibleOrgs(r.Context())
		if err != nil {
			return nil, err
		}
		f.Where("t.guid = ANY(?::uuid[])", orgs)
	}
	return s.store.OrgQuotaOrgs(r.Context(), f)
}

func (s *Server) listOrgQuotas(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), orgQuotaListSpec)
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
		if !a.GlobalReader() {
			orgs, err := a.VisibleOrgs(r.Context())
			if err != nil {
				return err
			}
			f.Where("EXISTS (SELECT 1 FROM organizations o WHERE o.quota_guid = t.guid AND o.guid = ANY(?::uuid[]) AND o.guid = ANY(?::uuid[]))", v, orgs)
		} else {
			f.Where("EXISTS (SELECT 1 FROM organizations o WHERE o.quota_guid = t.guid AND o.guid = ANY(?::uuid[]))", v)
		}
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	quotas, total, err := s.store.ListOrgQuotas(r.Context(), f)
	if err != nil {
		return err
	}
	guids := make([]string, 0, len(quotas))
	for _, q := range quotas {
		guids = append(guids, q.GUID)
	}
	orgs, err := s.quotaOrgs(r, a, guids)
	if err != nil {
		return err
	}
	out := make([]orgQuotaJSON, 0, len(quotas))
	for _, q := range quotas {
		out = append(out, s.orgQuotaJSON(q, orgs[q.GUID]))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/organization_quotas"), total), Resources: out})
}

func (s *Server) orgQuota(r *http.Request) (store.OrgQuota, error) {
	q, err := s.store.GetOrgQuota(r.Context(), r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) {
		return q, apierr.NotFound("Organization quota")
	}
	return q, err
}

// writeOrgQuota answers with q and the organizations the caller sees.
func (s *Server) writeOrgQuota(w http.ResponseWriter, r *http.Request, a *Actor, status int, q store.OrgQuota) error {
	orgs, err := s.quotaOrgs(r, a, []string{q.GUID})
	if err != nil {
		return err
	}
	return writeJSON(w, status, s.orgQuotaJSON(q, orgs[q.GUID]))
}

func (s *Server) getOrgQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	q, err := s.orgQuota(r)
	if err != nil {
		return err
	}
	return s.writeOrgQuota(w, r, a, http.StatusOK, q)
}

type orgQuotaBody struct {
	Name          *string         `json:"name"`
	Apps          json.RawMessage `json:"apps"`
	Services      json.RawMessage `json:"services"`
	Routes        json.RawMessage `json:"routes"`
	Domains       json.RawMessage `json:"domains"`
	Relationships *struct {
		Organizations *quotaRelBody `json:"organizations"`
	} `json:"relationships"`
}

func (b orgQuotaBody) sections() quotaSections {
	return quotaSections{Apps: b.Apps, Services: b.Services, Routes: b.Routes, Domains: b.Domains}
}

// requireAdminWrite allows cloud_controller.admin only.
func requireAdminWrite(a *Actor) error {
	if !a.Admin() {
		return apierr.NotAuthorized()
	}
	return nil
}

// checkOrgsExist fails with CF's 422 unless every guid names an
// organization.
func (s *Server) checkOrgsExist(r *http.Request, guids []string, suffix string) error {
	if len(guids) == 0 {
		return nil
	}
	f := store.Filter{}
	f.Where("t.guid = ANY(?::uuid[])", guids)
	orgs, _, err := s.store.ListOrgs(r.Context(), f)
	if err != nil {
		return err
	}
	found := map[string]bool{}
	for _, o := range orgs {
		found[o.GUID] = true
	}
	if m := missingGUIDs(guids, found); len(m) > 0 {
		return apierr.Unprocessable(fmt.Sprintf("Organizations with guids %s do not exist%s", rubyGUIDList(m), suffix))
	}
	return nil
}

func (s *Server) createOrgQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdminWrite(a); err != nil {
		return err
	}
	var b orgQuotaBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := quotaName(b.Name); err != nil {
		return err
	}
	patch, err := parseLimits(b.sections())
	if err != nil {
		return err
	}
	q := store.OrgQuota{Name: *b.Name, Limits: store.Limits{PaidServicesAllowed: true}}
	patch.apply(&q.Limits)
	if err := checkQuotaLimits(q.Limits); err != nil {
		return err
	}
	var orgGUIDs []string
	if b.Relationships != nil {
		if orgGUIDs, err = b.Relationships.Organizations.guids("Relationships Organizations", "organizations"); err != nil {
			return err
		}
	}
	if err := s.checkOrgsExist(r, orgGUIDs, ", or you do not have access to them."); err != nil {
		return err
	}
	created, err := s.store.CreateOrgQuota(r.Context(), q, orgGUIDs)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(fmt.Sprintf("Organization Quota '%s' already exists.", q.Name))
	}
	if err != nil {
		return err
	}
	return s.writeOrgQuota(w, r, a, http.StatusCreated, created)
}

type orgQuotaUpdateBody struct {
	Name     *string         `json:"name"`
	Apps     json.RawMessage `json:"apps"`
	Services json.RawMessage `json:"services"`
	Routes   json.RawMessage `json:"routes"`
	Domains  json.RawMessage `json:"domains"`
}

func (s *Server) updateOrgQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdminWrite(a); err != nil {
		return err
	}
	var b orgQuotaUpdateBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name != nil {
		if err := quotaName(b.Name); err != nil {
			return err
		}
	}
	patch, err := parseLimits(quotaSections{Apps: b.Apps, Services: b.Services, Routes: b.Routes, Domains: b.Domains})
	if err != nil {
		return err
	}
	q, err := s.orgQuota(r)
	if err != nil {
		return err
	}
	if b.Name != nil {
		q.Name = *b.Name
	}
	patch.apply(&q.Limits)
	if err := checkQuotaLimits(q.Limits); err != nil {
		return err
	}
	updated, err := s.store.UpdateOrgQuota(r.Context(), q)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(fmt.Sprintf("Organization Quota '%s' already exists.", q.Name))
	}
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Organization quota")
	}
	if err != nil {
		return err
	}
	return s.writeOrgQuota(w, r, a, http.StatusOK, updated)
}

const orgQuotaInUse = "This quota is applied to one or more organizations. Apply different quotas to those organizations before deleting."

func (s *Server) deleteOrgQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdminWrite(a); err != nil {
		return err
	}
	q, err := s.orgQuota(r)
	if err != nil {
		return err
	}
	orgs, err := s.quotaOrgs(r, a, []string{q.GUID})
	if err != nil {
		return err
	}
	if len(orgs[q.GUID]) > 0 {
		return apierr.Unprocessable(orgQuotaInUse)
	}
	return s.runJob(w, r, "organization_quota.delete", a, func() error {
		err := s.store.DeleteOrgQuota(r.Context(), q.GUID)
		switch {
		case errors.Is(err, store.ErrReferenced):
			return apierr.Unprocessable(orgQuotaInUse)
		case errors.Is(err, store.ErrNotFound):
			return nil
		}
		return err
	})
}

// applyOrgQuota is POST /v3/organization_quotas/:guid/relationships/organizations.
func (s *Server) applyOrgQuota(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdminWrite(a); err != nil {
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
	q, err := s.orgQuota(r)
	if err != nil {
		return err
	}
	if err := s.checkOrgsExist(r, guids, ""); err != nil {
		return err
	}
	if err := s.store.ApplyOrgQuota(r.Context(), q.GUID, guids); err != nil {
		return err
	}
	orgs, err := s.quotaOrgs(r, a, []string{q.GUID})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"data":  quotaRel(orgs[q.GUID]).Data,
		"links": map[string]Link{"self": {Href: s.url("/v3/organization_quotas/" + q.GUID + "/relationships/organizations")}},
	})
}
