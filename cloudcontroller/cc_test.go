package cloudcontroller_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestRootDocument(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	var root struct {
		Links map[string]*struct {
			Href string            `json:"href"`
			Meta map[string]string `json:"meta"`
		} `json:"links"`
	}
	c.must(http.StatusOK, http.MethodGet, "/", "", nil).decode(t, &root)
	v3 := root.Links["cloud_controller_v3"]
	if v3 == nil || v3.Href != c.URL+"/v3" || !regexp.MustCompile(`^3\.\d+\.\d+$`).MatchString(v3.Meta["version"]) {
		t.Fatalf("cloud_controller_v3 link %+v", v3)
	}
	for _, k := range []string{"login", "uaa"} {
		if root.Links[k] == nil || root.Links[k].Href != c.uaa.URL {
			t.Errorf("%s link %+v, want %s", k, root.Links[k], c.uaa.URL)
		}
	}
	if root.Links["log_cache"] == nil || root.Links["log_cache"].Href != "http://log-cache.test" {
		t.Errorf("log_cache link %+v", root.Links["log_cache"])
	}
	c.must(http.StatusOK, http.MethodGet, "/v3", "", nil)
	c.must(http.StatusOK, http.MethodGet, "/v3/info", "", nil)
	r := c.must(http.StatusNotFound, http.MethodGet, "/v3/nonsense", c.admin(), nil)
	if code, title, detail := r.cfErr(t); code != 10000 || title != "CF-NotFound" || detail != "Unknown request" {
		t.Fatalf("unknown path: %d %s %s", code, title, detail)
	}
}

