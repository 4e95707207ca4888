package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

type orgJSON struct {
	GUID          string `json:"guid"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Name          string `json:"name"`
	Suspended     bool   `json:"suspended"`
	Relationships struct {
		Quota ToOne `json:"quota"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    orgLinks `json:"links"`
}

type orgLinks struct {
	Self          Link `json:"self"`
	Domains       Link `json:"domains"`
	DefaultDomain Link `json:"default_domain"`
	Quota         Link `json:"quota"`
}

func (s *Server) orgJSON(o store.Org) orgJSON {
	self := s.url("/v3/organizations/" + o.GUID)
	out := orgJSON{
		GUID: o.GUID, CreatedAt: timestamp(o.CreatedAt), UpdatedAt: timestamp(o.UpdatedAt), Name: o.Name, Suspended: o.Suspended,
		Metadata: toMetadata(o.Metadata),
		Links: orgLinks{
			Self:          Link{Href: self},
			Domains:       Link{Href: self + "/domains"},
			DefaultDomain: Link{Href: self + "/domains/default"},
			Quota:         Link{Href: s.url("/v3/organization_quotas/" + o.QuotaGUID)},
		},
	}
	out.Relationships.Quota = toOne(o.QuotaGUID)
	return out
}

var orgListSpec = query.Spec{Filters: []string{"names", "guids"}, OrderBy: []string{"name"}, LabelSelector: true, Timestamps: true}

func (s *Server) registerOrgs() {
	s.authed("GET /v3/organizations", s.listOrgs)
	s.authed("POST /v3/organizations", s.createOrg)
	s.authed("GET /v3/organizations/{guid}", s.getOrg)
	s.authed("PATCH /v3/organizations/{guid}", s.updateOrg)
	s.authed("DELETE /v3/organizations/{guid}", s.deleteOrg)
	s.authed("GET /v3/organizations/{guid}/usage_summary", s.orgUsageSummary)
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), orgListSpec)
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
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	if !a.GlobalReader() {
		orgs, err := a.VisibleOrgs(r.Context())
		if err != nil {
			return err
		}
		f.Where("t.guid = ANY(?::uuid[])", orgs)
	}
	orgs, total, err := s.store.ListOrgs(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]orgJSON, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, s.orgJSON(o))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/organizations"), total), Resources: out})
}

// visibleOrg returns the org if the caller may see it, else 404.
func (s *Server) visibleOrg(r *http.Request, a *Actor, guid string) (store.Org, error) {
	o, err := s.store.GetOrg(r.Context(), guid)
	if errors.Is(err, store.ErrNotFound) {
		return o, apierr.NotFound("Organization")
	}
	if err != nil {
		return o, err
	}
	if a.GlobalReader() {
		return o, nil
	}
	orgs, err := a.VisibleOrgs(r.Context())
	if err != nil {
		return o, err
	}
	for _, g := range orgs {
		if g == guid {
			return o, nil
		}
	}
	return o, apierr.NotFound("Organization")
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.orgJSON(o))
}

type orgBody struct {
	Name      *string        `json:"name"`
	Suspended *bool          `json:"suspended"`
	Metadata  *metadataPatch `json:"metadata"`
}

func validName(kind, name string) error {
	if strings.TrimSpace(name) == "" {
		return apierr.Unprocessable("Name can't be blank")
	}
	if len(name) > 255 {
		return apierr.Unprocessable("Name is too long (maximum is 255 characters)")
	}
	return nil
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	if !a.Admin() {
		// CF lets non-admins create orgs only with the user_org_creation
		// feature flag, which is off by default.
		if err := s.requireUserOrgCreation(r.Context()); err != nil {
			return err
		}
	}
	var b orgBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name must be a string")
	}
	if err := validName("Organization", *b.Name); err != nil {
		return err
	}
	o := store.Org{Name: *b.Name}
	if b.Suspended != nil {
		o.Suspended = *b.Suspended
	}
	if err := b.Metadata.apply(&o.Metadata); err != nil {
		return err
	}
	created, err := s.store.CreateOrg(r.Context(), o)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(fmt.Sprintf("Organization '%s' already exists.", *b.Name))
	}
	if err != nil {
		return err
	}
	if err := s.grantOrgCreator(r, a, created); err != nil {
		return err
	}
	s.audit(r, a, orgEvent(eventOrgCreate, created, b))
	return writeJSON(w, http.StatusCreated, s.orgJSON(created))
}

func (s *Server) updateOrg(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := a.requireWrite(); err != nil {
		return err
	}
	if !a.Admin() {
		ok, err := a.HasOrgRole(r.Context(), o.GUID, store.OrgManager)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotAuthorized()
		}
	}
	var b orgBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name != nil {
		if err := validName("Organization", *b.Name); err != nil {
			return err
		}
		o.Name = *b.Name
	}
	if b.Suspended != nil {
		if !a.Admin() {
			return apierr.NotAuthorized()
		}
		o.Suspended = *b.Suspended
	}
	if err := b.Metadata.apply(&o.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateOrg(r.Context(), o)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(fmt.Sprintf("Organization '%s' already exists.", o.Name))
	}
	if err != nil {
		return err
	}
	s.audit(r, a, orgEvent(eventOrgUpdate, updated, b))
	return writeJSON(w, http.StatusOK, s.orgJSON(updated))
}

func (s *Server) deleteOrg(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if !a.Admin() {
		return apierr.NotAuthorized()
	}
	s.audit(r, a, orgEvent(eventOrgDeleteRequest, o, map[string]any{"recursive": true}))
	return s.enqueue(w, r, a, "organization.delete", guidPayload{GUID: o.GUID})
}

// applyCommon adds the filters every list shares: created_ats/updated_ats.
// (label_selector is applied by the resources that store labels.)
func applyCommon(f *store.Filter, l query.List) error {
	for _, tf := range l.Times {
		f.Time("t."+tf.Field, tf.Op, tf.Times)
	}
	if l.LabelSelector != "" {
		where, args, err := labelSQL(l.LabelSelector)
		if err != nil {
			return err
		}
		f.Where(where, args...)
	}
	return nil
}

// orgUsageSummary is GET /v3/organizations/:guid/usage_summary. Started
// instances and memory count the started processes; tasks and services
// are counted once they exist (later milestones); until then zero is true.
func (s *Server) orgUsageSummary(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	routes, domains, err := s.store.OrgUsage(r.Context(), o.GUID)
	if err != nil {
		return err
	}
	instances, memory, err := s.store.OrgAppUsage(r.Context(), o.GUID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"usage_summary": map[string]int64{
			"started_instances": instances, "memory_in_mb": memory, "routes": routes, "service_instances": 0,
			"reserved_ports": 0, "domains": domains, "per_app_tasks": 0, "service_keys": 0,
		},
		"links": map[string]Link{
			"self":         {Href: s.url("/v3/organizations/" + o.GUID + "/usage_summary")},
			"organization": {Href: s.url("/v3/organizations/" + o.GUID)},
		},
	})
}
