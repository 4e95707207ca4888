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

type routeJSON struct {
	GUID          string             `json:"guid"`
	CreatedAt     string             `json:"created_at"`
	UpdatedAt     string             `json:"updated_at"`
	Protocol      string             `json:"protocol"`
	Host          string             `json:"host"`
	Path          string             `json:"path"`
	Port          *int               `json:"port"`
	URL           string             `json:"url"`
	Destinations  []destinationJSON  `json:"destinations"`
	Options       map[string]string  `json:"options"`
	Metadata      Metadata           `json:"metadata"`
	Relationships routeRelationships `json:"relationships"`
	Links         routeLinks         `json:"links"`
}

// Structs, not maps, for the resources lists carry by the thousand:
// encoding/json sorts map keys on every encode.
type routeRelationships struct {
	Space  ToOne `json:"space"`
	Domain ToOne `json:"domain"`
}

type routeLinks struct {
	Self         Link `json:"self"`
	Space        Link `json:"space"`
	Domain       Link `json:"domain"`
	Destinations Link `json:"destinations"`
}

// routeURL is CF's route url: host.domain/path, domain/path without a
// host, domain:port for a port route. `cf routes` derives the domain from
// it.
func routeURL(rt store.Route) string {
	if rt.Port != nil {
		return rt.DomainName + ":" + strconv.Itoa(*rt.Port)
	}
	if rt.Host == "" {
		return rt.DomainName + rt.Path
	}
	return rt.Host + "." + rt.DomainName + rt.Path
}

func (s *Server) routeJSON(rt store.Route, dests []store.Destination) routeJSON {
	self := s.url("/v3/routes/" + rt.GUID)
	return routeJSON{
		GUID: rt.GUID, CreatedAt: timestamp(rt.CreatedAt), UpdatedAt: timestamp(rt.UpdatedAt),
		Protocol: "http", Host: rt.Host, Path: rt.Path, Port: rt.Port, URL: routeURL(rt),
		Destinations:  s.destinationsJSON(dests),
		Options:       rt.Options,
		Metadata:      toMetadata(rt.Metadata),
		Relationships: routeRelationships{Space: toOne(rt.SpaceGUID), Domain: toOne(rt.DomainGUID)},
		Links: routeLinks{
			Self:         Link{Href: self},
			Space:        Link{Href: s.url("/v3/spaces/" + rt.SpaceGUID)},
			Domain:       Link{Href: s.url("/v3/domains/" + rt.DomainGUID)},
			Destinations: Link{Href: self + "/destinations"},
		},
	}
}

var routeListSpec = query.Spec{
	Filters: []string{"guids", "hosts", "paths", "ports", "domain_guids", "space_guids", "organization_guids",
		"app_guids", "service_instance_guids"},
	Includes:      []string{"domain", "space", "space.organization"},
	LabelSelector: true,
	Timestamps:    true,
}

func (s *Server) registerRoutes() {
	s.authed("GET /v3/routes", s.listRoutes)
	s.authed("POST /v3/routes", s.createRoute)
	s.authed("GET /v3/routes/{guid}", s.getRoute)
	s.authed("PATCH /v3/routes/{guid}", s.updateRoute)
	s.authed("DELETE /v3/routes/{guid}", s.deleteRoute)
	s.registerDestinations()
}

