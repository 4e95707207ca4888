package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
)

// Tests of the routing resources (stacks, isolation segments, domains,
// routes and destinations) against a web.Server on a real database.

const appsDomain = "apps.test"

// routingEnv is a Server over a fresh, migrated and bootstrapped database,
// behind an httptest.Server, with an organization "org" holding a space
// "space" and one user per role.
type routingEnv struct {
	t     *testing.T
	url   string
	st    *store.Store
	iss   *tokentest.Issuer
	org   store.Org
	space store.Space

	admin, globalAuditor                      string // tokens
	dev, auditor, manager, supporter, orgMgr  string // tokens of users with that role
	orgAuditor, orgUser, outsider, readOnlyDv string
	sharedDomain                              store.Domain
	srv                                       *Server
}

func newRoutingEnv(t *testing.T, withDeps ...func(*Deps)) *routingEnv {
	t.Helper()
	ctx := t.Context()
	pool, err := pg.Connect(ctx, pg.Config{DSN: testenv.Postgres(t)}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	if err := st.Migrate(ctx, testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	// What cloudcontroller's bootstrap does with its defaults.
	for _, name := range []string{"cflinuxfs4", "cflinuxfs3"} {
		if err := st.EnsureStack(ctx, name, name+" filesystem"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetDefaultStack(ctx, "cflinuxfs4"); err != nil {
		t.Fatal(err)
	}
	shared, err := st.EnsureSharedDomain(ctx, appsDomain)
	if err != nil {
		t.Fatal(err)
	}

	iss := tokentest.New(t)
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	deps := Deps{Store: st, Verifier: iss.Verifier(t), Logger: testenv.Logger(t), Registry: prometheus.NewRegistry()}
	for _, f := range withDeps {
		f(&deps)
	}
	srv := New(Options{ExternalURL: base, MaxBodyBytes: 1 << 20}, deps)
	ts.Config.Handler = srv
	ts.Start()
	startJobs(t, srv) // deletes are queued
	t.Cleanup(ts.Close)

	e := &routingEnv{t: t, url: base, st: st, iss: iss, sharedDomain: shared, srv: srv}
	e.org = e.mkOrg("org")
	e.space = e.mkSpace(e.org, "space")
	e.admin = iss.UserToken(t, "admin-guid", "admin", apiuaa.ScopeCloudControllerAdmin, apiuaa.ScopeCloudControllerRead, apiuaa.ScopeCloudControllerWrite)
	e.globalAuditor = iss.UserToken(t, "global-auditor-guid", "global-auditor", apiuaa.ScopeCloudControllerGlobalAuditor)
	e.dev = e.mkUser("dev", e.space.GUID, store.SpaceDeveloper)
	e.auditor = e.mkUser("auditor", e.space.GUID, store.SpaceAuditor)
	e.manager = e.mkUser("manager", e.space.GUID, store.SpaceManager)
	e.supporter = e.mkUser("supporter", e.space.GUID, store.SpaceSupporter)
	e.orgMgr = e.mkUser("org-manager", "", store.OrgManager)
	e.orgAuditor = e.mkUser("org-auditor", "", store.OrgAuditor)
	e.orgUser = e.mkUser("org-user", "", store.OrgUser)
	e.outsider = iss.UserToken(t, "outsider-guid", "outsider", apiuaa.ScopeCloudControllerRead, apiuaa.ScopeCloudControllerWrite)
	// A developer whose token lacks cloud_controller.write.
	e.mkUser("read-only-dev", e.space.GUID, store.SpaceDeveloper)
	e.readOnlyDv = iss.UserToken(t, "read-only-dev-guid", "read-only-dev", apiuaa.ScopeCloudControllerRead)
	return e
}

func (e *routingEnv) mkOrg(name string) store.Org {
	e.t.Helper()
	o, err := e.st.CreateOrg(e.t.Context(), store.Org{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *routingEnv) mkSpace(o store.Org, name string) store.Space {
	e.t.Helper()
	sp, err := e.st.CreateSpace(e.t.Context(), store.Space{Name: name, OrgGUID: o.GUID, AllowSSH: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return sp
}

// mkUser creates user name with a role in e.org (space "" for an org role)
// or in space, and returns its read+write token.
func (e *routingEnv) mkUser(name, space, role string) string {
	e.t.Helper()
	guid := name + "-guid"
	if _, err := e.st.EnsureUser(e.t.Context(), store.User{GUID: guid, Username: name, Origin: "uaa"}); err != nil {
		e.t.Fatal(err)
	}
	e.grant(guid, e.org.GUID, "", store.OrgUser)
	if role != store.OrgUser {
		e.grant(guid, e.org.GUID, space, role)
	}
	return e.iss.UserToken(e.t, guid, name, apiuaa.ScopeCloudControllerRead, apiuaa.ScopeCloudControllerWrite)
}

func (e *routingEnv) grant(user, org, space, role string) {
	e.t.Helper()
	ro := store.Role{Type: role, UserGUID: user}
	if space != "" {
		ro.SpaceGUID = space
	} else {
		ro.OrgGUID = org
	}
	if _, err := e.st.CreateRole(e.t.Context(), ro); err != nil {
		e.t.Fatalf("grant %s %s: %v", user, role, err)
	}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request with token (none if "") and body (JSON-encoded
// unless a string).
func (e *routingEnv) do(token, method, path string, body any) response {
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
	if token != "" {
		req.Header.Set("Authorization", "bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// want fails unless the response has status; it returns the decoded body.
func (e *routingEnv) want(r response, status int) map[string]any {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	var m map[string]any
	if len(bytes.TrimSpace(r.Body)) > 0 {
		if err := json.Unmarshal(r.Body, &m); err != nil {
			e.t.Fatalf("decode %s: %v", r.Body, err)
		}
	}
	return m
}

// wantErr fails unless the response is a CF error with status and a
// detail containing detail.
func (e *routingEnv) wantErr(r response, status int, detail string) {
	e.t.Helper()
	m := e.want(r, status)
	errs, _ := m["errors"].([]any)
	if len(errs) != 1 {
		e.t.Fatalf("errors %s", r.Body)
	}
	first := errs[0].(map[string]any)
	if _, ok := first["code"].(float64); !ok {
		e.t.Errorf("code is not a number: %s", r.Body)
	}
	if got, _ := first["detail"].(string); !strings.Contains(got, detail) {
		e.t.Errorf("detail %q, want it to contain %q", got, detail)
	}
}

// guids returns the guid of every resource of a list.
func guids(m map[string]any) []string {
	var out []string
	res, _ := m["resources"].([]any)
	for _, r := range res {
		out = append(out, r.(map[string]any)["guid"].(string))
	}
	return out
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func rel(guid string) map[string]any {
	return map[string]any{"data": map[string]any{"guid": guid}}
}

// createRoute POSTs a route in space on domain and returns its guid.
func (e *routingEnv) createRoute(token, space, domain, host, path string) string {
	e.t.Helper()
	body := map[string]any{"host": host, "relationships": map[string]any{"space": rel(space), "domain": rel(domain)}}
	if path != "" {
		body["path"] = path
	}
	m := e.want(e.do(token, "POST", "/v3/routes", body), http.StatusCreated)
	return m["guid"].(string)
}

// waitJob follows a 202's Location and checks the job completed.
func (e *routingEnv) waitJob(r response, token string) map[string]any {
	e.t.Helper()
	e.want(r, http.StatusAccepted)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, e.url+"/v3/jobs/") {
		e.t.Fatalf("Location %q is not an absolute job URL", loc)
	}
	return e.want(e.do(token, "GET", loc, nil), http.StatusOK)
}

func TestStacks(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)

	m := e.want(e.do(e.dev, "GET", "/v3/stacks", nil), http.StatusOK)
	if n := len(guids(m)); n != 2 {
		t.Fatalf("%d stacks: %s", n, m)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/stacks?default=true", nil), http.StatusOK)
	res := m["resources"].([]any)
	if len(res) != 1 || str(res[0].(map[string]any), "name") != "cflinuxfs4" || res[0].(map[string]any)["default"] != true {
		t.Fatalf("default stack: %s", m)
	}
	def := res[0].(map[string]any)
	if str(def, "run_rootfs_image") != "cflinuxfs4" || str(def, "state") != "ACTIVE" || str(def, "links", "self", "href") != e.url+"/v3/stacks/"+str(def, "guid") {
		t.Errorf("stack fields: %v", def)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/stacks?default=false&names=cflinuxfs3,cflinuxfs4", nil), http.StatusOK)
	if len(guids(m)) != 1 {
		t.Errorf("default=false: %s", m)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/stacks?default=maybe", nil), http.StatusBadRequest, "Default must be a boolean")
	e.wantErr(e.do(e.dev, "GET", "/v3/stacks?hosts=x", nil), http.StatusBadRequest, "Unknown query parameter(s): 'hosts'")
	e.wantErr(e.do("", "GET", "/v3/stacks", nil), http.StatusUnauthorized, "Authentication error")

	// Writes are for admins.
	body := map[string]any{"name": "my-stack", "description": "mine", "metadata": map[string]any{"labels": map[string]any{"tier": "gold"}}}
	e.wantErr(e.do(e.dev, "POST", "/v3/stacks", body), http.StatusForbidden, "not authorized")
	created := e.want(e.do(e.admin, "POST", "/v3/stacks", body), http.StatusCreated)
	guid := created["guid"].(string)
	if created["default"] != false || str(created, "description") != "mine" {
		t.Errorf("created %v", created)
	}
	e.wantErr(e.do(e.admin, "POST", "/v3/stacks", body), http.StatusUnprocessableEntity, "Name must be unique")
	e.wantErr(e.do(e.admin, "POST", "/v3/stacks", map[string]any{"name": ""}), http.StatusUnprocessableEntity, "Name can't be blank")
	e.wantErr(e.do(e.admin, "POST", "/v3/stacks", map[string]any{"name": "x", "state": "BROKEN"}), http.StatusUnprocessableEntity, "State must be one of ACTIVE, RESTRICTED, DEPRECATED, DISABLED")
	e.wantErr(e.do(e.admin, "POST", "/v3/stacks", `{"name":`), http.StatusBadRequest, "Request invalid due to parse error")

	m = e.want(e.do(e.dev, "GET", "/v3/stacks?label_selector=tier%3Dgold", nil), http.StatusOK)
	if g := guids(m); len(g) != 1 || g[0] != guid {
		t.Errorf("label_selector: %v", g)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/stacks?label_selector=!tier", nil), http.StatusOK)
	if len(guids(m)) != 2 {
		t.Errorf("label_selector !tier: %s", m)
	}
	e.wantErr(e.do(e.dev, "PATCH", "/v3/stacks/"+guid, map[string]any{"state": "DEPRECATED"}), http.StatusForbidden, "not authorized")
	up := e.want(e.do(e.admin, "PATCH", "/v3/stacks/"+guid, map[string]any{"state": "DEPRECATED", "metadata": map[string]any{"labels": map[string]any{"tier": nil}}}), http.StatusOK)
	if str(up, "state") != "DEPRECATED" || len(up["metadata"].(map[string]any)["labels"].(map[string]any)) != 0 {
		t.Errorf("updated %v", up)
	}
	e.wantErr(e.do(e.admin, "PATCH", "/v3/stacks/"+guid, map[string]any{"name": "renamed"}), http.StatusUnprocessableEntity, "Unknown field(s): 'name'")

	e.wantErr(e.do(e.dev, "GET", "/v3/stacks/00000000-0000-0000-0000-000000000000", nil), http.StatusNotFound, "Stack not found")
	e.wantErr(e.do(e.dev, "GET", "/v3/stacks/not-a-guid", nil), http.StatusNotFound, "Stack not found")
	e.wantErr(e.do(e.admin, "DELETE", "/v3/stacks/"+str(def, "guid"), nil), http.StatusUnprocessableEntity, "Cannot delete the default stack 'cflinuxfs4'.")
	e.wantErr(e.do(e.dev, "DELETE", "/v3/stacks/"+guid, nil), http.StatusForbidden, "not authorized")
	e.want(e.do(e.admin, "DELETE", "/v3/stacks/"+guid, nil), http.StatusNoContent)
	e.wantErr(e.do(e.admin, "GET", "/v3/stacks/"+guid, nil), http.StatusNotFound, "Stack not found")

	// Pagination: absolute hrefs that carry the filters.
	m = e.want(e.do(e.dev, "GET", "/v3/stacks?per_page=1&names=cflinuxfs3,cflinuxfs4&order_by=name", nil), http.StatusOK)
	p := m["pagination"].(map[string]any)
	next := str(p, "next", "href")
	if p["total_results"] != float64(2) || !strings.HasPrefix(next, e.url+"/v3/stacks?") || !strings.Contains(next, "names=cflinuxfs3%2Ccflinuxfs4") || !strings.Contains(next, "page=2") {
		t.Fatalf("pagination %v", p)
	}
	if str(m["resources"].([]any)[0].(map[string]any), "name") != "cflinuxfs3" {
		t.Errorf("order_by=name: %s", m)
	}
	m = e.want(e.do(e.dev, "GET", next, nil), http.StatusOK)
	if m["pagination"].(map[string]any)["next"] != nil || str(m["resources"].([]any)[0].(map[string]any), "name") != "cflinuxfs4" {
		t.Errorf("page 2: %s", m)
	}
}

func TestStoreSetDefaultStack(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	ctx := t.Context()
	if err := e.st.SetDefaultStack(ctx, "cflinuxfs3"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetDefaultStack(ctx, "cflinuxfs3"); err != nil {
		t.Fatalf("idempotent: %v", err)
	}
	f := store.Filter{}
	f.Where("t.is_default")
	stacks, _, err := e.st.ListStacks(ctx, f)
	if err != nil || len(stacks) != 1 || stacks[0].Name != "cflinuxfs3" {
		t.Fatalf("defaults %v %v", stacks, err)
	}
	if err := e.st.SetDefaultStack(ctx, "missing"); err == nil {
		t.Error("SetDefaultStack of a missing stack succeeded")
	}
	if err := e.st.EnsureStack(ctx, "cflinuxfs3", "changed"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.EnsureSharedDomain(ctx, appsDomain); err != nil {
		t.Fatalf("EnsureSharedDomain twice: %v", err)
	}
}

func TestIsolationSegments(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	shared := store.SharedIsolationSegmentGUID

	m := e.want(e.do(e.dev, "GET", "/v3/isolation_segments", nil), http.StatusOK)
	if g := guids(m); len(g) != 1 || g[0] != shared || str(m["resources"].([]any)[0].(map[string]any), "name") != "shared" {
		t.Fatalf("segments %s", m)
	}
	body := map[string]any{"name": "Secure", "metadata": map[string]any{"labels": map[string]any{"zone": "dmz"}}}
	e.wantErr(e.do(e.orgMgr, "POST", "/v3/isolation_segments", body), http.StatusForbidden, "not authorized")
	seg := e.want(e.do(e.admin, "POST", "/v3/isolation_segments", body), http.StatusCreated)
	segGUID := seg["guid"].(string)
	e.wantErr(e.do(e.admin, "POST", "/v3/isolation_segments", map[string]any{"name": "secure"}), http.StatusUnprocessableEntity, "Isolation Segment names are case insensitive and must be unique")
	e.wantErr(e.do(e.admin, "POST", "/v3/isolation_segments", map[string]any{"name": " "}), http.StatusUnprocessableEntity, "non-blank")

	// Others' segments are visible to global readers only.
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/isolation_segments", nil), http.StatusOK)); len(g) != 1 {
		t.Errorf("developer sees %v", g)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/isolation_segments/"+segGUID, nil), http.StatusNotFound, "Isolation segment not found")
	m = e.want(e.do(e.globalAuditor, "GET", "/v3/isolation_segments?names=SECURE,shared&label_selector=zone%3Ddmz", nil), http.StatusOK)
	if g := guids(m); len(g) != 1 || g[0] != segGUID {
		t.Errorf("filters: %s", m)
	}
	e.wantErr(e.do(e.admin, "PATCH", "/v3/isolation_segments/"+shared, map[string]any{"name": "x"}), http.StatusUnprocessableEntity, "Cannot update the shared Isolation Segment")
	up := e.want(e.do(e.admin, "PATCH", "/v3/isolation_segments/"+segGUID, map[string]any{"name": "secure-2"}), http.StatusOK)
	if str(up, "name") != "secure-2" {
		t.Errorf("renamed %v", up)
	}
	e.wantErr(e.do(e.admin, "DELETE", "/v3/isolation_segments/"+shared, nil), http.StatusUnprocessableEntity, "Cannot delete the shared Isolation Segment")
	e.want(e.do(e.admin, "DELETE", "/v3/isolation_segments/"+segGUID, nil), http.StatusNoContent)

	// An organization's default segment: the shared one or none.
	path := "/v3/organizations/" + e.org.GUID + "/relationships/default_isolation_segment"
	m = e.want(e.do(e.dev, "GET", path, nil), http.StatusOK)
	if m["data"] != nil || str(m, "links", "self", "href") != e.url+path {
		t.Errorf("default segment %s", m)
	}
	e.wantErr(e.do(e.dev, "PATCH", path, map[string]any{"data": map[string]any{"guid": shared}}), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.outsider, "GET", path, nil), http.StatusNotFound, "Organization not found")
	e.wantErr(e.do(e.orgMgr, "PATCH", path, map[string]any{"data": map[string]any{"guid": segGUID}}), http.StatusUnprocessableEntity,
		"Unable to assign isolation segment with guid '"+segGUID+"'. Ensure it has been entitled to the organization.")
	m = e.want(e.do(e.orgMgr, "PATCH", path, map[string]any{"data": map[string]any{"guid": shared}}), http.StatusOK)
	if str(m, "data", "guid") != shared || str(m, "links", "related", "href") != e.url+"/v3/isolation_segments/"+shared {
		t.Errorf("set default %s", m)
	}
	if str(e.want(e.do(e.auditor, "GET", path, nil), http.StatusOK), "data", "guid") != shared {
		t.Error("default not stored")
	}
	m = e.want(e.do(e.orgMgr, "PATCH", path, `{"data":null}`), http.StatusOK)
	if m["data"] != nil {
		t.Errorf("cleared %s", m)
	}
}

// privateDomain creates a private domain of e.org as its manager.
func (e *routingEnv) privateDomain(name string) string {
	e.t.Helper()
	m := e.want(e.do(e.orgMgr, "POST", "/v3/domains", map[string]any{
		"name": name, "relationships": map[string]any{"organization": rel(e.org.GUID)},
	}), http.StatusCreated)
	return m["guid"].(string)
}

func TestDomains(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	other := e.mkOrg("other")
	otherMgrGUID := "other-manager-guid"
	if _, err := e.st.EnsureUser(t.Context(), store.User{GUID: otherMgrGUID, Username: "other-manager"}); err != nil {
		t.Fatal(err)
	}
	e.grant(otherMgrGUID, other.GUID, "", store.OrgManager)
	otherMgr := e.iss.UserToken(t, otherMgrGUID, "other-manager", apiuaa.ScopeCloudControllerRead, apiuaa.ScopeCloudControllerWrite)

	// The bootstrapped shared domain, in the shape `cf domains` reads.
	m := e.want(e.do(e.outsider, "GET", "/v3/domains", nil), http.StatusOK)
	if g := guids(m); len(g) != 1 || g[0] != e.sharedDomain.GUID {
		t.Fatalf("domains %s", m)
	}
	d := m["resources"].([]any)[0].(map[string]any)
	if str(d, "name") != appsDomain || d["internal"] != false || d["router_group"] != nil ||
		len(d["supported_protocols"].([]any)) != 1 || d["relationships"].(map[string]any)["organization"].(map[string]any)["data"] != nil {
		t.Errorf("shared domain %v", d)
	}

	// Shared domains are for admins.
	e.wantErr(e.do(e.orgMgr, "POST", "/v3/domains", map[string]any{"name": "shared.test"}), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.readOnlyDv, "POST", "/v3/domains", map[string]any{"name": "shared.test"}), http.StatusForbidden, "not authorized")
	sharedGUID := e.want(e.do(e.admin, "POST", "/v3/domains", map[string]any{"name": "Shared.Test", "internal": true}), http.StatusCreated)["guid"].(string)
	for _, tc := range []struct{ name, detail string }{
		{"shared.test", `The domain name "shared.test" is already in use`},
		{"nodot", `Name must contain at least one "."`},
		{"nodot", "Name does not comply with RFC 1035 standards"},
		{"-bad.test", "Name does not comply with RFC 1035 standards"},
		{"under_score.test", "Name must consist of alphanumeric characters and hyphens"},
		{"ab", "Name is too short (minimum is 3 characters)"},
		{strings.Repeat("a", 64) + ".test", "Name subdomains must each be at most 63 characters"},
		{strings.Repeat("abcdefghi.", 26) + "com", "Name is too long (maximum is 253 characters)"},
	} {
		e.wantErr(e.do(e.admin, "POST", "/v3/domains", map[string]any{"name": tc.name}), http.StatusUnprocessableEntity, tc.detail)
	}
	e.wantErr(e.do(e.admin, "POST", "/v3/domains", map[string]any{"name": "x.test", "router_group": map[string]any{"guid": "rg"}}), http.StatusServiceUnavailable, "The Routing API is disabled.")
	e.wantErr(e.do(e.admin, "POST", "/v3/domains", map[string]any{"name": "x.test", "bogus": 1}), http.StatusUnprocessableEntity, "Unknown field(s): 'bogus'")

	// Private domains: the owning organization's manager.
	body := map[string]any{"name": "private.test", "relationships": map[string]any{"organization": rel(e.org.GUID)}}
	e.wantErr(e.do(e.dev, "POST", "/v3/domains", body), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.outsider, "POST", "/v3/domains", body), http.StatusUnprocessableEntity, "Organization with guid '"+e.org.GUID+"' does not exist or you do not have access to it.")
	e.wantErr(e.do(e.orgMgr, "POST", "/v3/domains", map[string]any{"name": "p.test", "internal": true, "relationships": map[string]any{"organization": rel(e.org.GUID)}}),
		http.StatusUnprocessableEntity, "Cannot associate an internal domain with an organization")
	privGUID := e.privateDomain("private.test")
	priv := e.want(e.do(e.dev, "GET", "/v3/domains/"+privGUID, nil), http.StatusOK)
	if str(priv, "relationships", "organization", "data", "guid") != e.org.GUID || str(priv, "links", "shared_organizations", "href") != e.url+"/v3/domains/"+privGUID+"/relationships/shared_organizations" {
		t.Errorf("private domain %v", priv)
	}
	e.wantErr(e.do(e.outsider, "GET", "/v3/domains/"+privGUID, nil), http.StatusNotFound, "Domain not found")
	if g := guids(e.want(e.do(e.outsider, "GET", "/v3/domains", nil), http.StatusOK)); !sameSet(g, []string{e.sharedDomain.GUID, sharedGUID}) {
		t.Errorf("outsider sees %v", g)
	}
	if g := guids(e.want(e.do(e.globalAuditor, "GET", "/v3/domains?organization_guids="+e.org.GUID, nil), http.StatusOK)); !sameSet(g, []string{privGUID}) {
		t.Errorf("organization_guids: %v", g)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/domains?names=PRIVATE.test,"+appsDomain, nil), http.StatusOK)); !sameSet(g, []string{privGUID, e.sharedDomain.GUID}) {
		t.Errorf("names: %v", g)
	}
	// Reservations across organizations.
	e.wantErr(e.do(otherMgr, "POST", "/v3/domains", map[string]any{"name": "a.private.test", "relationships": map[string]any{"organization": rel(other.GUID)}}),
		http.StatusUnprocessableEntity, `The domain name "a.private.test" cannot be created because "private.test" is already reserved by another domain`)
	e.wantErr(e.do(e.admin, "POST", "/v3/domains", map[string]any{"name": "x.private.test"}),
		http.StatusUnprocessableEntity, `cannot be created because "private.test" is already reserved by another domain`)
	e.wantErr(e.do(otherMgr, "POST", "/v3/domains", map[string]any{"name": "test", "relationships": map[string]any{"organization": rel(other.GUID)}}),
		http.StatusUnprocessableEntity, `Name must contain at least one "."`)
	sub := e.want(e.do(e.orgMgr, "POST", "/v3/domains", map[string]any{"name": "b.private.test", "relationships": map[string]any{"organization": rel(e.org.GUID)}}), http.StatusCreated)
	e.createRoute(e.dev, e.space.GUID, e.sharedDomain.GUID, "reserved", "")
	e.wantErr(e.do(e.admin, "POST", "/v3/domains", map[string]any{"name": "reserved." + appsDomain}),
		http.StatusUnprocessableEntity, `cannot be created because "reserved.apps.test" is already reserved by a route`)

	// Metadata and label selectors.
	e.wantErr(e.do(e.dev, "PATCH", "/v3/domains/"+privGUID, map[string]any{"metadata": map[string]any{"labels": map[string]any{"env": "prod"}}}), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.orgMgr, "PATCH", "/v3/domains/"+e.sharedDomain.GUID, map[string]any{"metadata": map[string]any{"labels": map[string]any{"env": "prod"}}}), http.StatusForbidden, "not authorized")
	up := e.want(e.do(e.orgMgr, "PATCH", "/v3/domains/"+privGUID, map[string]any{"metadata": map[string]any{"labels": map[string]any{"env": "prod"}, "annotations": map[string]any{"note": "x"}}}), http.StatusOK)
	if str(up, "metadata", "labels", "env") != "prod" || str(up, "metadata", "annotations", "note") != "x" {
		t.Errorf("updated %v", up)
	}
	e.wantErr(e.do(e.orgMgr, "PATCH", "/v3/domains/"+privGUID, map[string]any{"metadata": map[string]any{"labels": map[string]any{"bad key": "x"}}}), http.StatusUnprocessableEntity, "Metadata label key error")
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/domains?label_selector=env%20in%20(prod,dev)", nil), http.StatusOK)); !sameSet(g, []string{privGUID}) {
		t.Errorf("label_selector: %v", g)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/domains?label_selector=env%20in%20prod", nil), http.StatusBadRequest, "Invalid label_selector value")

	// Sharing.
	sharePath := "/v3/domains/" + privGUID + "/relationships/shared_organizations"
	shareBody := map[string]any{"data": []any{map[string]any{"guid": other.GUID}}}
	e.wantErr(e.do(e.orgMgr, "POST", sharePath, shareBody), http.StatusUnprocessableEntity, "Organization with guid '"+other.GUID+"' either does not exist, or you do not have access to it.")
	e.wantErr(e.do(e.orgMgr, "POST", sharePath, map[string]any{"data": []any{map[string]any{"guid": e.org.GUID}}}), http.StatusUnprocessableEntity, "Domain cannot be shared with owning organization.")
	e.wantErr(e.do(e.admin, "POST", "/v3/domains/"+sharedGUID+"/relationships/shared_organizations", shareBody), http.StatusUnprocessableEntity, "Domains cannot be shared with other organizations unless they are scoped to an organization.")
	e.wantErr(e.do(e.orgMgr, "POST", sharePath, map[string]any{"data": "nope"}), http.StatusUnprocessableEntity, "Data must be an array")
	m = e.want(e.do(e.admin, "POST", sharePath, shareBody), http.StatusOK)
	if d := m["data"].([]any); len(d) != 1 || str(d[0].(map[string]any), "guid") != other.GUID {
		t.Fatalf("shared %s", m)
	}
	// The owning org's manager does not see the other organization.
	if d := e.want(e.do(e.orgMgr, "GET", "/v3/domains/"+privGUID, nil), http.StatusOK)["relationships"].(map[string]any)["shared_organizations"].(map[string]any)["data"].([]any); len(d) != 0 {
		t.Errorf("owner sees shared orgs %v", d)
	}
	if d := e.want(e.do(otherMgr, "GET", "/v3/domains/"+privGUID, nil), http.StatusOK)["relationships"].(map[string]any)["shared_organizations"].(map[string]any)["data"].([]any); len(d) != 1 {
		t.Errorf("sharee sees shared orgs %v", d)
	}
	// The other organization now uses it.
	m = e.want(e.do(otherMgr, "GET", "/v3/organizations/"+other.GUID+"/domains", nil), http.StatusOK)
	if g := guids(m); !sameSet(g, []string{e.sharedDomain.GUID, sharedGUID, privGUID}) {
		t.Errorf("other org domains %v", g)
	}
	if href := str(m, "pagination", "first", "href"); !strings.HasPrefix(href, e.url+"/v3/organizations/"+other.GUID+"/domains?") {
		t.Errorf("first href %q", href)
	}
	e.wantErr(e.do(e.orgMgr, "DELETE", "/v3/domains/"+privGUID, nil), http.StatusUnprocessableEntity, "This domain is shared with other organizations. Unshare before deleting.")
	otherSpace := e.mkSpace(other, "other-space")
	e.grant(otherMgrGUID, other.GUID, otherSpace.GUID, store.SpaceDeveloper)
	onShared := e.createRoute(otherMgr, otherSpace.GUID, privGUID, "app", "")
	e.wantErr(e.do(e.dev, "DELETE", sharePath+"/"+other.GUID, nil), http.StatusForbidden, "not authorized")
	// The owner's manager cannot see the other organization (CF answers as
	// if it did not exist); its own manager and admins can unshare.
	e.wantErr(e.do(e.orgMgr, "DELETE", sharePath+"/"+other.GUID, nil), http.StatusUnprocessableEntity, "Organization with guid '"+other.GUID+"' does not exist or you do not have access to it.")
	e.wantErr(e.do(e.admin, "DELETE", sharePath+"/"+other.GUID, nil), http.StatusUnprocessableEntity, "This domain has associated routes in this organization. Delete the routes before unsharing.")
	e.waitJob(e.do(otherMgr, "DELETE", "/v3/routes/"+onShared, nil), otherMgr)
	e.wantErr(e.do(e.orgMgr, "DELETE", sharePath+"/00000000-0000-0000-0000-000000000000", nil), http.StatusUnprocessableEntity, "does not exist or you do not have access to it")
	e.want(e.do(otherMgr, "DELETE", sharePath+"/"+other.GUID, nil), http.StatusNoContent)
	e.wantErr(e.do(e.admin, "DELETE", sharePath+"/"+other.GUID, nil), http.StatusUnprocessableEntity, "Unable to unshare domain from organization with name 'other'. Ensure the domain is shared to this organization.")
	e.wantErr(e.do(otherMgr, "GET", "/v3/domains/"+privGUID, nil), http.StatusNotFound, "Domain not found")

	// Default domain: the first shared non-internal one.
	def := e.want(e.do(e.dev, "GET", "/v3/organizations/"+e.org.GUID+"/domains/default", nil), http.StatusOK)
	if str(def, "guid") != e.sharedDomain.GUID {
		t.Errorf("default domain %v", def)
	}
	e.wantErr(e.do(e.outsider, "GET", "/v3/organizations/"+e.org.GUID+"/domains/default", nil), http.StatusNotFound, "Organization not found")

	// Route reservations.
	m = e.want(e.do(e.dev, "GET", "/v3/domains/"+e.sharedDomain.GUID+"/route_reservations?host=reserved", nil), http.StatusOK)
	if m["matching_route"] != true {
		t.Errorf("reservation %v", m)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/domains/"+e.sharedDomain.GUID+"/route_reservations?host=free&path=/x", nil), http.StatusOK)
	if m["matching_route"] != false {
		t.Errorf("reservation %v", m)
	}

	// Delete: refused while routes exist, else a job.
	onPriv := e.createRoute(e.dev, e.space.GUID, privGUID, "www", "")
	e.wantErr(e.do(e.dev, "DELETE", "/v3/domains/"+privGUID, nil), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.orgMgr, "DELETE", "/v3/domains/"+privGUID, nil), http.StatusUnprocessableEntity, "This domain has associated routes. Delete the routes before deleting the domain.")
	e.waitJob(e.do(e.dev, "DELETE", "/v3/routes/"+onPriv, nil), e.dev)
	job := e.waitJob(e.do(e.orgMgr, "DELETE", "/v3/domains/"+privGUID, nil), e.orgMgr)
	if str(job, "state") != "COMPLETE" || str(job, "operation") != "domain.delete" {
		t.Errorf("job %v", job)
	}
	e.wantErr(e.do(e.orgMgr, "GET", "/v3/domains/"+privGUID, nil), http.StatusNotFound, "Domain not found")
	e.want(e.do(e.orgMgr, "DELETE", "/v3/domains/"+str(sub, "guid"), nil), http.StatusAccepted)
	e.wantErr(e.do(e.orgMgr, "DELETE", "/v3/domains/"+sharedGUID, nil), http.StatusForbidden, "not authorized")
	e.want(e.do(e.admin, "DELETE", "/v3/domains/"+sharedGUID, nil), http.StatusAccepted)
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	dom := e.sharedDomain.GUID
	body := func(host, path string) map[string]any {
		b := map[string]any{"host": host, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}
		if path != "" {
			b["path"] = path
		}
		return b
	}

	// Create, in the shape `cf routes` reads.
	m := e.want(e.do(e.dev, "POST", "/v3/routes", body("MyApp", "")), http.StatusCreated)
	appRoute := m["guid"].(string)
	if str(m, "host") != "myapp" || str(m, "url") != "myapp."+appsDomain || str(m, "protocol") != "http" || m["port"] != nil ||
		str(m, "relationships", "space", "data", "guid") != e.space.GUID || str(m, "relationships", "domain", "data", "guid") != dom ||
		len(m["destinations"].([]any)) != 0 || len(m["options"].(map[string]any)) != 0 ||
		str(m, "links", "destinations", "href") != e.url+"/v3/routes/"+appRoute+"/destinations" {
		t.Errorf("route %v", m)
	}
	e.wantErr(e.do(e.dev, "POST", "/v3/routes", body("myapp", "")), http.StatusUnprocessableEntity, "Route already exists with host 'myapp' for domain 'apps.test'.")
	pathRoute := e.createRoute(e.manager, e.space.GUID, dom, "myapp", "/api")
	e.wantErr(e.do(e.dev, "POST", "/v3/routes", body("myapp", "/api")), http.StatusUnprocessableEntity, "Route already exists with host 'myapp' and path '/api' for domain 'apps.test'.")
	commaRoute := e.createRoute(e.supporter, e.space.GUID, dom, "myapp", "/a,b")
	pm := e.want(e.do(e.dev, "GET", "/v3/routes/"+pathRoute, nil), http.StatusOK)
	if str(pm, "url") != "myapp."+appsDomain+"/api" || str(pm, "path") != "/api" {
		t.Errorf("path route %v", pm)
	}

	// Who may create.
	e.wantErr(e.do(e.auditor, "POST", "/v3/routes", body("a1", "")), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.orgAuditor, "POST", "/v3/routes", body("a1", "")), http.StatusUnprocessableEntity, "Invalid space. Ensure that the space exists and you have access to it.")
	e.wantErr(e.do(e.outsider, "POST", "/v3/routes", body("a1", "")), http.StatusUnprocessableEntity, "Invalid space. Ensure that the space exists and you have access to it.")
	e.wantErr(e.do(e.readOnlyDv, "POST", "/v3/routes", body("a1", "")), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.orgMgr, "POST", "/v3/routes", body("a1", "")), http.StatusForbidden, "not authorized")
	e.createRoute(e.admin, e.space.GUID, dom, "by-admin", "")

	// Validation, with CF's messages.
	bad := []struct {
		body   map[string]any
		detail string
	}{
		{body("bad.host", ""), `Host must be either "*" or contain only alphanumeric characters, "_", or "-"`},
		{body(strings.Repeat("h", 64), ""), "Host is too long (maximum is 63 characters)"},
		{body("h", "nopath"), "Path must begin with /"},
		{body("h", "/"), "Path cannot be exactly /"},
		{body("h", "/a?b"), "Path cannot contain ?"},
		{body("h", "/"+strings.Repeat("p", 128)), "Path is too long (maximum is 128 characters)"},
		{body("h", "/a b"), "Path is invalid."},
		{body("", ""), "Missing host. Routes in shared domains must have a host defined."},
		{body("*", ""), "You do not have sufficient permissions to create a route with a wildcard host on a domain not scoped to an organization."},
		{map[string]any{"host": "h"}, "Relationships can't be blank"},
		{map[string]any{"host": "h", "relationships": map[string]any{"space": rel(e.space.GUID)}}, `Relationships Domain must be structured like this`},
		{map[string]any{"host": "h", "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel("00000000-0000-0000-0000-000000000000")}}, "Invalid domain. Ensure that the domain exists and you have access to it."},
		{map[string]any{"host": "h", "port": 8080, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}, "Routes with protocol 'http' do not support ports."},
		{map[string]any{"host": "h", "port": 70000, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}, "Port must be less than or equal to 65535"},
		{map[string]any{"host": 1, "relationships": map[string]any{}}, "Host must be a string"},
		{map[string]any{"host": "h", "extra": 1}, "Unknown field(s): 'extra'"},
		{map[string]any{"host": "h", "options": map[string]any{"loadbalancing": "random"}, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}},
			"Options Loadbalancing must be one of 'round-robin, least-connection, hash' if present"},
		{map[string]any{"host": "h", "options": map[string]any{"foo": "x"}, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}, "Options Unknown field(s): 'foo'"},
		{map[string]any{"host": "h", "options": map[string]any{"loadbalancing": "hash"}, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}, "Hash header must be present when loadbalancing is set to hash."},
		{map[string]any{"host": "h", "options": map[string]any{"loadbalancing": "hash", "hash_header": "X", "hash_balance": "20"}, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}, "Options Hash balance must be either 0 or between 1.1 and 10.0"},
		{map[string]any{"host": "h", "options": map[string]any{"loadbalancing": "round-robin", "hash_header": "X"}, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}, "Options Hash header can only be set when loadbalancing is hash"},
		{map[string]any{"host": "h", "options": []any{}, "relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}, "Options 'options' is not a valid object"},
	}
	for _, tc := range bad {
		e.wantErr(e.do(e.dev, "POST", "/v3/routes", tc.body), http.StatusUnprocessableEntity, tc.detail)
	}
	// Several problems come in one detail, as CF joins them.
	e.wantErr(e.do(e.dev, "POST", "/v3/routes", body("bad.host", "nopath")), http.StatusUnprocessableEntity,
		`Host must be either "*" or contain only alphanumeric characters, "_", or "-", Path must begin with /`)
	e.createRoute(e.dev, e.space.GUID, dom, strings.Repeat("a", 63), "/"+strings.Repeat("p", 127))

	// Private domains: wildcards and hostless routes are fine; a domain of
	// another organization is not available.
	privGUID := e.privateDomain("corp.test")
	e.createRoute(e.dev, e.space.GUID, privGUID, "*", "")
	e.createRoute(e.dev, e.space.GUID, privGUID, "", "/docs")
	e.wantErr(e.do(e.dev, "POST", "/v3/routes", map[string]any{"relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(privGUID)}, "path": "/docs"}),
		http.StatusUnprocessableEntity, "Route already exists with path '/docs' for domain 'corp.test'.")
	e.createRoute(e.dev, e.space.GUID, privGUID, "", "")
	e.wantErr(e.do(e.dev, "POST", "/v3/routes", map[string]any{"relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(privGUID)}}),
		http.StatusUnprocessableEntity, "Route already exists for domain 'corp.test'.")
	other := e.mkOrg("other")
	otherSpace := e.mkSpace(other, "s")
	e.wantErr(e.do(e.admin, "POST", "/v3/routes", map[string]any{"host": "x", "relationships": map[string]any{"space": rel(otherSpace.GUID), "domain": rel(privGUID)}}),
		http.StatusUnprocessableEntity, "Invalid domain. Domain 'corp.test' is not available in organization 'other'.")
	// A host of a shared domain belongs to one space.
	e.wantErr(e.do(e.admin, "POST", "/v3/routes", map[string]any{"host": "myapp", "path": "/other", "relationships": map[string]any{"space": rel(otherSpace.GUID), "domain": rel(dom)}}),
		http.StatusUnprocessableEntity, "is already used by a route in another space")
	otherRoute := e.createRoute(e.admin, otherSpace.GUID, dom, "elsewhere", "")
	// A host.domain that is a domain's name.
	e.want(e.do(e.admin, "POST", "/v3/domains", map[string]any{"name": "svc." + appsDomain}), http.StatusCreated)
	e.wantErr(e.do(e.dev, "POST", "/v3/routes", body("svc", "")), http.StatusUnprocessableEntity, "Route conflicts with domain 'svc.apps.test'.")

	// Reads: space roles and the organization's managers and auditors.
	for _, tc := range []struct {
		name  string
		token string
		sees  bool
	}{
		{"developer", e.dev, true}, {"auditor", e.auditor, true}, {"supporter", e.supporter, true}, {"manager", e.manager, true},
		{"org manager", e.orgMgr, true}, {"org auditor", e.orgAuditor, true}, {"global auditor", e.globalAuditor, true},
		{"org user", e.orgUser, false}, {"outsider", e.outsider, false},
	} {
		r := e.do(tc.token, "GET", "/v3/routes/"+appRoute, nil)
		lst := guids(e.want(e.do(tc.token, "GET", "/v3/routes?hosts=myapp&domain_guids="+dom, nil), http.StatusOK))
		if tc.sees {
			e.want(r, http.StatusOK)
			if len(lst) != 3 {
				t.Errorf("%s lists %v", tc.name, lst)
			}
		} else {
			e.wantErr(r, http.StatusNotFound, "Route not found")
			if len(lst) != 0 {
				t.Errorf("%s lists %v", tc.name, lst)
			}
		}
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?per_page=5000", nil), http.StatusOK)); len(g) != 8 {
		t.Errorf("developer sees %d routes: %v", len(g), g)
	}
	if g := guids(e.want(e.do(e.admin, "GET", "/v3/routes?organization_guids="+other.GUID, nil), http.StatusOK)); !sameSet(g, []string{otherRoute}) {
		t.Errorf("organization_guids: %v", g)
	}

	// The cf CLI's lookups: empty values mean "equals empty".
	q := "/v3/routes?domain_guids=" + dom + "&hosts=myapp&paths=&page=1&per_page=1"
	if g := guids(e.want(e.do(e.dev, "GET", q, nil), http.StatusOK)); !sameSet(g, []string{appRoute}) {
		t.Errorf("hosts=myapp&paths=: %v", g)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?domain_guids="+privGUID+"&hosts=&paths=", nil), http.StatusOK)); len(g) != 1 {
		t.Errorf("hosts=&paths=: %v", g)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?hosts=MYAPP&paths=/api,&ports=", nil), http.StatusOK)); !sameSet(g, []string{appRoute, pathRoute}) {
		t.Errorf("paths=/api,: %v", g)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?ports=8080", nil), http.StatusOK)); len(g) != 0 {
		t.Errorf("ports=8080: %v", g)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/routes?ports=x", nil), http.StatusBadRequest, "Ports must be integers")
	// A comma inside a value arrives double-encoded.
	comma := "/v3/routes?paths=" + url.QueryEscape(strings.ReplaceAll("/a,b", ",", "%2C")) + ",/nothing"
	if g := guids(e.want(e.do(e.dev, "GET", comma, nil), http.StatusOK)); !sameSet(g, []string{commaRoute}) {
		t.Errorf("comma-escaped: %v", g)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?app_guids=", nil), http.StatusOK)); len(g) != 0 {
		t.Errorf("app_guids=: %v", g)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?space_guids="+e.space.GUID+"&guids="+appRoute+","+pathRoute, nil), http.StatusOK)); !sameSet(g, []string{appRoute, pathRoute}) {
		t.Errorf("guids: %v", g)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/routes?names=x", nil), http.StatusBadRequest, "Unknown query parameter(s): 'names'")

	// Pagination hrefs are absolute and keep the filters.
	m = e.want(e.do(e.dev, "GET", "/v3/routes?hosts=myapp&paths=&per_page=1&order_by=-created_at", nil), http.StatusOK)
	if g := guids(m); !sameSet(g, []string{appRoute}) {
		t.Errorf("first page %v", g)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/routes?hosts=myapp&per_page=2", nil), http.StatusOK)
	next := str(m, "pagination", "next", "href")
	if !strings.HasPrefix(next, e.url+"/v3/routes?") || !strings.Contains(next, "hosts=myapp") || !strings.Contains(next, "per_page=2") {
		t.Fatalf("next %q", next)
	}
	m = e.want(e.do(e.dev, "GET", next, nil), http.StatusOK)
	if len(guids(m)) != 1 || m["pagination"].(map[string]any)["next"] != nil || str(m, "pagination", "previous", "href") == "" {
		t.Errorf("page 2: %s", m)
	}

	// A page past the end still counts the matches.
	m = e.want(e.do(e.dev, "GET", "/v3/routes?hosts=myapp&page=9&per_page=2", nil), http.StatusOK)
	if len(guids(m)) != 0 || m["pagination"].(map[string]any)["total_results"] != float64(3) {
		t.Errorf("page past the end: %s", m)
	}

	// include=domain,space.organization
	m = e.want(e.do(e.dev, "GET", "/v3/routes?guids="+appRoute+"&include=domain,space.organization", nil), http.StatusOK)
	inc := m["included"].(map[string]any)
	if len(inc["domains"].([]any)) != 1 || len(inc["spaces"].([]any)) != 1 || str(inc["organizations"].([]any)[0].(map[string]any), "guid") != e.org.GUID {
		t.Errorf("included %v", inc)
	}

	// Update: options merge (null unsets) and metadata.
	opts := func(o map[string]any) map[string]any { return map[string]any{"options": o} }
	e.wantErr(e.do(e.auditor, "PATCH", "/v3/routes/"+appRoute, opts(map[string]any{"loadbalancing": "least-connection"})), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.outsider, "PATCH", "/v3/routes/"+appRoute, opts(map[string]any{"loadbalancing": "least-connection"})), http.StatusNotFound, "Route not found")
	up := e.want(e.do(e.dev, "PATCH", "/v3/routes/"+appRoute, opts(map[string]any{"loadbalancing": "hash", "hash_header": "X-User", "hash_balance": 1.25})), http.StatusOK)
	if o := up["options"].(map[string]any); o["loadbalancing"] != "hash" || o["hash_header"] != "X-User" || o["hash_balance"] != "1.3" {
		t.Errorf("options %v", o)
	}
	e.wantErr(e.do(e.dev, "PATCH", "/v3/routes/"+appRoute, opts(map[string]any{"hash_header": nil})), http.StatusUnprocessableEntity, "Hash header must be present when loadbalancing is set to hash.")
	up = e.want(e.do(e.dev, "PATCH", "/v3/routes/"+appRoute, map[string]any{"options": map[string]any{"loadbalancing": "round-robin"}, "metadata": map[string]any{"labels": map[string]any{"team": "a"}}}), http.StatusOK)
	if o := up["options"].(map[string]any); len(o) != 1 || o["loadbalancing"] != "round-robin" || str(up, "metadata", "labels", "team") != "a" {
		t.Errorf("options after round-robin %v", up)
	}
	up = e.want(e.do(e.dev, "PATCH", "/v3/routes/"+appRoute, opts(map[string]any{"loadbalancing": nil})), http.StatusOK)
	if o := up["options"].(map[string]any); len(o) != 0 {
		t.Errorf("options after null %v", o)
	}
	e.wantErr(e.do(e.dev, "PATCH", "/v3/routes/"+appRoute, map[string]any{"host": "x"}), http.StatusUnprocessableEntity, "Unknown field(s): 'host'")
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?label_selector=team%3Da", nil), http.StatusOK)); !sameSet(g, []string{appRoute}) {
		t.Errorf("label_selector: %v", g)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?label_selector=team!%3Da&hosts=myapp", nil), http.StatusOK)); !sameSet(g, []string{pathRoute, commaRoute}) {
		t.Errorf("label_selector !=: %v", g)
	}
	withOpts := e.want(e.do(e.dev, "POST", "/v3/routes", map[string]any{"host": "lb", "options": map[string]any{"loadbalancing": "least-connection"},
		"relationships": map[string]any{"space": rel(e.space.GUID), "domain": rel(dom)}}), http.StatusCreated)
	if withOpts["options"].(map[string]any)["loadbalancing"] != "least-connection" {
		t.Errorf("created with options %v", withOpts)
	}

	// Delete: a job, complete by the first poll.
	e.wantErr(e.do(e.auditor, "DELETE", "/v3/routes/"+pathRoute, nil), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.outsider, "DELETE", "/v3/routes/"+pathRoute, nil), http.StatusNotFound, "Route not found")
	job := e.waitJob(e.do(e.dev, "DELETE", "/v3/routes/"+pathRoute, nil), e.dev)
	if str(job, "state") != "COMPLETE" || str(job, "operation") != "route.delete" {
		t.Errorf("job %v", job)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/routes/"+pathRoute, nil), http.StatusNotFound, "Route not found")
	e.wantErr(e.do(e.dev, "GET", "/v3/routes/not-a-guid", nil), http.StatusNotFound, "Route not found")

	// Deleting the space takes its routes along.
	if err := e.st.DeleteSpace(t.Context(), otherSpace.GUID); err != nil {
		t.Fatal(err)
	}
	e.wantErr(e.do(e.admin, "GET", "/v3/routes/"+otherRoute, nil), http.StatusNotFound, "Route not found")
}

func TestDestinations(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	route := e.createRoute(e.dev, e.space.GUID, e.sharedDomain.GUID, "web", "")
	other := e.createRoute(e.dev, e.space.GUID, e.sharedDomain.GUID, "other", "")
	path := "/v3/routes/" + route + "/destinations"
	// Destinations name existing apps of the route's space.
	ag := map[string]string{}
	for _, n := range []string{"app-1", "app-2", "app-3", "a", "b", "c", "dup"} {
		ag[n] = e.createApp(e.dev, n)["guid"].(string)
	}
	stranger := e.mkSpace(e.org, "stranger")
	foreign, err := e.st.CreateApp(t.Context(), store.App{Name: "foreign", SpaceGUID: stranger.GUID}, store.Process{Instances: 1, MemoryMB: 1, DiskMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.wantErr(e.do(e.dev, "POST", path, map[string]any{"destinations": []any{map[string]any{"app": map[string]any{"guid": "00000000-0000-0000-0000-000000000000"}}}}),
		http.StatusUnprocessableEntity, `App(s) with guid(s) "00000000-0000-0000-0000-000000000000" do not exist.`)
	e.wantErr(e.do(e.dev, "POST", path, map[string]any{"destinations": []any{map[string]any{"app": map[string]any{"guid": foreign.GUID}}}}),
		http.StatusUnprocessableEntity, `App(s) with guid(s) "`+foreign.GUID+`" you do not have access.`)
	e.wantErr(e.do(e.admin, "POST", path, map[string]any{"destinations": []any{map[string]any{"app": map[string]any{"guid": foreign.GUID}}}}),
		http.StatusUnprocessableEntity, "Routes destinations must be in either the route's space or the route's shared spaces")
	app := func(guid string) map[string]any { return map[string]any{"app": map[string]any{"guid": guid}} }
	dests := func(d ...map[string]any) map[string]any {
		out := []any{}
		for _, x := range d {
			out = append(out, x)
		}
		return map[string]any{"destinations": out}
	}

	// cf map-route: POST with the app guid only; CF's defaults fill in.
	e.wantErr(e.do(e.auditor, "POST", path, dests(app(ag["app-1"]))), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.outsider, "POST", path, dests(app(ag["app-1"]))), http.StatusNotFound, "Route not found")
	m := e.want(e.do(e.dev, "POST", path, dests(app(ag["app-1"]))), http.StatusOK)
	list := m["destinations"].([]any)
	if len(list) != 1 || str(m, "links", "self", "href") != e.url+path || str(m, "links", "route", "href") != e.url+"/v3/routes/"+route {
		t.Fatalf("destinations %s", m)
	}
	d1 := list[0].(map[string]any)
	if str(d1, "app", "guid") != ag["app-1"] || str(d1, "app", "process", "type") != "web" || d1["port"] != float64(8080) || str(d1, "protocol") != "http1" || d1["weight"] != nil {
		t.Errorf("destination %v", d1)
	}
	// Mapping again changes nothing; the same app on another port is new.
	m = e.want(e.do(e.supporter, "POST", path, dests(app(ag["app-1"]), map[string]any{"app": map[string]any{"guid": ag["app-2"], "process": map[string]any{"type": "worker"}}, "port": 9000, "protocol": "http2"})), http.StatusOK)
	if n := len(m["destinations"].([]any)); n != 2 {
		t.Fatalf("%d destinations: %s", n, m)
	}
	e.wantErr(e.do(e.dev, "POST", path, dests(map[string]any{"app": map[string]any{"guid": ag["app-1"]}, "protocol": "http2"})), http.StatusUnprocessableEntity,
		"Cannot add destination with protocol: http2. Destination already exists for route: web.apps.test, app: "+ag["app-1"]+", process: web, and protocol: http1.")
	e.want(e.do(e.dev, "POST", "/v3/routes/"+other+"/destinations", dests(app(ag["app-2"]))), http.StatusOK)

	// The route shows them; app_guids finds routes by app.
	rm := e.want(e.do(e.auditor, "GET", "/v3/routes/"+route, nil), http.StatusOK)
	if n := len(rm["destinations"].([]any)); n != 2 {
		t.Errorf("route has %d destinations", n)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?app_guids="+ag["app-2"], nil), http.StatusOK)); !sameSet(g, []string{route, other}) {
		t.Errorf("app_guids=app-2: %v", g)
	}
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?app_guids="+ag["app-1"]+",nope", nil), http.StatusOK)); !sameSet(g, []string{route}) {
		t.Errorf("app_guids=app-1: %v", g)
	}
	m = e.want(e.do(e.auditor, "GET", path+"?app_guids="+ag["app-2"], nil), http.StatusOK)
	if n := len(m["destinations"].([]any)); n != 1 {
		t.Errorf("destinations?app_guids: %s", m)
	}
	e.wantErr(e.do(e.outsider, "GET", path, nil), http.StatusNotFound, "Route not found")

	// Validation.
	for _, tc := range []struct {
		body   any
		detail string
	}{
		{map[string]any{"destinations": []any{}}, "Destinations must be an array containing between 1 and 100 destination objects."},
		{map[string]any{}, "Destinations must be an array containing between 1 and 100 destination objects."},
		{dests(map[string]any{"port": 8080}), `Destinations[0]: must have an "app".`},
		{map[string]any{"destinations": []any{"x"}}, "Destinations[0]: must be an object."},
		{dests(map[string]any{"app": map[string]any{"guid": ag["a"]}, "bogus": 1}), `Destinations[0]: must have only "app" and optionally "weight", "port" or "protocol".`},
		{dests(map[string]any{"app": map[string]any{"guid": ""}}), `Destinations[0]: app must have the structure {"guid": "app_guid"}`},
		{dests(map[string]any{"app": map[string]any{"guid": ag["a"], "process": map[string]any{"type": ""}}}), `Destinations[0]: process must have the structure {"type": "process_type"}`},
		{dests(app(ag["a"]), map[string]any{"app": map[string]any{"guid": ag["a"]}, "port": 80}), "Destinations[1]: port must be a positive integer between 1024 and 65535 inclusive."},
		{dests(map[string]any{"app": map[string]any{"guid": ag["a"]}, "protocol": "udp"}), "Destinations[0]: protocol must be 'http1', 'http2' or 'tcp'."},
		{dests(map[string]any{"app": map[string]any{"guid": ag["a"]}, "protocol": "tcp"}), "Cannot use 'tcp' protocol for http routes; valid options are: [http1, http2]."},
		{dests(map[string]any{"app": map[string]any{"guid": ag["a"]}, "weight": 100}), "Destinations[0]: weighted destinations can only be used when replacing all destinations."},
		{dests(app(ag["dup"]), app(ag["dup"])), "Destinations cannot contain duplicate entries"},
	} {
		e.wantErr(e.do(e.dev, "POST", path, tc.body), http.StatusUnprocessableEntity, tc.detail)
	}
	e.wantErr(e.do(e.dev, "POST", path, `{"destinations":`), http.StatusBadRequest, "Request invalid due to parse error")

	// Unmap (cf unmap-route): DELETE the destination whose app matches.
	var d2 string
	for _, d := range e.want(e.do(e.dev, "GET", path, nil), http.StatusOK)["destinations"].([]any) {
		if str(d.(map[string]any), "app", "guid") == ag["app-2"] {
			d2 = str(d.(map[string]any), "guid")
		}
	}
	e.wantErr(e.do(e.auditor, "DELETE", path+"/"+d2, nil), http.StatusForbidden, "not authorized")
	e.want(e.do(e.dev, "DELETE", path+"/"+d2, nil), http.StatusNoContent)
	e.wantErr(e.do(e.dev, "DELETE", path+"/"+d2, nil), http.StatusUnprocessableEntity, "Unable to unmap route from destination. Ensure the route has a destination with this guid.")
	e.wantErr(e.do(e.dev, "DELETE", path+"/not-a-guid", nil), http.StatusUnprocessableEntity, "Unable to unmap route from destination.")

	// Protocol update of one destination.
	d1GUID := str(d1, "guid")
	up := e.want(e.do(e.dev, "PATCH", path+"/"+d1GUID, map[string]any{"protocol": "http2"}), http.StatusOK)
	if str(up, "protocol") != "http2" || str(up, "links", "route", "href") != e.url+"/v3/routes/"+route {
		t.Errorf("updated destination %v", up)
	}
	e.wantErr(e.do(e.dev, "PATCH", path+"/"+d1GUID, map[string]any{"protocol": "tcp"}), http.StatusUnprocessableEntity, "Destination protocol must be 'http1' or 'http2' if the parent route's protocol is 'http'")
	e.wantErr(e.do(e.dev, "PATCH", path+"/"+d1GUID, map[string]any{"protocol": "h3"}), http.StatusUnprocessableEntity, "Destination protocol must be 'http1', 'http2' or 'tcp'.")

	// Replace (PATCH): unchanged destinations keep their guids.
	m = e.want(e.do(e.dev, "PATCH", path, dests(map[string]any{"app": map[string]any{"guid": ag["app-1"]}, "protocol": "http2"}, app(ag["app-3"]))), http.StatusOK)
	got := m["destinations"].([]any)
	if len(got) != 2 {
		t.Fatalf("replaced %s", m)
	}
	kept := false
	for _, d := range got {
		kept = kept || str(d.(map[string]any), "guid") == d1GUID
	}
	if !kept {
		t.Errorf("the unchanged destination lost its guid: %s", m)
	}
	e.wantErr(e.do(e.dev, "PATCH", path, dests(map[string]any{"app": map[string]any{"guid": ag["a"]}, "weight": 60}, map[string]any{"app": map[string]any{"guid": ag["b"]}, "weight": 30})),
		http.StatusUnprocessableEntity, "Destinations must have weights that sum to 100.")
	e.wantErr(e.do(e.dev, "PATCH", path, dests(map[string]any{"app": map[string]any{"guid": ag["a"]}, "weight": 60}, app(ag["b"]))),
		http.StatusUnprocessableEntity, "Destinations cannot contain both weighted and unweighted destinations.")
	m = e.want(e.do(e.dev, "PATCH", path, dests(map[string]any{"app": map[string]any{"guid": ag["a"]}, "weight": 60}, map[string]any{"app": map[string]any{"guid": ag["b"]}, "weight": 40})), http.StatusOK)
	var weighted string
	for _, d := range m["destinations"].([]any) {
		if d.(map[string]any)["weight"] == nil {
			t.Errorf("weight lost: %s", m)
		}
		weighted = str(d.(map[string]any), "guid")
	}
	e.wantErr(e.do(e.dev, "POST", path, dests(app(ag["c"]))), http.StatusUnprocessableEntity, "Destinations cannot be inserted when there are weighted destinations already configured.")
	e.wantErr(e.do(e.dev, "DELETE", path+"/"+weighted, nil), http.StatusUnprocessableEntity, "Weighted destinations cannot be deleted individually.")
	m = e.want(e.do(e.dev, "PATCH", path, map[string]any{"destinations": []any{}}), http.StatusOK)
	if n := len(m["destinations"].([]any)); n != 0 {
		t.Errorf("emptied: %s", m)
	}
	e.wantErr(e.do(e.readOnlyDv, "PATCH", path, map[string]any{"destinations": []any{}}), http.StatusForbidden, "not authorized")

	// Deleting the route deletes its destinations.
	e.waitJob(e.do(e.dev, "DELETE", "/v3/routes/"+other, nil), e.dev)
	if g := guids(e.want(e.do(e.dev, "GET", "/v3/routes?app_guids="+ag["app-2"], nil), http.StatusOK)); len(g) != 0 {
		t.Errorf("app_guids after delete: %v", g)
	}
}

func TestValidateDomainName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"apps.test", "a.b.c", "x1-y.example.COM", strings.Repeat("a", 63) + ".test"} {
		if err := ValidateDomainName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"", "ab", "test", "a..b", "-a.b", "a-.b", "a.b.", ".a.b", "ü.test", "a b.test", strings.Repeat("a", 64) + ".test"} {
		if err := ValidateDomainName(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}

func TestParentDomains(t *testing.T) {
	t.Parallel()
	got := strings.Join(parentDomains("a.b.example.com"), " ")
	if got != "a.b.example.com b.example.com example.com" {
		t.Errorf("parentDomains = %q", got)
	}
	if got := strings.Join(parentDomains("example.com"), " "); got != "example.com" {
		t.Errorf("parentDomains = %q", got)
	}
}

// FuzzRouteAddress checks the route host and path validation: it never
// panics, accepts exactly CF's host alphabet, and an accepted path is one
// URL path that the router can match (no query, no fragment, not "/").
func FuzzRouteAddress(f *testing.F) {
	for _, s := range [][2]string{{"app", "/api"}, {"*", ""}, {"", "/a,b"}, {"a_b-c", "/%2F"}, {"bad.host", "/a?b"}, {"h", "/a#b"}, {"h", "/%zz"}, {"ü", "/ü"}, {"h", "/\n"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, host, path string) {
		hp := hostProblems(host)
		hostOK := host == "*" || utf8.RuneCountInString(host) <= maxLabelLength && strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == ""
		if host == "*" || host == "" {
			hostOK = true
		}
		if (len(hp) == 0) != hostOK {
			t.Fatalf("host %q: problems %v", host, hp)
		}
		if len(pathProblems(path)) > 0 || !validPathChars(path) || path == "" {
			return
		}
		if path[0] != '/' || path == "/" || len(path) > maxPathLength || strings.ContainsAny(path, "?# \n") {
			t.Fatalf("accepted path %q", path)
		}
		u, err := url.Parse("http://h.example.com" + path)
		if err != nil || u.RawQuery != "" || u.Fragment != "" || u.Host != "h.example.com" {
			t.Fatalf("accepted path %q does not parse as a URL path: %v", path, err)
		}
	})
}

// FuzzDomainName checks ValidateDomainName never panics and accepts only
// dotted names of short ASCII labels.
func FuzzDomainName(f *testing.F) {
	for _, s := range []string{"apps.test", "a", "a..b", "-x.y", "x.y-", "ü.de", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateDomainName(name) != nil {
			return
		}
		labels := strings.Split(name, ".")
		if len(labels) < 2 || len(name) > maxDomainLength || len(name) < minDomainLength {
			t.Fatalf("accepted %q", name)
		}
		for _, l := range labels {
			if l == "" || len(l) > maxLabelLength || l[0] == '-' || l[len(l)-1] == '-' ||
				strings.Trim(strings.ToLower(l), "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
				t.Fatalf("accepted %q (label %q)", name, l)
			}
		}
	})
}

// FuzzRouteOptions checks that options parsing and merging never panic and
// that what is stored is one of CF's shapes.
func FuzzRouteOptions(f *testing.F) {
	for _, s := range []string{`{}`, `{"loadbalancing":"hash","hash_header":"X","hash_balance":1.55}`, `{"loadbalancing":null}`, `[]`, `{"x":1}`, `{"hash_balance":"1e400"}`, `{"loadbalancing":"hash","hash_header":"X","hash_balance":"NaN"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		patch, err := parseRouteOptions(json.RawMessage(raw))
		if err != nil {
			return
		}
		out, err := mergeRouteOptions(map[string]string{"loadbalancing": "round-robin"}, patch)
		if err != nil {
			return
		}
		for k, v := range out {
			switch k {
			case optLoadBalancing:
				if v != "round-robin" && v != "least-connection" && v != lbHash {
					t.Fatalf("loadbalancing %q from %s", v, raw)
				}
			case optHashHeader, optHashBalance:
				if out[optLoadBalancing] != lbHash {
					t.Fatalf("%s without hash from %s", k, raw)
				}
			default:
				t.Fatalf("key %q from %s", k, raw)
			}
		}
	})
}
