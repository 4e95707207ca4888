package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
)

// Integration tests of feature flags, organization and space quotas and
// audit events: a Server over a fresh Postgres database, served by
// httptest, called with tokens from tokentest.

// qfeEnv is one server with its own database.
type qfeEnv struct {
	t     *testing.T
	url   string
	st    *store.Store
	pool  *pgxpool.Pool
	srv   *Server
	iss   *tokentest.Issuer
	admin string
	logs  *testenv.LogRecorder
	// defaultQuota is the bootstrap quota.
	defaultQuota store.OrgQuota
}

func qfeSetup(t *testing.T) *qfeEnv {
	t.Helper()
	pool, err := pg.Connect(t.Context(), pg.Config{DSN: testenv.Postgres(t)}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	if err := st.Migrate(t.Context(), testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	dq, err := st.EnsureDefaultOrgQuota(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	iss := tokentest.New(t)
	ts := httptest.NewUnstartedServer(nil)
	e := &qfeEnv{t: t, url: "http://" + ts.Listener.Addr().String(), st: st, pool: pool, iss: iss, defaultQuota: dq, logs: testenv.NewLogRecorder(t)}
	e.srv = New(Options{ExternalURL: e.url, MaxBodyBytes: 1 << 20}, Deps{Store: st, Verifier: iss.Verifier(t), Logger: e.logs.Logger()})
	ts.Config.Handler = e.srv
	ts.Start()
	t.Cleanup(ts.Close)
	startJobs(t, e.srv) // deletes are queued
	e.admin = e.user("admin-guid", "admin", apiuaa.ScopeCloudControllerAdmin)
	return e
}

// user returns a token for a user and makes the Cloud Controller know the
// user (CF creates users on first contact).
func (e *qfeEnv) user(guid, name string, scopes ...string) string {
	e.t.Helper()
	tok := e.iss.UserToken(e.t, guid, name, scopes...)
	e.req(tok, "GET", "/v3/organizations", nil, http.StatusOK)
	return tok
}

// dev returns a token of a user with read and write scopes.
func (e *qfeEnv) dev(guid string) string {
	e.t.Helper()
	return e.user(guid, guid+"-name", apiuaa.ScopeCloudControllerRead, apiuaa.ScopeCloudControllerWrite)
}

type qfeResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *qfeEnv) do(tok, method, path string, body any) qfeResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.url + path
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "bearer "+tok)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := qfeResp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return out
}

// req makes a request and fails unless it answers want.
func (e *qfeEnv) req(tok, method, path string, body any, want int) map[string]any {
	e.t.Helper()
	r := e.do(tok, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r.body
}

// wantErr makes a request and checks CF's error envelope: status, numeric
// code, and the exact detail (or, with a "~" prefix, a substring).
func (e *qfeEnv) wantErr(tok, method, path string, body any, status int, detail string) {
	e.t.Helper()
	r := e.do(tok, method, path, body)
	if r.status != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.raw)
	}
	errs, _ := r.body["errors"].([]any)
	if len(errs) != 1 {
		e.t.Fatalf("%s %s: want one error, got %s", method, path, r.raw)
	}
	first := errs[0].(map[string]any)
	if _, ok := first["code"].(float64); !ok {
		e.t.Errorf("%s %s: code is not a number: %s", method, path, r.raw)
	}
	got, _ := first["detail"].(string)
	if sub, ok := strings.CutPrefix(detail, "~"); ok {
		if !strings.Contains(got, sub) {
			e.t.Errorf("%s %s: detail %q does not contain %q", method, path, got, sub)
		}
	} else if got != detail {
		e.t.Errorf("%s %s: detail %q, want %q", method, path, got, detail)
	}
}

// waitJob polls a job Location until it is COMPLETE or FAILED and returns
// the state.
func (e *qfeEnv) waitJob(r qfeResp) string {
	e.t.Helper()
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, e.url+"/v3/jobs/") {
		e.t.Fatalf("Location %q is not an absolute job URL", loc)
	}
	var state string
	testenv.Eventually(e.t, 5*time.Second, func() error {
		state, _ = e.req(e.admin, "GET", loc, nil, http.StatusOK)["state"].(string)
		if state == "COMPLETE" || state == "FAILED" {
			return nil
		}
		return fmt.Errorf("job state %s", state)
	})
	return state
}

func (e *qfeEnv) org(name string) string {
	e.t.Helper()
	return qfeStr(e.req(e.admin, "POST", "/v3/organizations", map[string]any{"name": name}, http.StatusCreated), "guid")
}

func (e *qfeEnv) space(org, name string) string {
	e.t.Helper()
	return qfeStr(e.req(e.admin, "POST", "/v3/spaces", map[string]any{
		"name": name, "relationships": map[string]any{"organization": map[string]any{"data": map[string]any{"guid": org}}},
	}, http.StatusCreated), "guid")
}

// role gives user a role in an organization (kind "organization") or a
// space (kind "space") and returns the role guid.
func (e *qfeEnv) role(typ, user, kind, guid string) string {
	e.t.Helper()
	return qfeStr(e.req(e.admin, "POST", "/v3/roles", map[string]any{
		"type": typ,
		"relationships": map[string]any{
			"user": map[string]any{"data": map[string]any{"guid": user}},
			kind:   map[string]any{"data": map[string]any{"guid": guid}},
		},
	}, http.StatusCreated), "guid")
}

