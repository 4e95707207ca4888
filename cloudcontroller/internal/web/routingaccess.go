package web

import (
	"context"
	"net/http"
	"slices"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Who may do what with routes and domains, as CF's Permissions grants it:
//
//   - routes are read by global readers, every space role of the route's
//     space, and the managers and auditors of its organization;
//   - routes and their destinations are written (with cloud_controller.write)
//     by admins and the space's developers, supporters and managers;
//   - a private domain is seen by anyone with a role in its owning
//     organization or in an organization it is shared with; shared domains
//     are seen by everyone;
//   - a private domain is written by admins and its owning organization's
//     managers; shared domains by admins only.

// routeReadableOrgRoles are the organization roles that read every route
// of the organization.
var routeReadableOrgRoles = []string{store.OrgManager, store.OrgAuditor}

// routeWriteSpaceRoles are the space roles that create, change and delete
// routes and map them to apps.
var routeWriteSpaceRoles = []string{store.SpaceDeveloper, store.SpaceSupporter, store.SpaceManager}

// routeReadScope returns the spaces whose routes the caller reads and the
// organizations all of whose routes it reads.
func routeReadScope(ctx context.Context, a *Actor) (spaces, orgs []string, err error) {
	acc, err := a.Access(ctx)
	if err != nil {
		return nil, nil, err
	}
	spaces, orgs = []string{}, []string{}
	for sp := range acc.SpaceRoles {
		spaces = append(spaces, sp)
	}
	for org, types := range acc.OrgRoles {
		if slices.ContainsFunc(types, func(t string) bool { return slices.Contains(routeReadableOrgRoles, t) }) {
			orgs = append(orgs, org)
		}
	}
	return spaces, orgs, nil
}

// routeVisibility restricts a route filter to the routes the caller reads.
func routeVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	spaces, orgs, err := routeReadScope(r.Context(), a)
	if err != nil {
		return err
	}
	f.Where("(t.space_guid = ANY(?::uuid[]) OR t.space_guid IN (SELECT vs.guid FROM spaces vs WHERE vs.organization_guid = ANY(?::uuid[])))", spaces, orgs)
	return nil
}

// canReadRoutesIn reports whether the caller reads the routes of sp.
func canReadRoutesIn(ctx context.Context, a *Actor, sp store.Space) (bool, error) {
	if a.GlobalReader() {
		return true, nil
	}
	acc, err := a.Access(ctx)
	if err != nil {
		return false, err
	}
	if len(acc.SpaceRoles[sp.GUID]) > 0 {
		return true, nil
	}
	return a.HasOrgRole(ctx, sp.OrgGUID, routeReadableOrgRoles...)
}

// requireRouteWrite fails with 403 unless the caller may write routes in
// space.
func requireRouteWrite(ctx context.Context, a *Actor, space string) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	if a.Admin() {
		return nil
	}
	ok, err := a.HasSpaceRole(ctx, space, routeWriteSpaceRoles...)
	if err != nil {
		return err
	}
	if !ok {
		return apierr.NotAuthorized()
	}
	return nil
}

// domainVisibility restricts a domain filter to the domains the caller
// sees.
func domainVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	orgs, err := a.VisibleOrgs(r.Context())
	if err != nil {
		return err
	}
	f.Where(`(t.organization_guid IS NULL OR t.organization_guid = ANY(?::uuid[])
		OR t.guid IN (SELECT so.domain_guid FROM domain_shared_organizations so WHERE so.organization_guid = ANY(?::uuid[])))`, orgs, orgs)
	return nil
}

// orgSet tells which organizations the caller sees, for filtering the
// shared organizations a domain shows.
type orgSet struct {
	all  bool
	orgs map[string]bool
}

func (o orgSet) has(org string) bool { return o.all || o.orgs[org] }

func visibleOrgSet(ctx context.Context, a *Actor) (orgSet, error) {
	if a.GlobalReader() {
		return orgSet{all: true}, nil
	}
	orgs, err := a.VisibleOrgs(ctx)
	if err != nil {
		return orgSet{}, err
	}
	set := orgSet{orgs: map[string]bool{}}
	for _, o := range orgs {
		set.orgs[o] = true
	}
	return set, nil
}

// canSeeDomain reports whether the caller sees d.
func canSeeDomain(ctx context.Context, a *Actor, d store.Domain) (bool, error) {
	if d.Shared() || a.GlobalReader() {
		return true, nil
	}
	set, err := visibleOrgSet(ctx, a)
	if err != nil {
		return false, err
	}
	if set.has(d.OrgGUID) {
		return true, nil
	}
	return slices.ContainsFunc(d.SharedOrgGUIDs, set.has), nil
}

// canManageOrg reports whether the caller may write an organization's
// domains: an admin, or (with cloud_controller.write) its manager. org ""
// (a shared domain) is for admins only.
func canManageOrg(ctx context.Context, a *Actor, org string) (bool, error) {
	if a.Admin() {
		return true, nil
	}
	if !a.CanWrite() || org == "" {
		return false, nil
	}
	return a.HasOrgRole(ctx, org, store.OrgManager)
}
