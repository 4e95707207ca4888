package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// ToMany is a to-many relationship.
type ToMany struct {
	Data []GUIDRef `json:"data"`
}

type domainRelationships struct {
	Organization        ToOne  `json:"organization"`
	SharedOrganizations ToMany `json:"shared_organizations"`
}

type domainJSON struct {
	GUID               string              `json:"guid"`
	CreatedAt          string              `json:"created_at"`
	UpdatedAt          string              `json:"updated_at"`
	Name               string              `json:"name"`
	Internal           bool                `json:"internal"`
	RouterGroup        *GUIDRef            `json:"router_group"`
	SupportedProtocols []string            `json:"supported_protocols"`
	Relationships      domainRelationships `json:"relationships"`
	Metadata           Metadata            `json:"metadata"`
	Links              map[string]Link     `json:"links"`
}

// domainJSON renders d, listing only the shared organizations in visible
// (as CF does).
func (s *Server) domainJSON(d store.Domain, visible orgSet) domainJSON {
	self := s.url("/v3/domains/" + d.GUID)
	links := map[string]Link{"self": {Href: self}, "route_reservations": {Href: self + "/route_reservations"}}
	if !d.Shared() {
		links["organization"] = Link{Href: s.url("/v3/organizations/" + d.OrgGUID)}
		links["shared_organizations"] = Link{Href: self + "/relationships/shared_organizations"}
	}
	return domainJSON{
		GUID: d.GUID, CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt), Name: d.Name,
		Internal: d.Internal, SupportedProtocols: []string{"http"},
		Relationships: domainRelationships{Organization: toOne(d.OrgGUID), SharedOrganizations: sharedOrgs(d, visible)},
		Metadata:      toMetadata(d.Metadata),
		Links:         links,
	}
}

func sharedOrgs(d store.Domain, visible orgSet) ToMany {
	out := ToMany{Data: []GUIDRef{}}
	for _, o := range d.SharedOrgGUIDs {
		if visible.has(o) {
			out.Data = append(out.Data, GUIDRef{GUID: o})
		}
	}
	return out
}

var domainListSpec = query.Spec{
	Filters: []string{"names", "guids", "organization_guids"}, OrderBy: []string{"name"}, LabelSelector: true, Timestamps: true,
}

func (s *Server) registerDomains() {
	s.authed("GET /v3/domains", s.listDomains)
	s.authed("POST /v3/domains", s.createDomain)
	s.authed("GET /v3/domains/{guid}", s.getDomain)
	s.authed("PATCH /v3/domains/{guid}", s.updateDomain)
	s.authed("DELETE /v3/domains/{guid}", s.deleteDomain)
	s.authed("GET /v3/domains/{guid}/route_reservations", s.domainRouteReservations)
	s.authed("POST /v3/domains/{guid}/relationships/shared_organizations", s.shareDomain)
	s.authed("DELETE /v3/domains/{guid}/relationships/shared_organizations/{org_guid}", s.unshareDomain)
	s.authed("GET /v3/organizations/{guid}/domains", s.listOrgDomains)
	s.authed("GET /v3/organizations/{guid}/domains/default", s.getOrgDefaultDomain)
}

// domainFilter builds the list filter shared by /v3/domains and
// /v3/organizations/:guid/domains.
func domainFilter(l query.List) (store.Filter, error) {
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["names"]; ok {
		f.In("t.name", lowerAll(v))
	}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["organization_guids"]; ok {
		f.Where("t.organization_guid = ANY(?::uuid[])", v)
	}
	return f, applyCommon(&f, l)
}

func (s *Server) writeDomainList(w http.ResponseWriter, r *http.Request, a *Actor, l query.List, f store.Filter, path string) error {
	domains, total, err := s.store.ListDomains(r.Context(), f)
	if err != nil {
		return err
	}
	visible, err := visibleOrgSet(r.Context(), a)
	if err != nil {
		return err
	}
	out := make([]domainJSON, 0, len(domains))
	for _, d := range domains {
		out = append(out, s.domainJSON(d, visible))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url(path), total), Resources: out})
}

func (s *Server) listDomains(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), domainListSpec)
	if err != nil {
		return err
	}
	f, err := domainFilter(l)
	if err != nil {
		return err
	}
	if err := domainVisibility(r, a, &f); err != nil {
		return err
	}
	return s.writeDomainList(w, r, a, l, f, "/v3/domains")
}