// qfeAt walks decoded JSON by map keys and slice indexes.
func qfeAt(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			s, _ := v.([]any)
			if k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func qfeStr(v any, path ...any) string { s, _ := qfeAt(v, path...).(string); return s }

// qfeGUIDs returns the guids of a list's resources (or of a relationship's
// data).
func qfeGUIDs(v any, path ...any) []string {
	items, _ := qfeAt(v, path...).([]any)
	out := []string{}
	for _, it := range items {
		out = append(out, qfeStr(it, "guid"))
	}
	return out
}

func qfeNames(v any) []string {
	items, _ := qfeAt(v, "resources").([]any)
	out := []string{}
	for _, it := range items {
		out = append(out, qfeStr(it, "name"))
	}
	return out
}

func qfeSameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// ---------------------------------------------------------------- feature flags

func TestFeatureFlagsListAndGet(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	reader := e.user("reader", "reader", apiuaa.ScopeCloudControllerRead)

	all := e.req(reader, "GET", "/v3/feature_flags?per_page=100", nil, http.StatusOK)
	names := qfeNames(all)
	if len(names) != 18 || !slices.IsSorted(names) {
		t.Fatalf("flags = %v, want CF's 18 sorted by name", names)
	}
	want := map[string]bool{
		"user_org_creation": false, "private_domain_creation": true, "app_bits_upload": true, "app_scaling": true,
		"route_creation": true, "service_instance_creation": true, "diego_docker": false, "set_roles_by_username": true,
		"unset_roles_by_username": true, "task_creation": true, "env_var_visibility": true,
		"space_scoped_private_broker_creation": true, "space_developer_env_var_visibility": true,
		"service_instance_sharing": false, "hide_marketplace_from_unauthenticated_users": false,
		"resource_matching": true, "diego_cnb": false, "route_sharing": false,
	}
	for _, f := range qfeAt(all, "resources").([]any) {
		name := qfeStr(f, "name")
		if got := qfeAt(f, "enabled"); got != want[name] {
			t.Errorf("%s enabled = %v, want %v", name, got, want[name])
		}
		if qfeAt(f, "updated_at") != nil || qfeAt(f, "custom_error_message") != nil {
			t.Errorf("%s: a default flag has updated_at and custom_error_message null: %v", name, f)
		}
		if href := qfeStr(f, "links", "self", "href"); href != e.url+"/v3/feature_flags/"+name {
			t.Errorf("%s self = %q", name, href)
		}
	}

	// Pagination: absolute next hrefs that carry the query.
	page := e.req(reader, "GET", "/v3/feature_flags?per_page=5&order_by=-name", nil, http.StatusOK)
	if got := qfeAt(page, "pagination", "total_results"); got != float64(18) {
		t.Errorf("total_results = %v", got)
	}
	if got := qfeAt(page, "pagination", "total_pages"); got != float64(4) {
		t.Errorf("total_pages = %v", got)
	}
	var walked []string
	for next := e.url + "/v3/feature_flags?per_page=5&order_by=-name"; next != ""; {
		p := e.req(reader, "GET", next, nil, http.StatusOK)
		walked = append(walked, qfeNames(p)...)
		next = qfeStr(p, "pagination", "next", "href")
		if next != "" && !strings.HasPrefix(next, e.url) {
			t.Fatalf("next href %q is not absolute", next)
		}
	}
	if len(walked) != 18 || !slices.IsSortedFunc(walked, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("walking pages gave %v, want 18 names in descending order", walked)
	}
	if last := e.req(reader, "GET", "/v3/feature_flags?per_page=5&page=4", nil, http.StatusOK); len(qfeNames(last)) != 3 || qfeAt(last, "pagination", "next") != nil {
		t.Errorf("last page = %v", last)
	}

	got := e.req(reader, "GET", "/v3/feature_flags/diego_docker", nil, http.StatusOK)
	if qfeStr(got, "name") != "diego_docker" || got["enabled"] != false {
		t.Errorf("get diego_docker = %v", got)
	}
	e.wantErr(reader, "GET", "/v3/feature_flags/no_such_flag", nil, http.StatusNotFound, "Feature flag not found")
	e.wantErr(reader, "GET", "/v3/feature_flags?bogus=1", nil, http.StatusBadRequest, "~Unknown query parameter(s): 'bogus'")
	e.wantErr(reader, "GET", "/v3/feature_flags?order_by=enabled", nil, http.StatusBadRequest, "~Order by can only be")
	e.wantErr("", "GET", "/v3/feature_flags", nil, http.StatusUnauthorized, "Authentication error")
}

func TestFeatureFlagsUpdate(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	writer := e.dev("writer")
	before := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)

	// 404 before 403, as CF checks the flag first.
	e.wantErr(writer, "PATCH", "/v3/feature_flags/nope", map[string]any{"enabled": true}, http.StatusNotFound, "Feature flag not found")
	e.wantErr(writer, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"enabled": true}, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.wantErr(e.admin, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"enabled": "yes"}, http.StatusUnprocessableEntity, "Enabled must be a boolean")
	e.wantErr(e.admin, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"enabled": true, "name": "x"}, http.StatusUnprocessableEntity, "Unknown field(s): 'name'")
	e.wantErr(e.admin, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"custom_error_message": 5}, http.StatusUnprocessableEntity, "Custom error message must be a string")
	e.wantErr(e.admin, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"custom_error_message": strings.Repeat("x", 251)}, http.StatusUnprocessableEntity, "Custom error message is too long (maximum is 250 characters)")
	e.wantErr(e.admin, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"custom_error_message": "a\x00b"}, http.StatusUnprocessableEntity, "Custom error message must contain only printable characters")
	e.wantErr(e.admin, "PATCH", "/v3/feature_flags/diego_docker", `{"enabled":`, http.StatusBadRequest, "~Request invalid due to parse error")

	got := e.req(e.admin, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"enabled": true, "custom_error_message": "Docker is off here"}, http.StatusOK)
	if got["enabled"] != true || got["custom_error_message"] != "Docker is off here" || got["updated_at"] == nil {
		t.Fatalf("PATCH = %v", got)
	}
	// Only the given keys change.
	got = e.req(e.admin, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"enabled": false}, http.StatusOK)
	if got["enabled"] != false || got["custom_error_message"] != "Docker is off here" {
		t.Fatalf("PATCH enabled only = %v", got)
	}
	if got := e.req(writer, "GET", "/v3/feature_flags/diego_docker", nil, http.StatusOK); got["custom_error_message"] != "Docker is off here" {
		t.Errorf("GET after PATCH = %v", got)
	}

	// A disabled flag's error carries the custom message.
	a := &Actor{GUID: "writer"}
	ferr := e.srv.requireFlag(t.Context(), a, store.FlagDiegoDocker)
	if ferr == nil || ferr.Error() != "CF-FeatureDisabled (330002): Feature Disabled: Docker is off here" {
		t.Errorf("requireFlag = %v", ferr)
	}
	e.req(e.admin, "PATCH", "/v3/feature_flags/diego_docker", map[string]any{"custom_error_message": nil}, http.StatusOK)
	if ferr := e.srv.requireFlag(t.Context(), a, store.FlagDiegoDocker); ferr == nil || !strings.HasSuffix(ferr.Error(), "Feature Disabled: diego_docker") {
		t.Errorf("requireFlag without message = %v", ferr)
	}
	e.req(e.admin, "PATCH", "/v3/feature_flags/app_scaling", map[string]any{"enabled": false}, http.StatusOK)
	if err := e.srv.requireFlag(t.Context(), &Actor{GUID: "admin", scopes: []string{apiuaa.ScopeCloudControllerAdmin}}, store.FlagAppScaling); err != nil {
		t.Errorf("admins skip app_scaling: %v", err)
	}
	if err := e.srv.requireFlag(t.Context(), a, store.FlagAppScaling); err == nil {
		t.Error("app_scaling off: a user passed")
	}
	if on, err := e.srv.flagEnabled(t.Context(), store.FlagRouteCreation); err != nil || !on {
		t.Errorf("flagEnabled(route_creation) = %v, %v", on, err)
	}
	if _, err := e.srv.flagEnabled(t.Context(), "bogus"); err == nil {
		t.Error("flagEnabled of an unknown flag did not fail")
	}

	// updated_ats sees only flags that were set.
	set := e.req(writer, "GET", "/v3/feature_flags?updated_ats[gt]="+before, nil, http.StatusOK)
	if names := qfeNames(set); !qfeSameSet(names, []string{"app_scaling", "diego_docker"}) {
		t.Errorf("updated_ats[gt] = %v", names)
	}
	if names := qfeNames(e.req(writer, "GET", "/v3/feature_flags?updated_ats[lt]="+before, nil, http.StatusOK)); len(names) != 0 {
		t.Errorf("updated_ats[lt] = %v", names)
	}
	if names := qfeNames(e.req(writer, "GET", "/v3/feature_flags?order_by=-updated_at&per_page=2", nil, http.StatusOK)); !qfeSameSet(names, []string{"app_scaling", "diego_docker"}) {
		t.Errorf("order_by=-updated_at = %v", names)
	}
}

