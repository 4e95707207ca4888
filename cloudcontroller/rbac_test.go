package cloudcontroller_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestRBACMatrix checks role × endpoint × verb: each persona gets the
// status CF gives it.
func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	org := c.createOrg("rbac-org")
	space := c.createSpace(org, "rbac-space")
	other := c.createOrg("other-org")
	otherSpace := c.createSpace(other, "other-space")
	var created resource
	c.must(http.StatusCreated, http.MethodPost, "/v3/apps", c.admin(), map[string]any{
		"name": "rbac-app", "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}},
	}).decode(t, &created)
	app := created.GUID

	type persona struct {
		name  string
		token string
	}
	mk := func(name string, grants func(guid string), scopes ...string) persona {
		guid := name + "-guid"
		tok := c.user(guid, name, scopes...)
		c.must(http.StatusOK, http.MethodGet, "/v3/organizations", tok, nil) // CC meets the user
		if grants != nil {
			grants(guid)
		}
		return persona{name, tok}
	}
	admin := persona{"admin", c.admin()}
	readOnly := mk("read_only_admin", nil, "cloud_controller.admin_read_only")
	auditor := mk("global_auditor", nil, "cloud_controller.global_auditor")
	orgManager := mk("org_manager", func(g string) { c.grant("organization_manager", g, org) })
	orgAuditor := mk("org_auditor", func(g string) { c.grant("organization_auditor", g, org) })
	orgUser := mk("org_user", func(g string) { c.grant("organization_user", g, org) })
	spaceDev := mk("space_developer", func(g string) {
		c.grant("organization_user", g, org)
		c.grant("space_developer", g, space)
	})
	spaceManager := mk("space_manager", func(g string) {
		c.grant("organization_user", g, org)
		c.grant("space_manager", g, space)
	})
	spaceAuditor := mk("space_auditor", func(g string) {
		c.grant("organization_user", g, org)
		c.grant("space_auditor", g, space)
	})
	outsider := mk("outsider", nil)
	// target only receives roles in the checks below.
	mk("target", func(g string) { c.grant("organization_user", g, org) })
	noWrite := mk("read_only_token", func(g string) {
		c.grant("organization_manager", g, org)
	}, "cloud_controller.read")
	personas := []persona{admin, readOnly, auditor, orgManager, orgAuditor, orgUser, spaceDev, spaceManager, spaceAuditor, outsider, noWrite}

	newSpace := func(name string) any {
		return map[string]any{"name": name, "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": org}}}}
	}
	type check struct {
		name         string
		method, path string
		body         func(p persona) any
		want         map[string]int // persona → status; missing means the default
		def          int
	}
	checks := []check{
		{name: "get org", method: "GET", path: "/v3/organizations/" + org, def: 200,
			want: map[string]int{"outsider": 404}},
		{name: "get other org", method: "GET", path: "/v3/organizations/" + other, def: 404,
			want: map[string]int{"admin": 200, "read_only_admin": 200, "global_auditor": 200}},
		{name: "get space", method: "GET", path: "/v3/spaces/" + space, def: 200,
			want: map[string]int{"outsider": 404, "org_auditor": 404, "org_user": 404}},
		{name: "get other space", method: "GET", path: "/v3/spaces/" + otherSpace, def: 404,
			want: map[string]int{"admin": 200, "read_only_admin": 200, "global_auditor": 200}},
		{name: "rename org", method: "PATCH", path: "/v3/organizations/" + org, body: func(persona) any {
			return map[string]any{"metadata": map[string]any{"labels": map[string]string{"k": "v"}}}
		},
			def: 403, want: map[string]int{"admin": 200, "org_manager": 200, "outsider": 404}},
		{name: "create space", method: "POST", path: "/v3/spaces", body: func(p persona) any { return newSpace("new-" + p.name) },
			def: 403, want: map[string]int{"admin": 201, "org_manager": 201, "outsider": 422}},
		{name: "create org", method: "POST", path: "/v3/organizations", body: func(p persona) any { return map[string]any{"name": "org-by-" + p.name} },
			def: 403, want: map[string]int{"admin": 201}},
		{name: "update space", method: "PATCH", path: "/v3/spaces/" + space, body: func(persona) any {
			return map[string]any{"metadata": map[string]any{"annotations": map[string]string{"a": "b"}}}
		},
			def: 403, want: map[string]int{"admin": 200, "org_manager": 200, "space_manager": 200, "outsider": 404, "org_auditor": 404, "org_user": 404}},
		{name: "add space role", method: "POST", path: "/v3/roles", body: func(persona) any {
			return map[string]any{"type": "space_auditor", "relationships": map[string]any{
				"space": map[string]any{"data": map[string]string{"guid": space}},
				"user":  map[string]any{"data": map[string]string{"guid": "target-guid"}},
			}}
		}, def: 403, want: map[string]int{"admin": 201, "org_manager": 422, "space_manager": 422, "outsider": 422, "org_auditor": 422, "org_user": 422}},
		{name: "list roles of the space", method: "GET", path: "/v3/roles?space_guids=" + space, def: 200},
		{name: "get app", method: "GET", path: "/v3/apps/" + app, def: 200,
			want: map[string]int{"outsider": 404, "org_auditor": 404, "org_user": 404}},
		{name: "get app env", method: "GET", path: "/v3/apps/" + app + "/env", def: 403,
			want: map[string]int{"admin": 200, "read_only_admin": 200, "space_developer": 200, "outsider": 404, "org_auditor": 404, "org_user": 404}},
		{name: "update app", method: "PATCH", path: "/v3/apps/" + app, body: func(persona) any {
			return map[string]any{"metadata": map[string]any{"labels": map[string]string{"k": "v"}}}
		}, def: 403, want: map[string]int{"admin": 200, "space_developer": 200, "outsider": 404, "org_auditor": 404, "org_user": 404}},
		{name: "scale web", method: "POST", path: "/v3/apps/" + app + "/processes/web/actions/scale", body: func(persona) any {
			return map[string]any{"instances": 1}
		}, def: 403, want: map[string]int{"admin": 202, "space_developer": 202, "outsider": 404, "org_auditor": 404, "org_user": 404}},
		{name: "web stats", method: "GET", path: "/v3/apps/" + app + "/processes/web/stats", def: 200,
			want: map[string]int{"outsider": 404, "org_auditor": 404, "org_user": 404}},
		{name: "list app tasks", method: "GET", path: "/v3/apps/" + app + "/tasks", def: 200,
			want: map[string]int{"outsider": 404, "org_auditor": 404, "org_user": 404}},
		// The app has no droplet: those allowed to create get CF's 422.
		{name: "create task", method: "POST", path: "/v3/apps/" + app + "/tasks", body: func(persona) any {
			return map[string]any{"command": "echo hi"}
		}, def: 403, want: map[string]int{"admin": 422, "space_developer": 422, "outsider": 404, "org_auditor": 404, "org_user": 404}},
		{name: "list app usage events", method: "GET", path: "/v3/app_usage_events", def: 200},
		{name: "purge app usage events", method: "POST", path: "/v3/app_usage_events/actions/destructively_purge_all_and_reseed", def: 403,
			want: map[string]int{"admin": 200}},
	}
	for _, ck := range checks {
		for _, p := range personas {
			want := ck.def
			if w, ok := ck.want[p.name]; ok {
				want = w
			}
			var body any
			if ck.body != nil {
				body = ck.body(p)
			}
			r := c.do(ck.method, ck.path, p.token, body)
			// The first persona allowed to add the space role creates it;
			// the next ones meet the duplicate (422), which is also
			// "allowed".
			if ck.name == "add space role" && r.Status == 422 && want == 422 {
				continue
			}
			if r.Status != want {
				t.Errorf("%s as %s: got %d %s, want %d", ck.name, p.name, r.Status, strings.TrimSpace(string(r.Body)), want)
			}
		}
	}

	// Lists are filtered to what each persona may see.
	counts := map[string][2]int{ // persona → {orgs, spaces} among the four created (+ system org for globals)
		"admin": {3, 2}, "read_only_admin": {3, 2}, "global_auditor": {3, 2},
		"org_manager": {1, 1}, "org_auditor": {1, 0}, "org_user": {1, 0},
		"space_developer": {1, 1}, "space_manager": {1, 1}, "space_auditor": {1, 1}, "outsider": {0, 0},
	}
	for _, p := range personas {
		want, ok := counts[p.name]
		if !ok {
			continue
		}
		orgs := c.list("/v3/organizations?names=rbac-org,other-org,system", p.token)
		spaces := c.list("/v3/spaces?names=rbac-space,other-space", p.token)
		if len(orgs.Resources) != want[0] || len(spaces.Resources) != want[1] {
			t.Errorf("%s sees %d orgs and %d spaces, want %d and %d", p.name, len(orgs.Resources), len(spaces.Resources), want[0], want[1])
		}
	}
}

// TestDeleteOrgRBAC: only admins delete organizations; global readers see
// them but may not.
func TestDeleteOrgRBAC(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	org := c.createOrg("doomed")
	mgr := c.user("mgr-guid", "mgr")
	c.must(http.StatusOK, http.MethodGet, "/v3/organizations", mgr, nil)
	c.grant("organization_manager", "mgr-guid", org)
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"read-only admin", c.user("ro-guid", "ro", "cloud_controller.admin_read_only"), 403},
		{"global auditor", c.user("ga-guid", "ga", "cloud_controller.global_auditor"), 403},
		{"org manager", mgr, 403},
		{"outsider", c.user("out-guid", "out"), 404},
		{"admin", c.admin(), 202},
	} {
		if r := c.do(http.MethodDelete, "/v3/organizations/"+org, tc.token, nil); r.Status != tc.want {
			t.Errorf("delete as %s: %d %s, want %d", tc.name, r.Status, r.Body, tc.want)
		}
	}
}