// usableByOrg restricts f to the domains routes in org may use.
func usableByOrg(f *store.Filter, org string) {
	f.Where(`(t.organization_guid IS NULL OR t.organization_guid::text = ?
		OR t.guid IN (SELECT so.domain_guid FROM domain_shared_organizations so WHERE so.organization_guid::text = ?))`, org, org)
}

func (s *Server) listOrgDomains(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	l, err := query.Parse(r.URL.Query(), domainListSpec)
	if err != nil {
		return err
	}
	f, err := domainFilter(l)
	if err != nil {
		return err
	}
	usableByOrg(&f, o.GUID)
	return s.writeDomainList(w, r, a, l, f, "/v3/organizations/"+o.GUID+"/domains")
}

// getOrgDefaultDomain is CF's Organization#default_domain: the first
// shared, non-internal domain, else the first private domain the
// organization may use.
func (s *Server) getOrgDefaultDomain(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	f := store.Filter{Limit: 1}
	f.Where("t.organization_guid IS NULL AND NOT t.internal")
	domains, _, err := s.store.ListDomains(r.Context(), f)
	if err != nil {
		return err
	}
	if len(domains) == 0 {
		f = store.Filter{Limit: 1}
		f.Where("t.organization_guid IS NOT NULL")
		usableByOrg(&f, o.GUID)
		if domains, _, err = s.store.ListDomains(r.Context(), f); err != nil {
			return err
		}
	}
	if len(domains) == 0 {
		return apierr.NotFound("Domain")
	}
	visible, err := visibleOrgSet(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.domainJSON(domains[0], visible))
}

// visibleDomain returns the domain if the caller sees it, else 404.
func (s *Server) visibleDomain(r *http.Request, a *Actor, guid string) (store.Domain, error) {
	d, err := s.store.GetDomain(r.Context(), guid)
	if errors.Is(err, store.ErrNotFound) {
		return d, apierr.NotFound("Domain")
	}
	if err != nil {
		return d, err
	}
	ok, err := canSeeDomain(r.Context(), a, d)
	if err != nil {
		return d, err
	}
	if !ok {
		return d, apierr.NotFound("Domain")
	}
	return d, nil
}

func (s *Server) getDomain(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, err := s.visibleDomain(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	visible, err := visibleOrgSet(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.domainJSON(d, visible))
}

type domainBody struct {
	Name          *string         `json:"name"`
	Internal      *bool           `json:"internal"`
	RouterGroup   json.RawMessage `json:"router_group"`
	Relationships *struct {
		Organization        *ToOne `json:"organization"`
		SharedOrganizations *struct {
			Data json.RawMessage `json:"data"`
		} `json:"shared_organizations"`
	} `json:"relationships"`
	Metadata *metadataPatch `json:"metadata"`
}

// guidList parses the data array of a to-many relationship,
// [{"guid":…},…].
func guidList(field string, data json.RawMessage) ([]string, error) {
	var refs []GUIDRef
	bad := apierr.Unprocessable(field + " must be an array of objects with a guid")
	if err := json.Unmarshal(data, &refs); err != nil || refs == nil {
		return nil, bad
	}
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		if ref.GUID == "" {
			return nil, bad
		}
		out = append(out, ref.GUID)
	}
	return out, nil
}

func orgUnavailable(guid string) error {
	return apierr.Unprocessable(fmt.Sprintf("Organization with guid '%s' does not exist or you do not have access to it.", guid))
}