func TestUserOrgCreation(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	alice := e.dev("alice")
	readOnly := e.user("ro", "ro", apiuaa.ScopeCloudControllerRead)

	e.wantErr(alice, "POST", "/v3/organizations", map[string]any{"name": "alice-org"}, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.req(e.admin, "PATCH", "/v3/feature_flags/user_org_creation", map[string]any{"enabled": true}, http.StatusOK)
	e.wantErr(readOnly, "POST", "/v3/organizations", map[string]any{"name": "ro-org"}, http.StatusForbidden, "You are not authorized to perform the requested action")

	org := e.req(alice, "POST", "/v3/organizations", map[string]any{"name": "alice-org"}, http.StatusCreated)
	guid := qfeStr(org, "guid")
	if got := qfeStr(org, "relationships", "quota", "data", "guid"); got != e.defaultQuota.GUID {
		t.Errorf("new org's quota = %q, want the default %s", got, e.defaultQuota.GUID)
	}
	roles := e.req(alice, "GET", "/v3/roles?organization_guids="+guid, nil, http.StatusOK)
	var types []string
	for _, ro := range qfeAt(roles, "resources").([]any) {
		if qfeStr(ro, "relationships", "user", "data", "guid") == "alice" {
			types = append(types, qfeStr(ro, "type"))
		}
	}
	if !qfeSameSet(types, []string{"organization_user", "organization_manager"}) {
		t.Errorf("creator roles = %v", types)
	}
	// The manager can now manage it.
	e.req(alice, "PATCH", "/v3/organizations/"+guid, map[string]any{"name": "alice-org-2"}, http.StatusOK)

	// Admins get no roles.
	adminOrg := e.org("admin-org")
	if roles := e.req(e.admin, "GET", "/v3/roles?organization_guids="+adminOrg, nil, http.StatusOK); len(qfeAt(roles, "resources").([]any)) != 0 {
		t.Errorf("admin-created org has roles: %v", roles)
	}
	// The role events were recorded.
	ev := e.req(e.admin, "GET", "/v3/audit_events?organization_guids="+guid+"&types=audit.user.organization_manager_add,audit.user.organization_user_add", nil, http.StatusOK)
	if n := len(qfeAt(ev, "resources").([]any)); n != 2 {
		t.Errorf("role events = %d, want 2: %v", n, ev)
	}
}

// ---------------------------------------------------------------- organization quotas

func TestOrgQuotasCRUD(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	reader := e.dev("reader")

	// The default quota: CF's default definition, and every new org gets it.
	dq := e.req(reader, "GET", "/v3/organization_quotas/"+e.defaultQuota.GUID, nil, http.StatusOK)
	if qfeStr(dq, "name") != "default" || qfeAt(dq, "apps", "total_memory_in_mb") != float64(10240) ||
		qfeAt(dq, "apps", "per_process_memory_in_mb") != nil || qfeAt(dq, "services", "paid_services_allowed") != true ||
		qfeAt(dq, "routes", "total_routes") != float64(1000) || qfeAt(dq, "domains", "total_domains") != nil {
		t.Errorf("default quota = %v", dq)
	}
	org1 := e.org("org1")
	if got := qfeStr(e.req(e.admin, "GET", "/v3/organizations/"+org1, nil, http.StatusOK), "relationships", "quota", "data", "guid"); got != e.defaultQuota.GUID {
		t.Errorf("org quota relationship = %q", got)
	}
	if _, err := e.st.EnsureDefaultOrgQuota(t.Context()); err != nil {
		t.Fatalf("EnsureDefaultOrgQuota again: %v", err)
	}

	// Create: admin only; null and omitted limits are unlimited.
	body := map[string]any{
		"name":          "gold",
		"apps":          map[string]any{"total_memory_in_mb": 2048, "per_process_memory_in_mb": 512, "total_instances": 10, "per_app_tasks": 3, "log_rate_limit_in_bytes_per_second": nil},
		"services":      map[string]any{"paid_services_allowed": false, "total_service_instances": 5},
		"routes":        map[string]any{"total_routes": 8, "total_reserved_ports": 2},
		"domains":       map[string]any{"total_domains": 1},
		"relationships": map[string]any{"organizations": map[string]any{"data": []any{map[string]any{"guid": org1}}}},
	}
	e.wantErr(reader, "POST", "/v3/organization_quotas", body, http.StatusForbidden, "You are not authorized to perform the requested action")
	gold := e.req(e.admin, "POST", "/v3/organization_quotas", body, http.StatusCreated)
	goldGUID := qfeStr(gold, "guid")
	for path, want := range map[string]any{
		"apps.total_memory_in_mb": float64(2048), "apps.per_process_memory_in_mb": float64(512), "apps.total_instances": float64(10),
		"apps.per_app_tasks": float64(3), "apps.log_rate_limit_in_bytes_per_second": nil, "services.paid_services_allowed": false,
		"services.total_service_instances": float64(5), "services.total_service_keys": nil, "routes.total_routes": float64(8),
		"routes.total_reserved_ports": float64(2), "domains.total_domains": float64(1),
	} {
		sec, key, _ := strings.Cut(path, ".")
		if got := qfeAt(gold, sec, key); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if got := qfeGUIDs(gold, "relationships", "organizations", "data"); !slices.Equal(got, []string{org1}) {
		t.Errorf("gold orgs = %v", got)
	}
	if got := qfeStr(gold, "links", "self", "href"); got != e.url+"/v3/organization_quotas/"+goldGUID {
		t.Errorf("self = %q", got)
	}
	if got := qfeStr(e.req(e.admin, "GET", "/v3/organizations/"+org1, nil, http.StatusOK), "relationships", "quota", "data", "guid"); got != goldGUID {
		t.Errorf("org1 quota after create with relationship = %q", got)
	}
	minimal := e.req(e.admin, "POST", "/v3/organization_quotas", map[string]any{"name": "minimal"}, http.StatusCreated)
	if qfeAt(minimal, "apps", "total_memory_in_mb") != nil || qfeAt(minimal, "services", "paid_services_allowed") != true ||
		len(qfeGUIDs(minimal, "relationships", "organizations", "data")) != 0 {
		t.Errorf("minimal quota = %v", minimal)
	}
	e.wantErr(e.admin, "POST", "/v3/organization_quotas", map[string]any{"name": "gold"}, http.StatusUnprocessableEntity, "Organization Quota 'gold' already exists.")

	// Update: only the named keys change; null is unlimited.
	e.wantErr(reader, "PATCH", "/v3/organization_quotas/"+goldGUID, map[string]any{"name": "x"}, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.wantErr(e.admin, "PATCH", "/v3/organization_quotas/nope", map[string]any{"name": "x"}, http.StatusNotFound, "Organization quota not found")
	up := e.req(e.admin, "PATCH", "/v3/organization_quotas/"+goldGUID, map[string]any{"name": "platinum", "apps": map[string]any{"total_memory_in_mb": nil}, "routes": map[string]any{"total_routes": 20}}, http.StatusOK)
	if qfeStr(up, "name") != "platinum" || qfeAt(up, "apps", "total_memory_in_mb") != nil || qfeAt(up, "apps", "total_instances") != float64(10) ||
		qfeAt(up, "routes", "total_routes") != float64(20) || qfeAt(up, "routes", "total_reserved_ports") != float64(2) || qfeAt(up, "services", "paid_services_allowed") != false {
		t.Errorf("PATCH = %v", up)
	}
	e.wantErr(e.admin, "PATCH", "/v3/organization_quotas/"+goldGUID, map[string]any{"name": "minimal"}, http.StatusUnprocessableEntity, "Organization Quota 'minimal' already exists.")
	e.wantErr(e.admin, "PATCH", "/v3/organization_quotas/"+goldGUID, map[string]any{"relationships": map[string]any{}}, http.StatusUnprocessableEntity, "Unknown field(s): 'relationships'")
	e.wantErr(e.admin, "PATCH", "/v3/organization_quotas/"+goldGUID, map[string]any{"routes": map[string]any{"total_routes": 1}}, http.StatusUnprocessableEntity,
		"Total reserved ports must be -1, 0, or a positive integer, and must be less than or equal to total routes.")

	// Apply to organizations.
	org2 := e.org("org2")
	applyPath := "/v3/organization_quotas/" + goldGUID + "/relationships/organizations"
	rel := map[string]any{"data": []any{map[string]any{"guid": org2}}}
	e.wantErr(reader, "POST", applyPath, rel, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.wantErr(e.admin, "POST", "/v3/organization_quotas/nope/relationships/organizations", rel, http.StatusNotFound, "Organization quota not found")
	e.wantErr(e.admin, "POST", applyPath, map[string]any{"data": []any{map[string]any{"guid": "no-such-org"}, map[string]any{"guid": org2}}}, http.StatusUnprocessableEntity,
		`Organizations with guids ["no-such-org"] do not exist`)
	e.wantErr(e.admin, "POST", applyPath, map[string]any{}, http.StatusUnprocessableEntity, "Data must be an array")
	e.wantErr(e.admin, "POST", applyPath, map[string]any{"data": []any{map[string]any{}}}, http.StatusUnprocessableEntity, "~Data must be structured like this")
	applied := e.req(e.admin, "POST", applyPath, rel, http.StatusOK)
	if got := qfeGUIDs(applied, "data"); !qfeSameSet(got, []string{org1, org2}) {
		t.Errorf("apply data = %v", got)
	}
	if got := qfeStr(applied, "links", "self", "href"); got != e.url+applyPath {
		t.Errorf("apply self = %q", got)
	}

	// Delete: refused while applied, then an asynchronous job.
	e.wantErr(reader, "DELETE", "/v3/organization_quotas/"+goldGUID, nil, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.wantErr(e.admin, "DELETE", "/v3/organization_quotas/"+goldGUID, nil, http.StatusUnprocessableEntity,
		"This quota is applied to one or more organizations. Apply different quotas to those organizations before deleting.")
	e.wantErr(e.admin, "DELETE", "/v3/organization_quotas/nope", nil, http.StatusNotFound, "Organization quota not found")
	r := e.do(e.admin, "DELETE", "/v3/organization_quotas/"+qfeStr(minimal, "guid"), nil)
	if r.status != http.StatusAccepted || e.waitJob(r) != "COMPLETE" {
		t.Fatalf("delete minimal: %d %s", r.status, r.raw)
	}
	e.wantErr(reader, "GET", "/v3/organization_quotas/"+qfeStr(minimal, "guid"), nil, http.StatusNotFound, "Organization quota not found")
}

func TestOrgQuotasValidation(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	tests := []struct {
		name   string
		body   any
		detail string
	}{
		{"no name", map[string]any{}, "Name must be a string"},
		{"blank name", map[string]any{"name": " "}, "Name can't be blank"},
		{"long name", map[string]any{"name": strings.Repeat("n", 251)}, "Name is too long (maximum is 250 characters)"},
		{"name type", map[string]any{"name": 5}, "Name must be a string"},
		{"unknown top-level", map[string]any{"name": "q", "bogus": 1}, "Unknown field(s): 'bogus'"},
		{"apps not object", map[string]any{"name": "q", "apps": 5}, "Apps must be an object"},
		{"apps null", map[string]any{"name": "q", "apps": nil}, "Apps must be an object"},
		{"negative", map[string]any{"name": "q", "apps": map[string]any{"total_memory_in_mb": -1}}, "Apps Total memory in mb must be greater than or equal to 0"},
		{"fraction", map[string]any{"name": "q", "apps": map[string]any{"total_instances": 1.5}}, "Apps Total instances must be an integer"},
		{"string", map[string]any{"name": "q", "routes": map[string]any{"total_routes": "5"}}, "Routes Total routes is not a number"},
		{"too big", map[string]any{"name": "q", "domains": map[string]any{"total_domains": 2147483648}}, "Domains Total domains must be less than or equal to 2147483647"},
		{"paid type", map[string]any{"name": "q", "services": map[string]any{"paid_services_allowed": "yes"}}, "Services Paid services allowed must be a boolean"},
		{"unknown in section", map[string]any{"name": "q", "apps": map[string]any{"memory": 1, "disk": 2}}, "Apps Unknown field(s): 'disk', 'memory'"},
		{"several", map[string]any{"name": "q", "apps": map[string]any{"total_memory_in_mb": -1, "per_app_tasks": -2}, "routes": map[string]any{"total_routes": 0.5}},
			"Apps Total memory in mb must be greater than or equal to 0, Apps Per app tasks must be greater than or equal to 0, Routes Total routes must be an integer"},
		{"ports over routes", map[string]any{"name": "q", "routes": map[string]any{"total_routes": 1, "total_reserved_ports": 2}},
			"Total reserved ports must be -1, 0, or a positive integer, and must be less than or equal to total routes."},
		{"missing org", map[string]any{"name": "q", "relationships": map[string]any{"organizations": map[string]any{"data": []any{map[string]any{"guid": "o-1"}, map[string]any{"guid": "o-2"}}}}},
			`Organizations with guids ["o-1", "o-2"] do not exist, or you do not have access to them.`},
		{"relationship shape", map[string]any{"name": "q", "relationships": map[string]any{"organizations": map[string]any{"data": []any{map[string]any{"guid": ""}}}}},
			`Relationships Organizations must be structured like this: "organizations: [{"guid": "valid-guid"},{"guid": "valid-guid"}]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.wantErr(e.admin, "POST", "/v3/organization_quotas", tt.body, http.StatusUnprocessableEntity, tt.detail)
		})
	}
	// The largest values are accepted.
	big := e.req(e.admin, "POST", "/v3/organization_quotas", map[string]any{"name": "big", "apps": map[string]any{
		"total_memory_in_mb": 2147483647, "log_rate_limit_in_bytes_per_second": json.Number("9223372036854775807")}}, http.StatusCreated)
	if got := qfeAt(big, "apps", "total_memory_in_mb"); got != float64(2147483647) {
		t.Errorf("big = %v", got)
	}
}

func TestOrgQuotasListVisibilityAndFilters(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	orgA, orgB := e.org("a"), e.org("b")
	user := e.dev("user")
	e.role("organization_user", "user", "organization", orgA)
	var quotas []string
	for _, name := range []string{"q1", "q2", "q3"} {
		quotas = append(quotas, qfeStr(e.req(e.admin, "POST", "/v3/organization_quotas", map[string]any{"name": name}, http.StatusCreated), "guid"))
	}
	e.req(e.admin, "POST", "/v3/organization_quotas/"+quotas[0]+"/relationships/organizations", map[string]any{"data": []any{map[string]any{"guid": orgA}, map[string]any{"guid": orgB}}}, http.StatusOK)

	// Every user sees every quota, but only its visible organizations.
	all := e.req(user, "GET", "/v3/organization_quotas?order_by=name", nil, http.StatusOK)
	if got := qfeNames(all); !slices.Equal(got, []string{"default", "q1", "q2", "q3"}) {
		t.Errorf("names = %v", got)
	}
	if got := qfeGUIDs(all, "resources", 1, "relationships", "organizations", "data"); !slices.Equal(got, []string{orgA}) {
		t.Errorf("user sees q1 orgs %v, want only %s", got, orgA)
	}
	if got := qfeGUIDs(e.req(e.admin, "GET", "/v3/organization_quotas/"+quotas[0], nil, http.StatusOK), "relationships", "organizations", "data"); !qfeSameSet(got, []string{orgA, orgB}) {
		t.Errorf("admin sees q1 orgs %v", got)
	}

	for q, want := range map[string][]string{
		"names=q2,q3":                          {"q2", "q3"},
		"guids=" + quotas[2]:                   {"q3"},
		"organization_guids=" + orgA:           {"q1"},
		"order_by=-name&per_page=2":            {"q3", "q2"},
		"order_by=-name&per_page=2&page=2":     {"q1", "default"},
		"names=":                               {},
		"created_ats[lt]=2000-01-01T00:00:00Z": {},
	} {
		if got := qfeNames(e.req(e.admin, "GET", "/v3/organization_quotas?"+q, nil, http.StatusOK)); !slices.Equal(got, want) {
			t.Errorf("?%s = %v, want %v", q, got, want)
		}
	}
	// organization_guids only matches organizations the caller can see.
	if got := qfeNames(e.req(user, "GET", "/v3/organization_quotas?organization_guids="+orgB, nil, http.StatusOK)); len(got) != 0 {
		t.Errorf("user filtering by an invisible org = %v", got)
	}
	p := e.req(e.admin, "GET", "/v3/organization_quotas?per_page=3&names=default,q1,q2,q3", nil, http.StatusOK)
	next := qfeStr(p, "pagination", "next", "href")
	if u, err := url.Parse(next); err != nil || u.Query().Get("names") != "default,q1,q2,q3" || u.Query().Get("page") != "2" {
		t.Errorf("next = %q", next)
	}
	e.wantErr(user, "GET", "/v3/organization_quotas?space_guids=x", nil, http.StatusBadRequest, "~Unknown query parameter(s): 'space_guids'")
}

// ---------------------------------------------------------------- space quotas

func TestSpaceQuotas(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	org, other := e.org("org"), e.org("other")
	sp1, sp2, otherSp := e.space(org, "s1"), e.space(org, "s2"), e.space(other, "o1")
	mgr, orgUser, dev, stranger := e.dev("mgr"), e.dev("orguser"), e.dev("dev"), e.dev("stranger")
	e.role("organization_manager", "mgr", "organization", org)
	e.role("organization_user", "orguser", "organization", org)
	e.role("organization_user", "dev", "organization", org)
	e.role("space_developer", "dev", "space", sp1)
	e.role("organization_user", "stranger", "organization", other)

	body := func(name string, spaces ...string) map[string]any {
		data := []any{}
		for _, s := range spaces {
			data = append(data, map[string]any{"guid": s})
		}
		return map[string]any{
			"name": name, "apps": map[string]any{"total_memory_in_mb": 1024},
			"relationships": map[string]any{"organization": map[string]any{"data": map[string]any{"guid": org}}, "spaces": map[string]any{"data": data}},
		}
	}
	// Create: org manager or admin; validation before authorization.
	e.wantErr(orgUser, "POST", "/v3/space_quotas", body("sq"), http.StatusForbidden, "You are not authorized to perform the requested action")
	e.wantErr(stranger, "POST", "/v3/space_quotas", body("sq"), http.StatusUnprocessableEntity, "Organization with guid '"+org+"' does not exist, or you do not have access to it.")
	e.wantErr(mgr, "POST", "/v3/space_quotas", map[string]any{"name": "sq"}, http.StatusUnprocessableEntity, "Relationships Organization must be a relationship object with a guid")
	e.wantErr(mgr, "POST", "/v3/space_quotas", map[string]any{"name": "sq", "domains": map[string]any{}}, http.StatusUnprocessableEntity, "Unknown field(s): 'domains'")
	e.wantErr(mgr, "POST", "/v3/space_quotas", body("sq", otherSp), http.StatusUnprocessableEntity,
		`Spaces with guids ["`+otherSp+`"] do not exist within the organization specified, or you do not have access to them.`)
	sq := e.req(mgr, "POST", "/v3/space_quotas", body("sq", sp1), http.StatusCreated)
	sqGUID := qfeStr(sq, "guid")
	if qfeAt(sq, "apps", "total_memory_in_mb") != float64(1024) || qfeStr(sq, "relationships", "organization", "data", "guid") != org ||
		!slices.Equal(qfeGUIDs(sq, "relationships", "spaces", "data"), []string{sp1}) || qfeAt(sq, "domains") != nil ||
		qfeStr(sq, "links", "organization", "href") != e.url+"/v3/organizations/"+org {
		t.Errorf("created = %v", sq)
	}
	e.wantErr(e.admin, "POST", "/v3/space_quotas", body("sq"), http.StatusUnprocessableEntity, "Space Quota 'sq' already exists.")
	otherBody := body("sq")
	otherBody["relationships"] = map[string]any{"organization": map[string]any{"data": map[string]any{"guid": other}}}
	otherSQ := qfeStr(e.req(e.admin, "POST", "/v3/space_quotas", otherBody, http.StatusCreated), "guid")

	// Visibility: org managers, and roles in spaces that have the quota.
	if got := qfeGUIDs(e.req(dev, "GET", "/v3/space_quotas", nil, http.StatusOK), "resources"); !slices.Equal(got, []string{sqGUID}) {
		t.Errorf("dev sees %v", got)
	}
	if got := qfeGUIDs(e.req(orgUser, "GET", "/v3/space_quotas", nil, http.StatusOK), "resources"); len(got) != 0 {
		t.Errorf("an org user without space roles sees %v", got)
	}
	if got := qfeGUIDs(e.req(e.admin, "GET", "/v3/space_quotas?order_by=created_at", nil, http.StatusOK), "resources"); !slices.Equal(got, []string{sqGUID, otherSQ}) {
		t.Errorf("admin sees %v", got)
	}
	e.wantErr(orgUser, "GET", "/v3/space_quotas/"+sqGUID, nil, http.StatusNotFound, "Space quota not found")
	e.wantErr(mgr, "GET", "/v3/space_quotas/"+otherSQ, nil, http.StatusNotFound, "Space quota not found")
	e.req(dev, "GET", "/v3/space_quotas/"+sqGUID, nil, http.StatusOK)

	// Apply: spaces of the owning organization only.
	applyPath := "/v3/space_quotas/" + sqGUID + "/relationships/spaces"
	e.wantErr(dev, "POST", applyPath, map[string]any{"data": []any{map[string]any{"guid": sp2}}}, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.wantErr(mgr, "POST", applyPath, map[string]any{"data": []any{map[string]any{"guid": "nope"}}}, http.StatusUnprocessableEntity,
		`Spaces with guids ["nope"] do not exist, or you do not have access to them.`)
	e.wantErr(e.admin, "POST", applyPath, map[string]any{"data": []any{map[string]any{"guid": otherSp}}}, http.StatusUnprocessableEntity,
		"Space quotas cannot be applied outside of their owning organization.")
	applied := e.req(mgr, "POST", applyPath, map[string]any{"data": []any{map[string]any{"guid": sp2}}}, http.StatusOK)
	if got := qfeGUIDs(applied, "data"); !qfeSameSet(got, []string{sp1, sp2}) {
		t.Errorf("applied = %v", got)
	}
	// The space shows its quota (cf space reads it).
	if got := qfeStr(e.req(e.admin, "GET", "/v3/spaces/"+sp2, nil, http.StatusOK), "relationships", "quota", "data", "guid"); got != sqGUID {
		t.Errorf("space quota relationship = %q, want %s", got, sqGUID)
	}
	// The developer sees only its own space in the relationship.
	if got := qfeGUIDs(e.req(dev, "GET", "/v3/space_quotas/"+sqGUID, nil, http.StatusOK), "relationships", "spaces", "data"); !slices.Equal(got, []string{sp1}) {
		t.Errorf("dev sees spaces %v", got)
	}

	// Filters.
	for q, want := range map[string][]string{
		"space_guids=" + sp2:                 {sqGUID},
		"space_guids=" + otherSp:             {},
		"organization_guids=" + other:        {otherSQ},
		"names=sq&organization_guids=" + org: {sqGUID},
		"guids=" + otherSQ + "&per_page=1":   {otherSQ},
	} {
		if got := qfeGUIDs(e.req(e.admin, "GET", "/v3/space_quotas?"+q, nil, http.StatusOK), "resources"); !slices.Equal(got, want) {
			t.Errorf("?%s = %v, want %v", q, got, want)
		}
	}
	if p := e.req(e.admin, "GET", "/v3/space_quotas?per_page=1", nil, http.StatusOK); qfeAt(p, "pagination", "total_pages") != float64(2) {
		t.Errorf("pagination = %v", qfeAt(p, "pagination"))
	}

	// Update.
	e.wantErr(dev, "PATCH", "/v3/space_quotas/"+sqGUID, map[string]any{"name": "x"}, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.wantErr(mgr, "PATCH", "/v3/space_quotas/"+sqGUID, map[string]any{"domains": map[string]any{}}, http.StatusUnprocessableEntity, "Unknown field(s): 'domains'")
	e.wantErr(mgr, "PATCH", "/v3/space_quotas/"+sqGUID, map[string]any{"apps": map[string]any{"total_instances": -3}}, http.StatusUnprocessableEntity, "Apps Total instances must be greater than or equal to 0")
	up := e.req(mgr, "PATCH", "/v3/space_quotas/"+sqGUID, map[string]any{"name": "sq2", "services": map[string]any{"total_service_keys": 4}}, http.StatusOK)
	if qfeStr(up, "name") != "sq2" || qfeAt(up, "apps", "total_memory_in_mb") != float64(1024) || qfeAt(up, "services", "total_service_keys") != float64(4) {
		t.Errorf("PATCH = %v", up)
	}

	// A suspended organization's managers cannot change its quotas.
	e.req(e.admin, "PATCH", "/v3/organizations/"+org, map[string]any{"suspended": true}, http.StatusOK)
	e.wantErr(mgr, "PATCH", "/v3/space_quotas/"+sqGUID, map[string]any{"name": "x"}, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.req(e.admin, "PATCH", "/v3/organizations/"+org, map[string]any{"suspended": false}, http.StatusOK)

	// Remove from spaces, then delete.
	e.wantErr(mgr, "DELETE", "/v3/space_quotas/"+sqGUID, nil, http.StatusUnprocessableEntity, "This quota is applied to one or more spaces. Remove this quota from all spaces before deleting.")
	e.wantErr(dev, "DELETE", applyPath+"/"+sp1, nil, http.StatusForbidden, "You are not authorized to perform the requested action")
	e.req(mgr, "DELETE", applyPath+"/"+sp1, nil, http.StatusNoContent)
	e.wantErr(mgr, "DELETE", applyPath+"/"+sp1, nil, http.StatusUnprocessableEntity,
		"Unable to remove quota from space with guid '"+sp1+"'. Ensure the space quota is applied to this space.")
	e.req(mgr, "DELETE", applyPath+"/"+sp2, nil, http.StatusNoContent)
	r := e.do(mgr, "DELETE", "/v3/space_quotas/"+sqGUID, nil)
	if r.status != http.StatusAccepted || e.waitJob(r) != "COMPLETE" {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	e.wantErr(e.admin, "GET", "/v3/space_quotas/"+sqGUID, nil, http.StatusNotFound, "Space quota not found")

	// Deleting an organization takes its space quotas along.
	r = e.do(e.admin, "DELETE", "/v3/organizations/"+other, nil)
	if r.status != http.StatusAccepted || e.waitJob(r) != "COMPLETE" {
		t.Fatalf("delete org: %d %s", r.status, r.raw)
	}
	e.wantErr(e.admin, "GET", "/v3/space_quotas/"+otherSQ, nil, http.StatusNotFound, "Space quota not found")
}

// ---------------------------------------------------------------- quota checks

func TestQuotaCheckHooksWithStore(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	org := e.org("qc-org")
	sp := e.space(org, "qc-space")
	e.req(e.admin, "PATCH", "/v3/organization_quotas/"+e.defaultQuota.GUID, map[string]any{"apps": map[string]any{"total_memory_in_mb": 1000}}, http.StatusOK)
	ctx := t.Context()

	if err := e.srv.checkAppQuota(ctx, appQuotaRequest{SpaceGUID: sp, InstanceMemoryMB: 256, Added: quotaUsage{MemoryMB: 512, Instances: 2}}); err != nil {
		t.Errorf("within the org quota: %v", err)
	}
	err := e.srv.checkAppQuota(ctx, appQuotaRequest{SpaceGUID: sp, InstanceMemoryMB: 256, Added: quotaUsage{MemoryMB: 512, Instances: 2}, OrgUsed: quotaUsage{MemoryMB: 600}})
	if err == nil || err.Error() != "CF-UnprocessableEntity (10008): memory quota_exceeded" {
		t.Errorf("over the org quota: %v", err)
	}
	e.req(e.admin, "POST", "/v3/space_quotas", map[string]any{
		"name": "small", "apps": map[string]any{"total_memory_in_mb": 100},
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]any{"guid": org}}, "spaces": map[string]any{"data": []any{map[string]any{"guid": sp}}}},
	}, http.StatusCreated)
	err = e.srv.checkAppQuota(ctx, appQuotaRequest{SpaceGUID: sp, InstanceMemoryMB: 256, Added: quotaUsage{MemoryMB: 256, Instances: 1}})
	if err == nil || err.Error() != "CF-UnprocessableEntity (10008): memory space_quota_exceeded" {
		t.Errorf("over the space quota: %v", err)
	}
	if err := e.srv.checkAppQuota(ctx, appQuotaRequest{SpaceGUID: "no-such-space"}); err == nil || !strings.Contains(err.Error(), "Space not found") {
		t.Errorf("unknown space: %v", err)
	}
	e.req(e.admin, "PATCH", "/v3/organization_quotas/"+e.defaultQuota.GUID, map[string]any{"routes": map[string]any{"total_routes": 3}, "domains": map[string]any{"total_domains": 0}}, http.StatusOK)
	if err := e.srv.checkRouteQuota(ctx, routeQuotaRequest{SpaceGUID: sp, OrgRoutes: 3}); err == nil || !strings.Contains(err.Error(), "Routes quota exceeded for organization 'qc-org'.") {
		t.Errorf("routes: %v", err)
	}
	if err := e.srv.checkDomainQuota(ctx, org, 0); err == nil || !strings.Contains(err.Error(), `The number of private domains exceeds the quota for organization "qc-org"`) {
		t.Errorf("domains: %v", err)
	}
	if err := e.srv.checkTaskQuota(ctx, taskQuotaRequest{SpaceGUID: sp, MemoryMB: 50, LogRate: -1}); err != nil {
		t.Errorf("task within quotas: %v", err)
	}
}

// ---------------------------------------------------------------- audit events

func TestAuditEventsRecordedByHandlers(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	start := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	org := e.org("ev-org")
	e.req(e.admin, "PATCH", "/v3/organizations/"+org, map[string]any{"name": "ev-org-2"}, http.StatusOK)
	sp := e.space(org, "ev-space")
	e.req(e.admin, "PATCH", "/v3/spaces/"+sp, map[string]any{"name": "ev-space-2"}, http.StatusOK)
	e.dev("bob")
	e.role("organization_user", "bob", "organization", org)
	devRole := e.role("space_developer", "bob", "space", sp)
	if r := e.do(e.admin, "DELETE", "/v3/roles/"+devRole, nil); r.status != http.StatusAccepted || e.waitJob(r) != "COMPLETE" {
		t.Fatalf("delete role: %d %s", r.status, r.raw)
	}
	if r := e.do(e.admin, "DELETE", "/v3/spaces/"+sp, nil); r.status != http.StatusAccepted || e.waitJob(r) != "COMPLETE" {
		t.Fatalf("delete space: %d %s", r.status, r.raw)
	}
	if r := e.do(e.admin, "DELETE", "/v3/organizations/"+org, nil); r.status != http.StatusAccepted || e.waitJob(r) != "COMPLETE" {
		t.Fatalf("delete org: %d %s", r.status, r.raw)
	}

	list := e.req(e.admin, "GET", "/v3/audit_events?order_by=created_at&per_page=100", nil, http.StatusOK)
	var types []string
	byType := map[string]any{}
	for _, ev := range qfeAt(list, "resources").([]any) {
		types = append(types, qfeStr(ev, "type"))
		byType[qfeStr(ev, "type")] = ev
	}
	want := []string{
		"audit.organization.create", "audit.organization.update", "audit.space.create", "audit.space.update",
		"audit.user.organization_user_add", "audit.user.space_developer_add", "audit.user.space_developer_remove",
		"audit.space.delete-request", "audit.organization.delete-request",
	}
	if !slices.Equal(types, want) {
		t.Fatalf("event types = %v\nwant %v", types, want)
	}
	create := byType["audit.organization.create"]
	if qfeStr(create, "actor", "guid") != "admin-guid" || qfeStr(create, "actor", "type") != "user" || qfeStr(create, "actor", "name") != "admin" ||
		qfeStr(create, "target", "guid") != org || qfeStr(create, "target", "type") != "organization" || qfeStr(create, "target", "name") != "ev-org" ||
		qfeStr(create, "data", "request", "name") != "ev-org" || qfeAt(create, "data", "request", "suspended") != nil ||
		qfeStr(create, "organization", "guid") != org || qfeAt(create, "space") != nil ||
		qfeStr(create, "links", "self", "href") != e.url+"/v3/audit_events/"+qfeStr(create, "guid") {
		t.Errorf("organization.create = %v", create)
	}
	if _, err := time.Parse(time.RFC3339, qfeStr(create, "created_at")); err != nil || qfeStr(create, "created_at") != qfeStr(create, "updated_at") {
		t.Errorf("created_at %q / updated_at %q", qfeStr(create, "created_at"), qfeStr(create, "updated_at"))
	}
	if got := qfeAt(byType["audit.space.delete-request"], "data", "request", "recursive"); got != true {
		t.Errorf("space delete-request data = %v", qfeAt(byType["audit.space.delete-request"], "data"))
	}
	add := byType["audit.user.space_developer_add"]
	if qfeStr(add, "target", "guid") != "bob" || qfeStr(add, "target", "type") != "user" || qfeStr(add, "target", "name") != "bob-name" ||
		qfeStr(add, "space", "guid") != sp || qfeStr(add, "organization", "guid") != org || qfeStr(add, "data", "request", "type") != "space_developer" {
		t.Errorf("space_developer_add = %v", add)
	}
	if qfeAt(byType["audit.user.organization_user_add"], "space") != nil {
		t.Errorf("organization role event has a space: %v", byType["audit.user.organization_user_add"])
	}

	// Filters.
	for q, want := range map[string]int{
		"types=audit.space.create,audit.space.update": 2,
		"target_guids=" + sp:                          3,
		"target_guids[not]=" + sp + "," + org:         3,
		"target_guids=bob&target_guids[not]=" + sp:    3,
		"space_guids=" + sp:                           5,
		"organization_guids=" + org:                   9,
		"created_ats[gte]=" + start:                   9,
		"created_ats[lt]=" + start:                    0,
		"updated_ats[lt]=2100-01-01T00:00:00Z":        9,
		"types=":                                      0,
	} {
		got := e.req(e.admin, "GET", "/v3/audit_events?"+q, nil, http.StatusOK)
		if n := len(qfeAt(got, "resources").([]any)); n != want {
			t.Errorf("?%s: %d events, want %d", q, n, want)
		}
	}
	desc := e.req(e.admin, "GET", "/v3/audit_events?order_by=-created_at&per_page=4&page=1", nil, http.StatusOK)
	if qfeStr(desc, "resources", 0, "type") != "audit.organization.delete-request" || qfeAt(desc, "pagination", "total_pages") != float64(3) {
		t.Errorf("-created_at page 1 = %v", desc)
	}
	var walked int
	for next := e.url + "/v3/audit_events?per_page=4"; next != ""; {
		p := e.req(e.admin, "GET", next, nil, http.StatusOK)
		walked += len(qfeAt(p, "resources").([]any))
		next = qfeStr(p, "pagination", "next", "href")
	}
	if walked != 9 {
		t.Errorf("walked %d events", walked)
	}
	e.wantErr(e.admin, "GET", "/v3/audit_events?target_guids[in]=x", nil, http.StatusBadRequest, "The query parameter is invalid: Invalid target_guids operator: '[in]'. Valid operators are: 'not'")
	e.wantErr(e.admin, "GET", "/v3/audit_events?order_by=type", nil, http.StatusBadRequest, "~Order by can only be")
	e.wantErr(e.admin, "GET", "/v3/audit_events?created_ats[foo]=2020-01-01T00:00:00Z", nil, http.StatusBadRequest, "~Invalid relational operator")
	e.wantErr(e.admin, "GET", "/v3/audit_events/00000000-0000-0000-0000-000000000000", nil, http.StatusNotFound, "Event not found")
	e.wantErr(e.admin, "GET", "/v3/audit_events/not-a-uuid", nil, http.StatusNotFound, "Event not found")
	got := e.req(e.admin, "GET", "/v3/audit_events/"+qfeStr(create, "guid"), nil, http.StatusOK)
	if qfeStr(got, "type") != "audit.organization.create" {
		t.Errorf("get = %v", got)
	}
}

func TestAuditEventsVisibility(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	org, other := e.org("vis-org"), e.org("vis-other")
	sp1, sp2 := e.space(org, "s1"), e.space(org, "s2")
	otherSp := e.space(other, "o1")
	for _, u := range []string{"dev", "auditor", "mgr", "spacemgr"} {
		e.dev(u)
		e.role("organization_user", u, "organization", org)
	}
	e.role("space_developer", "dev", "space", sp1)
	e.role("organization_auditor", "auditor", "organization", org)
	e.role("organization_manager", "mgr", "organization", org)
	e.role("space_manager", "spacemgr", "space", sp1)
	globalAuditor := e.user("ga", "ga", apiuaa.ScopeCloudControllerGlobalAuditor)
	client := e.iss.ClientToken(t, "robot", apiuaa.ScopeCloudControllerAdmin)
	e.req(client, "PATCH", "/v3/spaces/"+otherSp, map[string]any{"name": "renamed"}, http.StatusOK)

	count := func(tok, q string) int {
		return len(qfeAt(e.req(tok, "GET", "/v3/audit_events?per_page=500&"+q, nil, http.StatusOK), "resources").([]any))
	}
	all := count(e.admin, "")
	if all == 0 || count(globalAuditor, "") != all {
		t.Errorf("admin sees %d, global auditor %d", all, count(globalAuditor, ""))
	}
	// The developer of s1 sees s1's events only.
	devTok := e.iss.UserToken(t, "dev", "dev-name", apiuaa.ScopeCloudControllerRead)
	devEvents := e.req(devTok, "GET", "/v3/audit_events?per_page=500", nil, http.StatusOK)
	for _, ev := range qfeAt(devEvents, "resources").([]any) {
		if qfeStr(ev, "space", "guid") != sp1 {
			t.Errorf("dev sees an event outside its space: %v", ev)
		}
	}
	if n := count(devTok, "space_guids="+sp1); n == 0 || n != count(e.admin, "space_guids="+sp1) {
		t.Errorf("dev sees %d of s1's events, admin %d", n, count(e.admin, "space_guids="+sp1))
	}
	if n := count(devTok, "space_guids="+sp2); n != 0 {
		t.Errorf("dev sees %d events of s2", n)
	}
	// The org auditor sees the organization's events, not the other org's.
	audTok := e.iss.UserToken(t, "auditor", "auditor-name", apiuaa.ScopeCloudControllerRead)
	if n, want := count(audTok, ""), count(e.admin, "organization_guids="+org); n != want {
		t.Errorf("auditor sees %d, org has %d", n, want)
	}
	// CF: managers read no events.
	if n := count(e.iss.UserToken(t, "mgr", "mgr-name", apiuaa.ScopeCloudControllerRead), ""); n != 0 {
		t.Errorf("org manager sees %d events", n)
	}
	if n := count(e.iss.UserToken(t, "spacemgr", "spacemgr-name", apiuaa.ScopeCloudControllerRead), ""); n != 0 {
		t.Errorf("space manager sees %d events", n)
	}
	// get: an invisible event is a 404.
	otherEv := qfeStr(e.req(e.admin, "GET", "/v3/audit_events?types=audit.space.update&target_guids="+otherSp, nil, http.StatusOK), "resources", 0, "guid")
	e.wantErr(devTok, "GET", "/v3/audit_events/"+otherEv, nil, http.StatusNotFound, "Event not found")
	ev := e.req(e.admin, "GET", "/v3/audit_events/"+otherEv, nil, http.StatusOK)
	// A client token is a "client" actor named by its id.
	if qfeStr(ev, "actor", "type") != "client" || qfeStr(ev, "actor", "name") != "robot" || qfeStr(ev, "type") != "audit.space.update" {
		t.Errorf("client event = %v", ev)
	}
}

func TestAuditFailureDoesNotFailRequest(t *testing.T) {
	t.Parallel()
	e := qfeSetup(t)
	if _, err := e.pool.Exec(t.Context(), `DROP TABLE audit_events`); err != nil {
		t.Fatal(err)
	}
	org := e.org("still-created")
	e.req(e.admin, "PATCH", "/v3/organizations/"+org, map[string]any{"name": "still-updated"}, http.StatusOK)
	e.space(org, "still-a-space")
	for _, typ := range []string{"audit.organization.create", "audit.organization.update", "audit.space.create"} {
		if err := e.logs.Find("record audit event", typ); err != nil {
			t.Errorf("the failure was not logged: %v", err)
		}
	}
}

// ---------------------------------------------------------------- parsers (unit and fuzz)

func TestParseLimitValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any // int64, nil, or a message
	}{
		{"0", int64(0)}, {"-0", int64(0)}, {"42", int64(42)}, {" 7 ", int64(7)}, {"null", nil},
		{"2147483647", int64(2147483647)}, {"2147483648", "must be less than or equal to 2147483647"},
		{"99999999999999999999", "must be less than or equal to 2147483647"},
		{"-1", "must be greater than or equal to 0"}, {"1.0", "must be an integer"}, {"1e3", "must be an integer"},
		{`"1"`, "is not a number"}, {"true", "is not a number"}, {"{}", "is not a number"}, {"[]", "is not a number"},
	}
	for _, tt := range tests {
		n, msg := parseLimitValue(json.RawMessage(tt.in), maxQuotaInt)
		switch w := tt.want.(type) {
		case string:
			if msg != w {
				t.Errorf("%s: message %q, want %q", tt.in, msg, w)
			}
		case int64:
			if msg != "" || n == nil || *n != w {
				t.Errorf("%s: %v %q, want %d", tt.in, n, msg, w)
			}
		case nil:
			if msg != "" || n != nil {
				t.Errorf("%s: %v %q, want unlimited", tt.in, n, msg)
			}
		}
	}
}

// FuzzParseLimits checks that the quota section parser never panics, that
// what it accepts is in range, and that rendering an accepted patch and
// parsing it again gives the same patch.
func FuzzParseLimits(f *testing.F) {
	for _, s := range []string{`{"total_memory_in_mb":1}`, `{"total_routes":null,"total_reserved_ports":0}`, `{"paid_services_allowed":true}`,
		`{"x":1}`, `5`, `null`, `{"total_instances":-1}`, `{"total_instances":1e2}`, `{"log_rate_limit_in_bytes_per_second":9223372036854775807}`, `{`} {
		for _, sec := range []string{"apps", "services", "routes", "domains"} {
			f.Add(sec, s)
		}
	}
	f.Fuzz(func(t *testing.T, section, raw string) {
		switch section {
		case "apps", "services", "routes", "domains":
		default:
			return
		}
		if !json.Valid([]byte(raw)) {
			return
		}
		p := limitsPatch{ints: map[string]*int64{}}
		if problems := parseLimitSection(section, json.RawMessage(raw), &p); len(problems) > 0 {
			return
		}
		again := map[string]any{}
		for _, lf := range limitFields {
			v, ok := p.ints[lf.section+"."+lf.key]
			if !ok {
				continue
			}
			if lf.section != section {
				t.Fatalf("%s accepted a key of %s", section, lf.section)
			}
			if v != nil && (*v < 0 || *v > lf.max) {
				t.Fatalf("%s.%s = %d out of range", section, lf.key, *v)
			}
			if v == nil {
				again[lf.key] = nil
			} else {
				again[lf.key] = *v
			}
		}
		if p.paid != nil {
			again[paidServicesKey] = *p.paid
		}
		data, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		q := limitsPatch{ints: map[string]*int64{}}
		if problems := parseLimitSection(section, data, &q); len(problems) > 0 {
			t.Fatalf("re-parse of %s: %v", data, problems)
		}
		var l1, l2 store.Limits
		p.apply(&l1)
		q.apply(&l2)
		if fmt.Sprint(qfeLimits(l1)) != fmt.Sprint(qfeLimits(l2)) {
			t.Fatalf("round trip changed %s: %v vs %v", raw, qfeLimits(l1), qfeLimits(l2))
		}
	})
}

func qfeLimits(l store.Limits) []any {
	var out []any
	for _, f := range limitFields {
		v := *f.ptr(&l)
		if v == nil {
			out = append(out, "unlimited")
		} else {
			out = append(out, *v)
		}
	}
	return append(out, l.PaidServicesAllowed)
}

func TestParseTargetFilter(t *testing.T) {
	t.Parallel()
	tf, err := parseTargetFilter(url.Values{"target_guids": {"a,b"}, "target_guids[not]": {"c%2Cd"}, "types": {"x"}})
	if err != nil || !slices.Equal(tf.In, []string{"a", "b"}) || !slices.Equal(tf.NotIn, []string{"c,d"}) || !tf.HasIn || !tf.HasNotIn {
		t.Errorf("parseTargetFilter = %+v, %v", tf, err)
	}
	if tf, err := parseTargetFilter(url.Values{"target_guids": {""}}); err != nil || !tf.HasIn || !slices.Equal(tf.In, []string{""}) {
		t.Errorf("empty value = %+v, %v (an empty filter means the empty string)", tf, err)
	}
	for _, bad := range []string{"target_guids[in]", "target_guids[]", "target_guidsx"} {
		if _, err := parseTargetFilter(url.Values{bad: {"a"}}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// FuzzParseTargetFilter checks the target_guids parser never panics and
// that only target_guids and target_guids[not] are accepted.
func FuzzParseTargetFilter(f *testing.F) {
	f.Add("target_guids", "a,b")
	f.Add("target_guids[not]", "a%2Cb")
	f.Add("target_guids[x]", "")
	f.Add("types", "x")
	f.Fuzz(func(t *testing.T, key, value string) {
		tf, err := parseTargetFilter(url.Values{key: {value}})
		if err != nil {
			if key == "target_guids" || key == "target_guids[not]" {
				if strings.Count(value, ",") < 1000 {
					t.Fatalf("%q rejected: %v", key, err)
				}
			}
			return
		}
		if tf.HasIn && key != "target_guids" || tf.HasNotIn && key != "target_guids[not]" {
			t.Fatalf("%q set %+v", key, tf)
		}
		if strings.HasPrefix(key, "target_guids") && !tf.HasIn && !tf.HasNotIn {
			t.Fatalf("%q accepted but ignored", key)
		}
	})
}
