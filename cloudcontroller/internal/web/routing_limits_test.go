package web

import (
	"net/http"
	"testing"
)

// TestRoutingFlagsAndQuotas: route and private-domain creation obey the
// route_creation and private_domain_creation feature flags and the
// organization quota.
func TestRoutingFlagsAndQuotas(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	routeBody := func(host string) map[string]any {
		return map[string]any{"host": host, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(e.sharedDomain.GUID)}}
	}

	e.want(e.do(e.admin, "PATCH", "/v3/feature_flags/route_creation", map[string]any{"enabled": false}), http.StatusOK)
	e.wantErr(e.do(e.dev, "POST", "/v3/routes", routeBody("blocked")), http.StatusForbidden, "Feature Disabled: route_creation")
	e.want(e.do(e.admin, "PATCH", "/v3/feature_flags/route_creation", map[string]any{"enabled": true}), http.StatusOK)

	e.want(e.do(e.admin, "PATCH", "/v3/feature_flags/private_domain_creation", map[string]any{"enabled": false}), http.StatusOK)
	e.wantErr(e.do(e.orgMgr, "POST", "/v3/domains", map[string]any{
		"name": "blocked.test", "relationships": map[string]any{"organization": rel(e.org.GUID)},
	}), http.StatusForbidden, "Feature Disabled: private_domain_creation")
	e.want(e.do(e.admin, "PATCH", "/v3/feature_flags/private_domain_creation", map[string]any{"enabled": true}), http.StatusOK)

	// A quota of one route and one private domain.
	q := e.want(e.do(e.admin, "POST", "/v3/organization_quotas", map[string]any{
		"name":          "tiny",
		"routes":        map[string]any{"total_routes": 1},
		"domains":       map[string]any{"total_domains": 1},
		"relationships": map[string]any{"organizations": map[string]any{"data": []any{map[string]any{"guid": e.org.GUID}}}},
	}), http.StatusCreated)
	if q["guid"] == "" {
		t.Fatal("no quota guid")
	}
	e.want(e.do(e.dev, "POST", "/v3/routes", routeBody("first")), http.StatusCreated)
	e.wantErr(e.do(e.dev, "POST", "/v3/routes", routeBody("second")), http.StatusUnprocessableEntity, "Routes quota exceeded for organization 'org'.")
	e.privateDomain("one.test")
	e.wantErr(e.do(e.orgMgr, "POST", "/v3/domains", map[string]any{
		"name": "two.test", "relationships": map[string]any{"organization": rel(e.org.GUID)},
	}), http.StatusUnprocessableEntity, `The number of private domains exceeds the quota for organization "org"`)
}