func (s *Server) createDomain(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	var b domainBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name must be a string")
	}
	if err := ValidateDomainName(*b.Name); err != nil {
		return err
	}
	internal := b.Internal != nil && *b.Internal
	hasRouterGroup := len(b.RouterGroup) > 0 && string(b.RouterGroup) != "null"
	private := b.Relationships != nil
	var p problems
	if internal && private {
		p.add("Cannot associate an internal domain with an organization")
	}
	if internal && hasRouterGroup {
		p.add("Internal domains cannot be associated to a router group.")
	}
	if private && hasRouterGroup {
		p.add("Domains scoped to an organization cannot be associated to a router group.")
	}
	var sharedWith []string
	if private {
		rel := b.Relationships
		if rel.Organization == nil || rel.Organization.Data == nil || rel.Organization.Data.GUID == "" {
			p.add("Relationships Organization must be a relationship object with a guid")
		}
		if rel.SharedOrganizations != nil {
			var err error
			if sharedWith, err = guidList("Relationships Shared organizations", rel.SharedOrganizations.Data); err != nil {
				return err
			}
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	d := store.Domain{Name: strings.ToLower(*b.Name), Internal: internal}
	if private {
		owner := b.Relationships.Organization.Data.GUID
		o, err := s.visibleOrg(r, a, owner)
		if err != nil {
			if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
				return orgUnavailable(owner)
			}
			return err
		}
		if ok, err := canManageOrg(r.Context(), a, o.GUID); err != nil {
			return err
		} else if !ok {
			return apierr.NotAuthorized()
		}
		if err := s.checkShareTargets(r, a, o.GUID, sharedWith); err != nil {
			return err
		}
		d.OrgGUID, d.SharedOrgGUIDs = o.GUID, sharedWith
		if err := s.requireFlag(r.Context(), a, "private_domain_creation"); err != nil {
			return err
		}
		n, err := s.store.PrivateDomainCount(r.Context(), o.GUID)
		if err != nil {
			return err
		}
		if err := s.checkDomainQuota(r.Context(), o.GUID, n); err != nil {
			return err
		}
	} else if !a.Admin() {
		return apierr.NotAuthorized()
	}
	if hasRouterGroup {
		return apierr.ServiceUnavailable("The Routing API is disabled.")
	}
	if err := b.Metadata.apply(&d.Metadata); err != nil {
		return err
	}
	if err := s.checkDomainNameFree(r.Context(), d); err != nil {
		return err
	}
	created, err := s.store.CreateDomain(r.Context(), d)
	switch {
	case errors.Is(err, store.ErrConflict):
		return apierr.AlreadyExists(fmt.Sprintf("The domain name \"%s\" is already in use", d.Name))
	case errors.Is(err, store.ErrReferenced):
		return apierr.Unprocessable("Organization not found. Ensure the organizations exist and you have access to them.")
	case err != nil:
		return err
	}
	visible, err := visibleOrgSet(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.domainJSON(created, visible))
}

// parentDomains returns name and its parents down to two labels:
// a.b.example.com → a.b.example.com, b.example.com, example.com.
func parentDomains(name string) []string {
	var out []string
	for {
		out = append(out, name)
		_, rest, ok := strings.Cut(name, ".")
		if !ok || !strings.Contains(rest, ".") {
			return out
		}
		name = rest
	}
}

// checkDomainNameFree applies CF's reservations to a new domain's name: it
// must be unused, must not lie under another organization's private
// domain, a private domain must not cover another owner's domains, and no
// route may already answer on it.
func (s *Server) checkDomainNameFree(ctx context.Context, d store.Domain) error {
	if _, err := s.store.GetDomainByName(ctx, d.Name); err == nil {
		return apierr.AlreadyExists(fmt.Sprintf("The domain name \"%s\" is already in use", d.Name))
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	reserved := func(by, kind string) error {
		return apierr.Unprocessable(fmt.Sprintf("The domain name \"%s\" cannot be created because \"%s\" is already reserved by %s", d.Name, by, kind))
	}
	names := parentDomains(d.Name)
	other, err := s.store.PrivateDomainNotOwnedBy(ctx, names, d.OrgGUID)
	if err != nil {
		return err
	}
	if other != "" {
		return reserved(other, "another domain")
	}
	if !d.Shared() {
		if other, err = s.store.SubdomainNotOwnedBy(ctx, d.Name, d.OrgGUID); err != nil {
			return err
		}
		if other != "" {
			return reserved(other, "another domain")
		}
	}
	route, err := s.store.RouteWithFQDN(ctx, names)
	if err != nil {
		return err
	}
	if route != "" {
		return reserved(route, "a route")
	}
	return nil
}

// checkShareTargets checks the organizations a domain owned by owner is
// to be shared with, with CF's messages.
func (s *Server) checkShareTargets(r *http.Request, a *Actor, owner string, orgs []string) error {
	for _, guid := range orgs {
		o, err := s.store.GetOrg(r.Context(), guid)
		if errors.Is(err, store.ErrNotFound) {
			return apierr.Unprocessable(fmt.Sprintf("Organization with guid '%s' does not exist, or you do not have access to it.", guid))
		}
		if err != nil {
			return err
		}
		if _, err := s.visibleOrg(r, a, guid); err != nil {
			if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
				return apierr.Unprocessable(fmt.Sprintf("Organization with guid '%s' either does not exist, or you do not have access to it.", guid))
			}
			return err
		}
		if ok, err := canManageOrg(r.Context(), a, guid); err != nil {
			return err
		} else if !ok {
			return apierr.Unprocessable(fmt.Sprintf("You do not have sufficient permissions for organization '%s' to share domain.", o.Name))
		}
	}
	for _, guid := range orgs {
		if guid == owner {
			return apierr.Unprocessable("Domain cannot be shared with owning organization.")
		}
	}
	return nil
}