// routeFilter turns the list filters into conditions on routes t.
func routeFilter(l query.List) (store.Filter, error) {
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	for key, col := range map[string]string{"guids": "t.guid::text", "paths": "t.path", "domain_guids": "t.domain_guid::text", "space_guids": "t.space_guid::text"} {
		if v, ok := l.Filters[key]; ok {
			f.Where(col+" = ANY(?)", v)
		}
	}
	if v, ok := l.Filters["hosts"]; ok {
		f.Where("t.host = ANY(?)", lowerAll(v))
	}
	if v, ok := l.Filters["ports"]; ok {
		ports, none := []int{}, false
		for _, p := range v {
			if p == "" {
				none = true // "ports=": routes without a port
				continue
			}
			n, err := strconv.Atoi(p)
			if err != nil {
				return f, apierr.BadQueryParameter("Ports must be integers")
			}
			ports = append(ports, n)
		}
		f.Where("(t.port = ANY(?) OR (? AND t.port IS NULL))", ports, none)
	}
	if v, ok := l.Filters["organization_guids"]; ok {
		f.Where("t.space_guid IN (SELECT os.guid FROM spaces os WHERE os.organization_guid = ANY(?::uuid[]))", v)
	}
	if v, ok := l.Filters["app_guids"]; ok {
		f.Where("t.guid IN (SELECT ad.route_guid FROM route_destinations ad WHERE ad.app_guid = ANY(?))", v)
	}
	if _, ok := l.Filters["service_instance_guids"]; ok {
		f.Where("false") // no service instances exist yet, so no route is bound to one
	}
	return f, applyCommon(&f, l)
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), routeListSpec)
	if err != nil {
		return err
	}
	f, err := routeFilter(l)
	if err != nil {
		return err
	}
	if err := routeVisibility(r, a, &f); err != nil {
		return err
	}
	routes, total, err := s.store.ListRoutes(r.Context(), f)
	if err != nil {
		return err
	}
	guids := make([]string, 0, len(routes))
	for _, rt := range routes {
		guids = append(guids, rt.GUID)
	}
	dests, err := s.store.RouteDestinations(r.Context(), guids)
	if err != nil {
		return err
	}
	out := make([]routeJSON, 0, len(routes))
	for _, rt := range routes {
		out = append(out, s.routeJSON(rt, dests[rt.GUID]))
	}
	resp := list{Pagination: l.Pagination(s.url("/v3/routes"), total), Resources: out}
	if len(l.Include) > 0 {
		if resp.Included, err = s.routeIncludes(r, a, l, routes); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// routeIncludes builds include=domain,space,space.organization.
func (s *Server) routeIncludes(r *http.Request, a *Actor, l query.List, routes []store.Route) (map[string]any, error) {
	ctx := r.Context()
	inc := map[string]any{}
	var domainGUIDs, spaceGUIDs []string
	for _, rt := range routes {
		domainGUIDs = append(domainGUIDs, rt.DomainGUID)
		spaceGUIDs = append(spaceGUIDs, rt.SpaceGUID)
	}
	if l.Includes("domain") {
		f := store.Filter{}
		f.Where("t.guid = ANY(?::uuid[])", nonNil(domainGUIDs))
		domains, _, err := s.store.ListDomains(ctx, f)
		if err != nil {
			return nil, err
		}
		visible, err := visibleOrgSet(ctx, a)
		if err != nil {
			return nil, err
		}
		out := make([]domainJSON, 0, len(domains))
		for _, d := range domains {
			out = append(out, s.domainJSON(d, visible))
		}
		inc["domains"] = out
	}
	if l.Includes("space") || l.Includes("space.organization") {
		f := store.Filter{}
		f.Where("t.guid = ANY(?::uuid[])", nonNil(spaceGUIDs))
		spaces, _, err := s.store.ListSpaces(ctx, f)
		if err != nil {
			return nil, err
		}
		out := make([]spaceJSON, 0, len(spaces))
		var orgGUIDs []string
		for _, sp := range spaces {
			out = append(out, s.spaceJSON(sp))
			orgGUIDs = append(orgGUIDs, sp.OrgGUID)
		}
		inc["spaces"] = out
		if l.Includes("space.organization") {
			of := store.Filter{}
			of.Where("t.guid = ANY(?::uuid[])", nonNil(orgGUIDs))
			orgs, _, err := s.store.ListOrgs(ctx, of)
			if err != nil {
				return nil, err
			}
			oout := make([]orgJSON, 0, len(orgs))
			for _, o := range orgs {
				oout = append(oout, s.orgJSON(o))
			}
			inc["organizations"] = oout
		}
	}
	return inc, nil
}

// visibleRoute returns the route and its space if the caller reads it,
// else 404.
func (s *Server) visibleRoute(r *http.Request, a *Actor, guid string) (store.Route, store.Space, error) {
	notFound := apierr.NotFound("Route")
	rt, err := s.store.GetRoute(r.Context(), guid)
	if errors.Is(err, store.ErrNotFound) {
		return rt, store.Space{}, notFound
	}
	if err != nil {
		return rt, store.Space{}, err
	}
	sp, err := s.store.GetSpace(r.Context(), rt.SpaceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return rt, sp, notFound
	}
	if err != nil {
		return rt, sp, err
	}
	ok, err := canReadRoutesIn(r.Context(), a, sp)
	if err != nil {
		return rt, sp, err
	}
	if !ok {
		return rt, sp, notFound
	}
	return rt, sp, nil
}

func (s *Server) getRoute(w http.ResponseWriter, r *http.Request, a *Actor) error {
	rt, _, err := s.visibleRoute(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	dests, err := s.store.RouteDestinations(r.Context(), []string{rt.GUID})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.routeJSON(rt, dests[rt.GUID]))
}

type routeBody struct {
	Host          *string         `json:"host"`
	Path          *string         `json:"path"`
	Port          *int            `json:"port"`
	Options       json.RawMessage `json:"options"`
	Relationships *struct {
		Space  *ToOne `json:"space"`
		Domain *ToOne `json:"domain"`
	} `json:"relationships"`
	Metadata *metadataPatch `json:"metadata"`
}

func relationshipGUID(rel *ToOne) string {
	if rel == nil || rel.Data == nil {
		return ""
	}
	return rel.Data.GUID
}

// check validates a create body as CF's RouteCreateMessage does and
// returns the options patch.
func (b routeBody) check() (map[string]*string, error) {
	var p problems
	if b.Host != nil {
		p = append(p, hostProblems(*b.Host)...)
	}
	if b.Path != nil {
		p = append(p, pathProblems(*b.Path)...)
	}
	if b.Port != nil && *b.Port < 0 {
		p.add("Port must be greater than or equal to 0")
	}
	if b.Port != nil && *b.Port > 65535 {
		p.add("Port must be less than or equal to 65535")
	}
	if b.Relationships == nil {
		p.add("Relationships can't be blank")
	} else {
		if relationshipGUID(b.Relationships.Space) == "" {
			p.add(`Relationships Space must be structured like this: "space: {"data": {"guid": "valid-guid"}}"`)
		}
		if relationshipGUID(b.Relationships.Domain) == "" {
			p.add(`Relationships Domain must be structured like this: "domain: {"data": {"guid": "valid-guid"}}"`)
		}
	}
	var opts map[string]*string
	if len(b.Options) > 0 && string(b.Options) != "null" {
		var err error
		if opts, err = parseRouteOptions(b.Options); err != nil {
			e, _ := apierr.As(err)
			p.add("%s", e.Detail)
		}
	}
	return opts, p.err()
}

func (s *Server) createRoute(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	var b routeBody
	if err := decode(r, &b); err != nil {
		return err
	}
	opts, err := b.check()
	if err != nil {
		return err
	}
	ctx := r.Context()
	sp, err := s.visibleSpace(r, a, relationshipGUID(b.Relationships.Space))
	if err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return apierr.Unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
		}
		return err
	}
	d, err := s.visibleDomain(r, a, relationshipGUID(b.Relationships.Domain))
	if err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return apierr.Unprocessable("Invalid domain. Ensure that the domain exists and you have access to it.")
		}
		return err
	}
	if err := requireRouteWrite(ctx, a, sp.GUID); err != nil {
		return err
	}
	if err := s.requireFlag(ctx, a, "route_creation"); err != nil {
		return err
	}
	spaceRoutes, orgRoutes, err := s.store.RouteCounts(ctx, sp.GUID)
	if err != nil {
		return err
	}
	if err := s.checkRouteQuota(ctx, routeQuotaRequest{SpaceGUID: sp.GUID, SpaceRoutes: spaceRoutes, OrgRoutes: orgRoutes}); err != nil {
		return err
	}
	rt := store.Route{SpaceGUID: sp.GUID, DomainGUID: d.GUID, DomainName: d.Name}
	if b.Host != nil {
		rt.Host = strings.ToLower(*b.Host)
	}
	if b.Path != nil {
		rt.Path = *b.Path
	}
	if rt.Host == "*" && d.Shared() && !a.Admin() {
		return apierr.Unprocessable("You do not have sufficient permissions to create a route with a wildcard host on a domain not scoped to an organization.")
	}
	if rt.Options, err = mergeRouteOptions(nil, opts); err != nil {
		return err
	}
	if err := b.Metadata.apply(&rt.Metadata); err != nil {
		return err
	}
	if err := s.checkNewRoute(ctx, rt, b.Port, sp, d); err != nil {
		return err
	}
	created, err := s.store.CreateRoute(ctx, rt)
	switch {
	case errors.Is(err, store.ErrConflict):
		return routeExists(rt)
	case errors.Is(err, store.ErrReferenced):
		return apierr.Unprocessable("Invalid domain. Ensure that the domain exists and you have access to it.")
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusCreated, s.routeJSON(created, nil))
}