// TestCFCLITenancySequences replays what cf create-org, create-space,
// target, orgs, spaces, create-user, set-space-role and space-users send.
func TestCFCLITenancySequences(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	admin := c.admin()

	// cf create-org o1 (twice: the second prints "already exists" and OK).
	var org resource
	c.must(http.StatusCreated, http.MethodPost, "/v3/organizations", admin, map[string]any{"name": "o1", "suspended": false}).decode(t, &org)
	r := c.must(http.StatusUnprocessableEntity, http.MethodPost, "/v3/organizations", admin, map[string]any{"name": "o1", "suspended": false})
	if _, _, d := r.cfErr(t); !regexp.MustCompile(`Organization '.*' already exists\.`).MatchString(d) {
		t.Fatalf("duplicate org detail %q", d)
	}

	// cf create-space s1 -o o1: ORG-LOOKUP, POST space, then roles for the
	// creator by username (from the JWT), org_user twice.
	l := c.list("/v3/organizations?names=o1&per_page=1&page=1", admin)
	if len(l.Resources) != 1 || l.Resources[0].GUID != org.GUID {
		t.Fatalf("org lookup %+v", l)
	}
	var space resource
	c.must(http.StatusCreated, http.MethodPost, "/v3/spaces", admin, map[string]any{
		"name": "s1", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": org.GUID}}},
	}).decode(t, &space)
	r = c.must(http.StatusUnprocessableEntity, http.MethodPost, "/v3/spaces", admin, map[string]any{
		"name": "s1", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": org.GUID}}},
	})
	if _, _, d := r.cfErr(t); !strings.Contains(d, "Name must be unique per organization") {
		t.Fatalf("duplicate space detail %q", d)
	}
	byName := func(typ, rel, guid string) map[string]any {
		return map[string]any{"type": typ, "relationships": map[string]any{
			rel:    map[string]any{"data": map[string]string{"guid": guid}},
			"user": map[string]any{"data": map[string]string{"username": "admin", "origin": "uaa"}},
		}}
	}
	roleRe := regexp.MustCompile(`User '.*' already has '.*' role.*`)
	c.must(http.StatusCreated, http.MethodPost, "/v3/roles", admin, byName("organization_user", "organization", org.GUID))
	c.must(http.StatusCreated, http.MethodPost, "/v3/roles", admin, byName("space_manager", "space", space.GUID))
	r = c.must(http.StatusUnprocessableEntity, http.MethodPost, "/v3/roles", admin, byName("organization_user", "organization", org.GUID))
	if _, _, d := r.cfErr(t); !roleRe.MatchString(d) {
		t.Fatalf("duplicate role detail %q does not match the CLI's regex", d)
	}
	c.must(http.StatusCreated, http.MethodPost, "/v3/roles", admin, byName("space_developer", "space", space.GUID))

	// cf orgs / cf spaces / cf target -o o1 -s s1.
	l = c.list("/v3/organizations?order_by=name", admin)
	if len(l.Resources) != 2 || l.Resources[0].Name != "o1" || l.Resources[1].Name != "system" {
		t.Fatalf("orgs %+v", l.Resources)
	}
	l = c.list("/v3/spaces?order_by=name&organization_guids="+org.GUID, admin)
	if len(l.Resources) != 1 || l.Resources[0].Name != "s1" || l.Resources[0].Relationships["organization"].Data.GUID != org.GUID {
		t.Fatalf("spaces %+v", l.Resources)
	}
	l = c.list("/v3/spaces?names=s1&organization_guids="+org.GUID+"&per_page=1&page=1", admin)
	if len(l.Resources) != 1 {
		t.Fatalf("space lookup %+v", l)
	}

	// cf create-user bob pw: UAA creates it, then POST /v3/users {guid}.
	c.uaa.addUser("bob-guid", "bob")
	c.must(http.StatusCreated, http.MethodPost, "/v3/users", admin, map[string]string{"guid": "bob-guid"})
	r = c.must(http.StatusUnprocessableEntity, http.MethodPost, "/v3/users", admin, map[string]string{"guid": "bob-guid"})

	// cf set-space-role bob o1 s1 SpaceDeveloper: org_user then
	// space_developer, by username without origin.
	bobRole := func(typ, rel, guid string) map[string]any {
		return map[string]any{"type": typ, "relationships": map[string]any{
			rel:    map[string]any{"data": map[string]string{"guid": guid}},
			"user": map[string]any{"data": map[string]string{"username": "bob"}},
		}}
	}
	// A space role before an org role is refused.
	c.must(http.StatusUnprocessableEntity, http.MethodPost, "/v3/roles", admin, bobRole("space_developer", "space", space.GUID))
	c.must(http.StatusCreated, http.MethodPost, "/v3/roles", admin, bobRole("organization_user", "organization", org.GUID))
	c.must(http.StatusCreated, http.MethodPost, "/v3/roles", admin, bobRole("space_developer", "space", space.GUID))
	r = c.must(http.StatusUnprocessableEntity, http.MethodPost, "/v3/roles", admin, bobRole("space_developer", "space", space.GUID))
	if _, _, d := r.cfErr(t); !roleRe.MatchString(d) {
		t.Fatalf("duplicate space role %q", d)
	}
	// A user UAA does not know.
	r = c.must(http.StatusUnprocessableEntity, http.MethodPost, "/v3/roles", admin, map[string]any{"type": "organization_user", "relationships": map[string]any{
		"organization": map[string]any{"data": map[string]string{"guid": org.GUID}},
		"user":         map[string]any{"data": map[string]string{"username": "nobody"}},
	}})
	if _, _, d := r.cfErr(t); d != "No user exists with the username 'nobody' and origin 'uaa'." {
		t.Fatalf("unknown user detail %q", d)
	}

	// cf space-users o1 s1.
	l = c.list("/v3/roles?include=user&space_guids="+space.GUID, admin)
	if len(l.Resources) != 3 || len(l.Included["users"]) != 2 {
		t.Fatalf("space roles %+v included %+v", l.Resources, l.Included)
	}
	names := map[string]bool{}
	for _, u := range l.Included["users"] {
		names[u["presentation_name"].(string)] = true
		if u["origin"] != "uaa" {
			t.Errorf("included user %+v has no origin", u)
		}
	}
	if !names["admin"] || !names["bob"] {
		t.Fatalf("included users %+v", l.Included["users"])
	}

	// bob now sees o1 and s1, and nothing else.
	bob := c.user("bob-guid", "bob")
	if l := c.list("/v3/organizations", bob); len(l.Resources) != 1 || l.Resources[0].GUID != org.GUID {
		t.Fatalf("bob's orgs %+v", l.Resources)
	}
	if l := c.list("/v3/spaces", bob); len(l.Resources) != 1 || l.Resources[0].GUID != space.GUID {
		t.Fatalf("bob's spaces %+v", l.Resources)
	}

	// Deleting the org is a job the CLI polls.
	r = c.must(http.StatusAccepted, http.MethodDelete, "/v3/organizations/"+org.GUID, admin, nil)
	loc := r.Header.Get("Location")
	if u, err := url.Parse(loc); err != nil || !u.IsAbs() {
		t.Fatalf("job Location %q is not absolute", loc)
	}
	var job struct {
		State string `json:"state"`
	}
	c.must(http.StatusOK, http.MethodGet, loc, admin, nil).decode(t, &job)
	if job.State != "COMPLETE" {
		t.Fatalf("job state %q", job.State)
	}
	c.must(http.StatusNotFound, http.MethodGet, "/v3/organizations/"+org.GUID, admin, nil)
	if l := c.list("/v3/roles?space_guids="+space.GUID, admin); len(l.Resources) != 0 {
		t.Fatalf("roles survived their org: %+v", l.Resources)
	}
}