// requireDomainWrite fails with 403 unless the caller may change d.
func requireDomainWrite(ctx context.Context, a *Actor, d store.Domain) error {
	ok, err := canManageOrg(ctx, a, d.OrgGUID)
	if err != nil {
		return err
	}
	if !ok {
		return apierr.NotAuthorized()
	}
	return nil
}

func (s *Server) updateDomain(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, err := s.visibleDomain(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireDomainWrite(r.Context(), a, d); err != nil {
		return err
	}
	var b struct {
		Metadata *metadataPatch `json:"metadata"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := b.Metadata.apply(&d.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateDomainMetadata(r.Context(), d)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Domain")
	}
	if err != nil {
		return err
	}
	visible, err := visibleOrgSet(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.domainJSON(updated, visible))
}

const domainHasRoutes = "This domain has associated routes. Delete the routes before deleting the domain."

func (s *Server) deleteDomain(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, err := s.visibleDomain(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireDomainWrite(r.Context(), a, d); err != nil {
		return err
	}
	if len(d.SharedOrgGUIDs) > 0 {
		return apierr.Unprocessable("This domain is shared with other organizations. Unshare before deleting.")
	}
	f := store.Filter{Limit: 1}
	f.Where("t.domain_guid::text = ?", d.GUID)
	if routes, _, err := s.store.ListRoutes(r.Context(), f); err != nil {
		return err
	} else if len(routes) > 0 {
		return apierr.Unprocessable(domainHasRoutes)
	}
	return s.enqueue(w, r, a, "domain.delete", guidPayload{GUID: d.GUID})
}

func (s *Server) domainRouteReservations(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, err := s.visibleDomain(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	l, err := query.Parse(r.URL.Query(), query.Spec{Extra: []string{"host", "path", "port"}})
	if err != nil {
		return err
	}
	q := l.Values()
	f := store.Filter{Limit: 1}
	f.Where("t.domain_guid::text = ? AND t.host = ? AND t.path = ?", d.GUID, strings.ToLower(q.Get("host")), q.Get("path"))
	if p := q.Get("port"); p != "" && p != "0" {
		port, err := strconv.Atoi(p)
		if err != nil {
			return apierr.BadQueryParameter("Port must be an integer")
		}
		f.Where("t.port = ?", port)
	} else {
		f.Where("t.port IS NULL")
	}
	routes, _, err := s.store.ListRoutes(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]bool{"matching_route": len(routes) > 0})
}

func (s *Server) shareDomain(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, err := s.visibleDomain(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireDomainWrite(r.Context(), a, d); err != nil {
		return err
	}
	var b struct {
		Data json.RawMessage `json:"data"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	orgs, err := guidList("Data", b.Data)
	if err != nil {
		return err
	}
	if err := s.checkShareTargets(r, a, d.OrgGUID, orgs); err != nil {
		return err
	}
	if d.Shared() {
		return apierr.Unprocessable("Domains cannot be shared with other organizations unless they are scoped to an organization.")
	}
	updated, err := s.store.ShareDomain(r.Context(), d.GUID, orgs)
	if errors.Is(err, store.ErrReferenced) {
		return apierr.Unprocessable("Organization not found. Ensure the organizations exist and you have access to them.")
	}
	if err != nil {
		return err
	}
	visible, err := visibleOrgSet(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sharedOrgs(updated, visible))
}

func (s *Server) unshareDomain(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, err := s.visibleDomain(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	orgGUID := r.PathValue("org_guid")
	o, err := s.store.GetOrg(r.Context(), orgGUID)
	if errors.Is(err, store.ErrNotFound) {
		return orgUnavailable(orgGUID)
	}
	if err != nil {
		return err
	}
	ownerOK, err := canManageOrg(r.Context(), a, d.OrgGUID)
	if err != nil {
		return err
	}
	sharedOK, err := canManageOrg(r.Context(), a, o.GUID)
	if err != nil {
		return err
	}
	if !ownerOK && !sharedOK {
		return apierr.NotAuthorized()
	}
	if _, err := s.visibleOrg(r, a, o.GUID); err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return orgUnavailable(orgGUID)
		}
		return err
	}
	err = s.store.UnshareDomain(r.Context(), d.GUID, o.GUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.Unprocessable(fmt.Sprintf("Unable to unshare domain from organization with name '%s'. Ensure the domain is shared to this organization.", o.Name))
	case errors.Is(err, store.ErrReferenced):
		return apierr.Unprocessable("This domain has associated routes in this organization. Delete the routes before unsharing.")
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