// routeExists is CF's uniqueness failure; the cf CLI matches "Route
// already exists" and treats create-route as done.
func routeExists(rt store.Route) error {
	switch {
	case rt.Host == "" && rt.Path == "":
		return apierr.AlreadyExists(fmt.Sprintf("Route already exists for domain '%s'.", rt.DomainName))
	case rt.Path == "":
		return apierr.AlreadyExists(fmt.Sprintf("Route already exists with host '%s' for domain '%s'.", rt.Host, rt.DomainName))
	case rt.Host == "":
		return apierr.AlreadyExists(fmt.Sprintf("Route already exists with path '%s' for domain '%s'.", rt.Path, rt.DomainName))
	}
	return apierr.AlreadyExists(fmt.Sprintf("Route already exists with host '%s' and path '%s' for domain '%s'.", rt.Host, rt.Path, rt.DomainName))
}

// checkNewRoute applies CF's Route model validations, in CF's order.
func (s *Server) checkNewRoute(ctx context.Context, rt store.Route, port *int, sp store.Space, d store.Domain) error {
	if !d.UsableBy(sp.OrgGUID) {
		o, err := s.store.GetOrg(ctx, sp.OrgGUID)
		if err != nil {
			return err
		}
		return apierr.Unprocessable(fmt.Sprintf("Invalid domain. Domain '%s' is not available in organization '%s'.", d.Name, o.Name))
	}
	if rt.Host != "" {
		fqdn := rt.Host + "." + d.Name
		if _, err := s.store.GetDomainByName(ctx, fqdn); err == nil {
			return apierr.Unprocessable(fmt.Sprintf("Route conflicts with domain '%s'.", fqdn))
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if d.Internal && rt.Host == "*" {
		return apierr.Unprocessable("Wildcard hosts are not supported for internal domains.")
	}
	if d.Shared() && rt.Host == "" {
		return apierr.Unprocessable("Missing host. Routes in shared domains must have a host defined.")
	}
	hostLen := 0
	if rt.Host != "" {
		hostLen = len(rt.Host) + 1
	}
	if hostLen+len(d.Name) > maxDomainLength {
		return apierr.Unprocessable(fmt.Sprintf("Host combined with domain name must be no more than %d characters.", maxDomainLength))
	}
	if d.Internal && rt.Path != "" {
		return apierr.Unprocessable("Paths are not supported for internal domains.")
	}
	if !validPathChars(rt.Path) {
		return apierr.Unprocessable("Path is invalid.")
	}
	if port != nil && *port != 0 {
		return apierr.Unprocessable("Routes with protocol 'http' do not support ports.")
	}
	if _, err := s.store.FindRoute(ctx, d.GUID, rt.Host, rt.Path); err == nil {
		return routeExists(rt)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// A host on a shared domain belongs to one space (CF allows context
	// path routes across spaces only on private domains).
	if d.Shared() && rt.Host != "" && rt.Host != "*" {
		taken, err := s.store.HostTakenOutsideSpace(ctx, d.GUID, rt.Host, sp.GUID)
		if err != nil {
			return err
		}
		if taken {
			return apierr.Unprocessable(fmt.Sprintf("The host '%s' on domain '%s' is already used by a route in another space.", rt.Host, d.Name))
		}
	}
	return nil
}

func (s *Server) updateRoute(w http.ResponseWriter, r *http.Request, a *Actor) error {
	rt, sp, err := s.visibleRoute(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	var b struct {
		Options  json.RawMessage `json:"options"`
		Metadata *metadataPatch  `json:"metadata"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	var opts map[string]*string
	if len(b.Options) > 0 && string(b.Options) != "null" {
		if opts, err = parseRouteOptions(b.Options); err != nil {
			return err
		}
	}
	if err := requireRouteWrite(r.Context(), a, sp.GUID); err != nil {
		return err
	}
	if opts != nil {
		if rt.Options, err = mergeRouteOptions(rt.Options, opts); err != nil {
			return err
		}
	}
	if err := b.Metadata.apply(&rt.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateRoute(r.Context(), rt)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Route")
	}
	if err != nil {
		return err
	}
	dests, err := s.store.RouteDestinations(r.Context(), []string{rt.GUID})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.routeJSON(updated, dests[rt.GUID]))
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request, a *Actor) error {
	rt, sp, err := s.visibleRoute(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireRouteWrite(r.Context(), a, sp.GUID); err != nil {
		return err
	}
	return s.enqueue(w, r, a, "route.delete", guidPayload{GUID: rt.GUID})
}