// TestJobSurvivesRestart: a queued job whose worker died (its lease ran
// out) is run by the next worker, so an accepted delete is never lost.
func TestJobSurvivesRestart(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	org := c.createOrg("orphaned-delete")
	pool, err := pgxpool.New(context.Background(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// What a Cloud Controller that died mid-job leaves behind: the job
	// claimed, its lease expired.
	var job string
	err = pool.QueryRow(context.Background(), `INSERT INTO jobs (guid, operation, state, user_guid, payload, attempts, lease_until)
		VALUES (gen_random_uuid(), 'organization.delete', 'PROCESSING', 'admin-guid', jsonb_build_object('guid', $1::text), 1, now() - interval '1 second')
		RETURNING guid::text`, org).Scan(&job)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		var j struct {
			State string `json:"state"`
		}
		c.must(http.StatusOK, http.MethodGet, "/v3/jobs/"+job, c.admin(), nil).decode(t, &j)
		if j.State != "COMPLETE" {
			return fmt.Errorf("job state %s", j.State)
		}
		return nil
	})
	c.must(http.StatusNotFound, http.MethodGet, "/v3/organizations/"+org, c.admin(), nil)
}

// TestCFSpaceReads: what `cf space` reads besides the space itself.
func TestCFSpaceReads(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	admin := c.admin()
	space := c.createSpace(c.createOrg("reads"), "s")
	for _, path := range []string{
		"/v3/apps?space_guids=" + space,
		"/v3/spaces/" + space + "/running_security_groups",
		"/v3/spaces/" + space + "/staging_security_groups",
		"/v3/service_instances?space_guids=" + space,
	} {
		if l := c.list(path, admin); len(l.Resources) != 0 || l.Pagination.TotalPages != 1 {
			t.Errorf("%s: %+v", path, l)
		}
	}
	var rel struct {
		Data  *struct{} `json:"data"`
		Links map[string]struct {
			Href string `json:"href"`
		} `json:"links"`
	}
	c.must(http.StatusOK, http.MethodGet, "/v3/spaces/"+space+"/relationships/isolation_segment", admin, nil).decode(t, &rel)
	if rel.Data != nil || rel.Links["self"].Href == "" {
		t.Fatalf("isolation segment relationship %+v", rel)
	}
	c.must(http.StatusNotFound, http.MethodGet, "/v3/spaces/00000000-0000-0000-0000-000000000000/running_security_groups", admin, nil)
	r := c.must(http.StatusNotFound, http.MethodGet, "/v3/apps/00000000-0000-0000-0000-000000000000/routes", admin, nil)
	if _, _, d := r.cfErr(t); d != "App not found" {
		t.Fatalf("app routes detail %q", d)
	}
}

func TestOrgAndSpaceUsersAndUsage(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	admin := c.admin()
	org := c.createOrg("people")
	space := c.createSpace(org, "s")
	c.createOrg("elsewhere")
	c.user("ann-guid", "ann")
	c.user("ben-guid", "ben")
	c.grant("organization_user", "ann-guid", org)
	c.grant("organization_user", "ben-guid", org)
	c.grant("space_developer", "ben-guid", space)

	names := func(path string) string {
		var out []string
		var l struct {
			Resources []struct {
				Username string `json:"username"`
			} `json:"resources"`
		}
		c.must(http.StatusOK, http.MethodGet, path, admin, nil).decode(t, &l)
		for _, u := range l.Resources {
			out = append(out, u.Username)
		}
		return strings.Join(out, ",")
	}
	if got := names("/v3/organizations/" + org + "/users?order_by=created_at"); got != "ann,ben" {
		t.Fatalf("org users %q", got)
	}
	if got := names("/v3/spaces/" + space + "/users"); got != "ben" {
		t.Fatalf("space users %q", got)
	}
	c.must(http.StatusNotFound, http.MethodGet, "/v3/spaces/"+space+"/users", c.user("stranger-guid", "stranger"), nil)

	var u struct {
		UsageSummary map[string]int `json:"usage_summary"`
	}
	c.must(http.StatusOK, http.MethodGet, "/v3/organizations/"+org+"/usage_summary", admin, nil).decode(t, &u)
	if u.UsageSummary["routes"] != 0 || u.UsageSummary["started_instances"] != 0 {
		t.Fatalf("usage %+v", u)
	}
}
