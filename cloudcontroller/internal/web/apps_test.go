package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Tests of apps, processes and manifests against a web.Server on a real
// database (the routing tests' environment: an org, a space and one user
// per role).

func (e *routingEnv) createApp(token, name string) map[string]any {
	e.t.Helper()
	return e.want(e.do(token, "POST", "/v3/apps", map[string]any{
		"name": name, "relationships": map[string]any{"space": rel(e.space.GUID)},
	}), http.StatusCreated)
}

// doYAML sends a manifest as the cf CLI does.
func (e *routingEnv) doYAML(token, path, body string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), "POST", e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "bearer "+token)
	req.Header.Set("Content-Type", "application/x-yaml")
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

// setDroplet stands in for the droplets milestone: it gives the app a
// current droplet so that it can start.
func (e *routingEnv) setDroplet(app string) {
	e.t.Helper()
	if _, err := e.st.SetAppDroplet(e.t.Context(), app, uuid.NewString()); err != nil {
		e.t.Fatal(err)
	}
}

func TestAppsCRUD(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	m := e.createApp(e.dev, "web1")
	guid := m["guid"].(string)
	if m["state"] != "STOPPED" || str(m, "lifecycle", "type") != "buildpack" || str(m, "lifecycle", "data", "stack") != "cflinuxfs4" ||
		str(m, "relationships", "space", "data", "guid") != e.space.GUID {
		t.Fatalf("created %v", m)
	}
	links := m["links"].(map[string]any)
	for _, l := range []string{"self", "space", "processes", "packages", "environment_variables", "current_droplet", "droplets", "tasks", "start", "stop", "revisions", "deployed_revisions", "features"} {
		href := str(links, l, "href")
		if !strings.HasPrefix(href, e.url+"/v3/") {
			t.Errorf("link %s = %q", l, href)
		}
	}
	if str(links, "start", "method") != "POST" {
		t.Errorf("start link %v", links["start"])
	}
	if bps, ok := m["lifecycle"].(map[string]any)["data"].(map[string]any)["buildpacks"].([]any); !ok || len(bps) != 0 {
		t.Errorf("buildpacks %v", m["lifecycle"])
	}

	// Uniqueness, CF's text and code (the cf CLI matches the text).
	r := e.do(e.dev, "POST", "/v3/apps", map[string]any{"name": "web1", "relationships": map[string]any{"space": rel(e.space.GUID)}})
	e.wantErr(r, http.StatusUnprocessableEntity, "App with the name 'web1' already exists.")
	if !strings.Contains(string(r.Body), `"code":10016`) || !strings.Contains(string(r.Body), "CF-UniquenessError") {
		t.Errorf("uniqueness envelope %s", r.Body)
	}
	// Docker apps need diego_docker (CF: 403 FeatureDisabled).
	e.wantErr(e.do(e.dev, "POST", "/v3/apps", map[string]any{"name": "d", "lifecycle": map[string]any{"type": "docker", "data": map[string]any{}},
		"relationships": map[string]any{"space": rel(e.space.GUID)}}), http.StatusForbidden, "Feature Disabled: diego_docker")
	e.wantErr(e.do(e.dev, "POST", "/v3/apps", map[string]any{"name": "s", "lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"stack": "nope"}},
		"relationships": map[string]any{"space": rel(e.space.GUID)}}), http.StatusUnprocessableEntity, "Stack must be an existing stack")
	e.wantErr(e.do(e.dev, "POST", "/v3/apps", map[string]any{"name": "v", "environment_variables": map[string]any{"VCAP_X": "1"},
		"relationships": map[string]any{"space": rel(e.space.GUID)}}), http.StatusUnprocessableEntity, "Environment variables cannot start with VCAP_")
	e.wantErr(e.do(e.dev, "POST", "/v3/apps", map[string]any{"relationships": map[string]any{"space": rel(e.space.GUID)}}), http.StatusUnprocessableEntity, "Name must be a string")
	e.wantErr(e.do(e.dev, "POST", "/v3/apps", map[string]any{"name": "x", "bogus": 1, "relationships": map[string]any{"space": rel(e.space.GUID)}}), http.StatusUnprocessableEntity, "Unknown field(s): 'bogus'")
	e.wantErr(e.do(e.outsider, "POST", "/v3/apps", map[string]any{"name": "x", "relationships": map[string]any{"space": rel(e.space.GUID)}}),
		http.StatusUnprocessableEntity, "Invalid space. Ensure that the space exists and you have access to it.")

	// Update: rename, buildpacks, stack, metadata.
	m = e.want(e.do(e.dev, "PATCH", "/v3/apps/"+guid, map[string]any{"name": "web2",
		"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": []string{"go_buildpack"}, "stack": "cflinuxfs3"}},
		"metadata":  map[string]any{"labels": map[string]any{"tier": "front"}}}), http.StatusOK)
	if m["name"] != "web2" || str(m, "lifecycle", "data", "stack") != "cflinuxfs3" || str(m, "metadata", "labels", "tier") != "front" {
		t.Fatalf("updated %v", m)
	}
	e.createApp(e.dev, "other")
	e.wantErr(e.do(e.dev, "PATCH", "/v3/apps/"+guid, map[string]any{"name": "other"}), http.StatusUnprocessableEntity, "App with the name 'other' already exists.")

	// Lists and filters (the cf CLI's APP-LOOKUP and cf apps).
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"names=web2%2Cother&space_guids=" + e.space.GUID, 2},
		{"names=web2&per_page=1&page=1", 1},
		{"organization_guids=" + e.org.GUID, 2},
		{"stacks=cflinuxfs3", 1},
		{"lifecycle_type=docker", 0},
		{"label_selector=tier=front", 1},
		{"guids=" + guid, 1},
		{"space_guids=" + uuid.NewString(), 0},
	} {
		l := e.want(e.do(e.dev, "GET", "/v3/apps?"+tc.query, nil), http.StatusOK)
		if got := len(l["resources"].([]any)); got != tc.want {
			t.Errorf("%s: %d apps, want %d", tc.query, got, tc.want)
		}
	}
	l := e.want(e.do(e.auditor, "GET", "/v3/apps?order_by=name&include=space,space.organization", nil), http.StatusOK)
	if names := l["resources"].([]any); names[0].(map[string]any)["name"] != "other" {
		t.Errorf("order %v", names)
	}
	inc := l["included"].(map[string]any)
	if len(inc["spaces"].([]any)) != 1 || len(inc["organizations"].([]any)) != 1 {
		t.Errorf("included %v", inc)
	}
	if l := e.want(e.do(e.outsider, "GET", "/v3/apps", nil), http.StatusOK); len(l["resources"].([]any)) != 0 {
		t.Errorf("outsider sees %v", l["resources"])
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/apps?bogus=1", nil), http.StatusBadRequest, "bogus")

	// RBAC: readers read, only developers write, others get 404.
	e.want(e.do(e.auditor, "GET", "/v3/apps/"+guid, nil), http.StatusOK)
	e.want(e.do(e.orgMgr, "GET", "/v3/apps/"+guid, nil), http.StatusOK)
	e.want(e.do(e.globalAuditor, "GET", "/v3/apps/"+guid, nil), http.StatusOK)
	e.wantErr(e.do(e.outsider, "GET", "/v3/apps/"+guid, nil), http.StatusNotFound, "App not found")
	e.wantErr(e.do(e.orgUser, "GET", "/v3/apps/"+guid, nil), http.StatusNotFound, "App not found")
	e.wantErr(e.do(e.auditor, "PATCH", "/v3/apps/"+guid, map[string]any{"name": "x"}), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.supporter, "PATCH", "/v3/apps/"+guid, map[string]any{"name": "x"}), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.readOnlyDv, "PATCH", "/v3/apps/"+guid, map[string]any{"name": "x"}), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.manager, "DELETE", "/v3/apps/"+guid, nil), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.dev, "GET", "/v3/apps/"+uuid.NewString(), nil), http.StatusNotFound, "App not found")
	e.wantErr(e.do(e.dev, "GET", "/v3/apps/not-a-guid", nil), http.StatusNotFound, "App not found")

	// Events.
	ev := e.want(e.do(e.admin, "GET", "/v3/audit_events?target_guids="+guid, nil), http.StatusOK)
	var types []string
	for _, r := range ev["resources"].([]any) {
		types = append(types, r.(map[string]any)["type"].(string))
	}
	if !sameSet(types, []string{eventAppCreate, eventAppUpdate}) {
		t.Errorf("events %v", types)
	}

	// Delete is a job; processes and route mappings go with the app.
	rt := e.createRoute(e.dev, e.space.GUID, e.sharedDomain.GUID, "del", "")
	e.want(e.do(e.dev, "POST", "/v3/routes/"+rt+"/destinations", map[string]any{"destinations": []any{map[string]any{"app": map[string]any{"guid": guid}}}}), http.StatusOK)
	web := e.want(e.do(e.dev, "GET", "/v3/apps/"+guid+"/processes/web", nil), http.StatusOK)
	job := e.waitJob(e.do(e.dev, "DELETE", "/v3/apps/"+guid, nil), e.dev)
	if job["state"] != "COMPLETE" {
		t.Fatalf("delete job %v", job)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/apps/"+guid, nil), http.StatusNotFound, "App not found")
	e.wantErr(e.do(e.dev, "GET", "/v3/processes/"+web["guid"].(string), nil), http.StatusNotFound, "Process not found")
	if d := e.want(e.do(e.dev, "GET", "/v3/routes/"+rt+"/destinations", nil), http.StatusOK); len(d["destinations"].([]any)) != 0 {
		t.Errorf("destinations left %v", d)
	}
}

func TestAppSubresources(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	guid := e.createApp(e.dev, "sub")["guid"].(string)
	base := "/v3/apps/" + guid

	// Environment variables: set, merge, null deletes; secrets for developers only.
	m := e.want(e.do(e.dev, "PATCH", base+"/environment_variables", map[string]any{"var": map[string]any{"A": "1", "B": "2", "N": 5}}), http.StatusOK)
	if str(m, "var", "A") != "1" || str(m, "var", "N") != "5" || !strings.HasSuffix(str(m, "links", "self", "href"), base+"/environment_variables") {
		t.Fatalf("env vars %v", m)
	}
	m = e.want(e.do(e.dev, "PATCH", base+"/environment_variables", map[string]any{"var": map[string]any{"A": nil}}), http.StatusOK)
	if _, ok := m["var"].(map[string]any)["A"]; ok || str(m, "var", "B") != "2" {
		t.Fatalf("after delete %v", m)
	}
	e.wantErr(e.do(e.dev, "PATCH", base+"/environment_variables", map[string]any{"var": map[string]any{"PORT": "1"}}), http.StatusUnprocessableEntity, "Var cannot set PORT")
	e.wantErr(e.do(e.auditor, "GET", base+"/environment_variables", nil), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.auditor, "GET", base+"/env", nil), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.auditor, "PATCH", base+"/environment_variables", map[string]any{"var": map[string]any{"X": "1"}}), http.StatusForbidden, "not authorized")

	rt := e.createRoute(e.dev, e.space.GUID, e.sharedDomain.GUID, "sub", "")
	e.want(e.do(e.dev, "POST", "/v3/routes/"+rt+"/destinations", map[string]any{"destinations": []any{map[string]any{"app": map[string]any{"guid": guid}}}}), http.StatusOK)
	env := e.want(e.do(e.dev, "GET", base+"/env", nil), http.StatusOK)
	for _, k := range []string{"staging_env_json", "running_env_json", "environment_variables", "system_env_json", "application_env_json"} {
		if _, ok := env[k].(map[string]any); !ok {
			t.Errorf("env %s = %v", k, env[k])
		}
	}
	if _, ok := env["system_env_json"].(map[string]any)["VCAP_SERVICES"].(map[string]any); !ok {
		t.Errorf("VCAP_SERVICES %v", env["system_env_json"])
	}
	va := env["application_env_json"].(map[string]any)["VCAP_APPLICATION"].(map[string]any)
	if va["application_id"] != guid || va["name"] != "sub" || va["space_name"] != "space" || va["organization_name"] != "org" ||
		va["cf_api"] != e.url || va["uris"].([]any)[0] != "sub."+appsDomain || va["limits"].(map[string]any)["mem"] != float64(1024) {
		t.Errorf("VCAP_APPLICATION %v", va)
	}

	// The app's routes.
	routes := e.want(e.do(e.auditor, "GET", base+"/routes", nil), http.StatusOK)
	if ids := guids(routes); len(ids) != 1 || ids[0] != rt {
		t.Errorf("app routes %v", routes)
	}

	// Features, ssh, permissions.
	f := e.want(e.do(e.auditor, "GET", base+"/features", nil), http.StatusOK)
	if len(f["resources"].([]any)) != 2 || f["pagination"] == nil {
		t.Errorf("features %v", f)
	}
	e.want(e.do(e.dev, "PATCH", base+"/features/ssh", map[string]any{"enabled": false}), http.StatusOK)
	if m := e.want(e.do(e.dev, "GET", base+"/features/ssh", nil), http.StatusOK); m["enabled"] != false {
		t.Errorf("ssh feature %v", m)
	}
	if m := e.want(e.do(e.dev, "GET", base+"/ssh_enabled", nil), http.StatusOK); m["enabled"] != false || m["reason"] != "Disabled for app" {
		t.Errorf("ssh_enabled %v", m)
	}
	e.wantErr(e.do(e.dev, "GET", base+"/features/nope", nil), http.StatusNotFound, "Feature not found")
	e.wantErr(e.do(e.auditor, "PATCH", base+"/features/revisions", map[string]any{"enabled": false}), http.StatusForbidden, "not authorized")
	if m := e.want(e.do(e.auditor, "GET", base+"/permissions", nil), http.StatusOK); m["read_basic_data"] != true || m["read_sensitive_data"] != false {
		t.Errorf("auditor permissions %v", m)
	}
	if m := e.want(e.do(e.dev, "GET", base+"/permissions", nil), http.StatusOK); m["read_sensitive_data"] != true {
		t.Errorf("developer permissions %v", m)
	}

	// Droplets do not exist yet.
	e.wantErr(e.do(e.dev, "GET", base+"/droplets/current", nil), http.StatusNotFound, "Droplet not found")
	if r := e.do(e.dev, "GET", base+"/droplets/current", nil); !strings.Contains(string(r.Body), `"detail":"Droplet not found"`) {
		t.Errorf("droplet detail %s", r.Body)
	}
	e.wantErr(e.do(e.dev, "GET", base+"/relationships/current_droplet", nil), http.StatusNotFound, "Droplet not found")
	e.wantErr(e.do(e.dev, "PATCH", base+"/relationships/current_droplet", map[string]any{"data": map[string]any{"guid": uuid.NewString()}}),
		http.StatusUnprocessableEntity, "Unable to assign current droplet. Ensure the droplet exists and belongs to this app.")
	e.wantErr(e.do(e.dev, "POST", base+"/actions/start", nil), http.StatusUnprocessableEntity, "Assign a droplet before starting this app.")
	e.wantErr(e.do(e.dev, "POST", base+"/actions/restart", nil), http.StatusUnprocessableEntity, "Assign a droplet before starting this app.")

	// Generated manifest.
	r := e.do(e.dev, "GET", base+"/manifest", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/x-yaml" ||
		!strings.Contains(string(r.Body), "name: sub") || !strings.Contains(string(r.Body), "route: sub."+appsDomain) || !strings.Contains(string(r.Body), "memory: 1024M") {
		t.Errorf("manifest %d %s", r.Status, r.Body)
	}
	e.wantErr(e.do(e.auditor, "GET", base+"/manifest", nil), http.StatusForbidden, "not authorized")
}

// fakeDiego records what the handlers tell Diego and reports instances.
type fakeDiego struct {
	mu      sync.Mutex
	desired map[string]store.Process
	stopped []int
}

func (f *fakeDiego) Desire(_ context.Context, p store.Process) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.desired[p.GUID] = p
	return nil
}

func (f *fakeDiego) Remove(_ context.Context, guid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.desired, guid)
	return nil
}

func (f *fakeDiego) StopInstance(_ context.Context, _ string, index int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, index)
	return nil
}

func (f *fakeDiego) Instances(_ context.Context, guid string) ([]InstanceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.desired[guid]; !ok {
		return nil, nil
	}
	yes := true
	return []InstanceState{{Index: 0, State: InstanceRunning, Host: "10.0.0.1", Routable: &yes,
		Ports: []InstancePort{{External: 61000, Internal: 8080}}, Usage: &InstanceUsage{MemBytes: 1 << 20}}}, nil
}

func (f *fakeDiego) desiredInstances(guid string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.desired[guid]
	return p.Instances, ok
}

func TestStartStopWithoutDiego(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	guid := e.createApp(e.dev, "nodiego")["guid"].(string)
	web := e.want(e.do(e.dev, "GET", "/v3/apps/"+guid+"/processes/web", nil), http.StatusOK)["guid"].(string)
	e.want(e.do(e.dev, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 2}), http.StatusAccepted)

	stats := e.want(e.do(e.auditor, "GET", "/v3/processes/"+web+"/stats", nil), http.StatusOK)["resources"].([]any)
	if len(stats) != 2 || stats[1].(map[string]any)["state"] != "DOWN" || stats[1].(map[string]any)["index"] != float64(1) || stats[0].(map[string]any)["type"] != "web" {
		t.Fatalf("stopped stats %v", stats)
	}
	e.setDroplet(guid)
	if m := e.want(e.do(e.supporter, "POST", "/v3/apps/"+guid+"/actions/start", nil), http.StatusOK); m["state"] != "STARTED" {
		t.Fatalf("start %v", m)
	}
	stats = e.want(e.do(e.dev, "GET", "/v3/apps/"+guid+"/processes/web/stats", nil), http.StatusOK)["resources"].([]any)
	s0 := stats[0].(map[string]any)
	if len(stats) != 2 || s0["state"] != "STARTING" || s0["mem_quota"] != float64(1024<<20) || s0["uptime"] != float64(0) || s0["usage"] == nil {
		t.Fatalf("started stats %v", stats)
	}
	us := e.want(e.do(e.orgMgr, "GET", "/v3/organizations/"+e.org.GUID+"/usage_summary", nil), http.StatusOK)["usage_summary"].(map[string]any)
	if us["started_instances"] != float64(2) || us["memory_in_mb"] != float64(2048) {
		t.Errorf("usage summary %v", us)
	}
	if m := e.want(e.do(e.dev, "POST", "/v3/apps/"+guid+"/actions/stop", nil), http.StatusOK); m["state"] != "STOPPED" {
		t.Fatalf("stop %v", m)
	}
	e.wantErr(e.do(e.auditor, "POST", "/v3/apps/"+guid+"/actions/start", nil), http.StatusForbidden, "not authorized")
	e.wantErr(e.do(e.outsider, "POST", "/v3/apps/"+guid+"/actions/start", nil), http.StatusNotFound, "App not found")
	ev := e.want(e.do(e.admin, "GET", "/v3/audit_events?types=audit.app.start,audit.app.stop&target_guids="+guid, nil), http.StatusOK)
	if len(ev["resources"].([]any)) != 2 {
		t.Errorf("start/stop events %v", ev["resources"])
	}
}

func TestDiegoSeams(t *testing.T) {
	t.Parallel()
	fd := &fakeDiego{desired: map[string]store.Process{}}
	e := newRoutingEnv(t, func(d *Deps) { d.Desirer, d.Instances = fd, fd })
	guid := e.createApp(e.dev, "diego")["guid"].(string)
	web := e.want(e.do(e.dev, "GET", "/v3/apps/"+guid+"/processes/web", nil), http.StatusOK)["guid"].(string)
	e.want(e.do(e.dev, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 2}), http.StatusAccepted)
	if _, ok := fd.desiredInstances(web); ok {
		t.Fatal("a stopped app's process was desired")
	}
	e.setDroplet(guid)
	e.want(e.do(e.dev, "POST", "/v3/apps/"+guid+"/actions/start", nil), http.StatusOK)
	if n, ok := fd.desiredInstances(web); !ok || n != 2 {
		t.Fatalf("desired after start: %d %v", n, ok)
	}
	e.want(e.do(e.dev, "POST", "/v3/apps/"+guid+"/processes/web/actions/scale", map[string]any{"instances": 3}), http.StatusAccepted)
	if n, _ := fd.desiredInstances(web); n != 3 {
		t.Fatalf("desired after scale: %d", n)
	}
	stats := e.want(e.do(e.dev, "GET", "/v3/processes/"+web+"/stats", nil), http.StatusOK)["resources"].([]any)
	s0, s2 := stats[0].(map[string]any), stats[2].(map[string]any)
	if len(stats) != 3 || s0["state"] != "RUNNING" || s0["host"] != "10.0.0.1" || s0["routable"] != true || s2["state"] != "DOWN" ||
		s0["usage"].(map[string]any)["mem"] != float64(1<<20) || s0["instance_ports"].([]any)[0].(map[string]any)["external"] != float64(61000) {
		t.Fatalf("stats %v", stats)
	}
	e.want(e.do(e.dev, "DELETE", "/v3/processes/"+web+"/instances/1", nil), http.StatusNoContent)
	e.wantErr(e.do(e.dev, "DELETE", "/v3/processes/"+web+"/instances/7", nil), http.StatusNotFound, "Instance not found")
	if fd.stopped[0] != 1 {
		t.Errorf("stopped %v", fd.stopped)
	}
	e.want(e.do(e.dev, "POST", "/v3/apps/"+guid+"/actions/restart", nil), http.StatusOK)
	if _, ok := fd.desiredInstances(web); !ok {
		t.Fatal("restart left the process undesired")
	}
	e.want(e.do(e.dev, "POST", "/v3/apps/"+guid+"/actions/stop", nil), http.StatusOK)
	if _, ok := fd.desiredInstances(web); ok {
		t.Fatal("stop left the process desired")
	}
	e.want(e.do(e.dev, "POST", "/v3/apps/"+guid+"/actions/start", nil), http.StatusOK)
	e.waitJob(e.do(e.dev, "DELETE", "/v3/apps/"+guid, nil), e.dev)
	if _, ok := fd.desiredInstances(web); ok {
		t.Fatal("delete left the process desired")
	}

	// Deleting a space takes its apps out of Diego too.
	sp := e.mkSpace(e.org, "doomed")
	app, err := e.st.CreateApp(t.Context(), store.App{Name: "doomed", SpaceGUID: sp.GUID}, store.Process{Instances: 1, MemoryMB: 64, DiskMB: 64})
	if err != nil {
		t.Fatal(err)
	}
	e.setDroplet(app.GUID)
	e.want(e.do(e.admin, "POST", "/v3/apps/"+app.GUID+"/actions/start", nil), http.StatusOK)
	dweb := e.want(e.do(e.admin, "GET", "/v3/apps/"+app.GUID+"/processes/web", nil), http.StatusOK)["guid"].(string)
	if _, ok := fd.desiredInstances(dweb); !ok {
		t.Fatal("not desired")
	}
	e.waitJob(e.do(e.admin, "DELETE", "/v3/spaces/"+sp.GUID, nil), e.admin)
	if _, ok := fd.desiredInstances(dweb); ok {
		t.Fatal("space delete left the process desired")
	}
	e.wantErr(e.do(e.admin, "GET", "/v3/apps/"+app.GUID, nil), http.StatusNotFound, "App not found")
}

func TestProcesses(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	guid := e.createApp(e.dev, "procs")["guid"].(string)
	e.createApp(e.dev, "procs2")
	p := e.want(e.do(e.auditor, "GET", "/v3/apps/"+guid+"/processes/web", nil), http.StatusOK)
	web := p["guid"].(string)
	if p["type"] != "web" || p["instances"] != float64(1) || p["memory_in_mb"] != float64(1024) || p["disk_in_mb"] != float64(1024) ||
		p["log_rate_limit_in_bytes_per_second"] != float64(-1) || p["command"] != nil || str(p, "health_check", "type") != "port" ||
		str(p, "readiness_health_check", "type") != "process" || str(p, "relationships", "app", "data", "guid") != guid ||
		str(p, "links", "scale", "method") != "POST" || !strings.HasSuffix(str(p, "links", "stats", "href"), "/v3/processes/"+web+"/stats") {
		t.Fatalf("process %v", p)
	}
	if data := p["health_check"].(map[string]any)["data"].(map[string]any); len(data) != 3 || data["timeout"] != nil {
		t.Errorf("health check data %v", data)
	}

	// PATCH: command and health checks, with CF's validation texts.
	p = e.want(e.do(e.dev, "PATCH", "/v3/processes/"+web, map[string]any{"command": "./run",
		"health_check":           map[string]any{"type": "http", "data": map[string]any{"timeout": 60, "endpoint": "/health", "invocation_timeout": 5}},
		"readiness_health_check": map[string]any{"type": "port"},
		"metadata":               map[string]any{"annotations": map[string]any{"a": "b"}}}), http.StatusOK)
	if p["command"] != "./run" || str(p, "health_check", "data", "endpoint") != "/health" || p["health_check"].(map[string]any)["data"].(map[string]any)["timeout"] != float64(60) ||
		str(p, "readiness_health_check", "type") != "port" {
		t.Fatalf("patched %v", p)
	}
	for _, tc := range []struct {
		body   map[string]any
		detail string
	}{
		{map[string]any{"health_check": map[string]any{"type": "tcp"}}, `Health check type must be "port", "process", or "http"`},
		{map[string]any{"health_check": map[string]any{"data": map[string]any{"timeout": 0}}}, "Health check timeout must be greater than or equal to 1"},
		{map[string]any{"health_check": map[string]any{"type": "port", "data": map[string]any{"endpoint": "/x"}}}, `Health check type must be "http" to set a health check HTTP endpoint`},
		{map[string]any{"command": ""}, "Command must be between 1 and 4096 characters"},
		{map[string]any{"instances": 2}, "Unknown field(s): 'instances'"},
	} {
		e.wantErr(e.do(e.dev, "PATCH", "/v3/processes/"+web, tc.body), http.StatusUnprocessableEntity, tc.detail)
	}
	// The command is hidden from non-developers and in lists.
	if p := e.want(e.do(e.auditor, "GET", "/v3/processes/"+web, nil), http.StatusOK); p["command"] != "[PRIVATE DATA HIDDEN]" {
		t.Errorf("auditor command %v", p["command"])
	}
	l := e.want(e.do(e.dev, "GET", "/v3/apps/"+guid+"/processes", nil), http.StatusOK)
	if res := l["resources"].([]any); len(res) != 1 || res[0].(map[string]any)["command"] != "[PRIVATE DATA HIDDEN IN LISTS]" {
		t.Errorf("app processes %v", l)
	}
	e.wantErr(e.do(e.auditor, "PATCH", "/v3/processes/"+web, map[string]any{"command": "x"}), http.StatusForbidden, "not authorized")

	// Lists and filters.
	for q, want := range map[string]int{
		"app_guids=" + guid: 1, "space_guids=" + e.space.GUID: 2, "types=web": 2, "types=worker": 0, "guids=" + web: 1,
		"organization_guids=" + e.org.GUID: 2, "embed=process_instances": 2,
	} {
		if got := len(e.want(e.do(e.dev, "GET", "/v3/processes?"+q, nil), http.StatusOK)["resources"].([]any)); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
	if got := len(e.want(e.do(e.outsider, "GET", "/v3/processes", nil), http.StatusOK)["resources"].([]any)); got != 0 {
		t.Errorf("outsider sees %d processes", got)
	}
	emb := e.want(e.do(e.dev, "GET", "/v3/processes?embed=process_instances&app_guids="+guid, nil), http.StatusOK)["resources"].([]any)
	if pi := emb[0].(map[string]any)["process_instances"].([]any); len(pi) != 1 || pi[0].(map[string]any)["state"] != "DOWN" {
		t.Errorf("process_instances %v", emb)
	}
	e.wantErr(e.do(e.outsider, "GET", "/v3/processes/"+web, nil), http.StatusNotFound, "Process not found")
	e.wantErr(e.do(e.dev, "GET", "/v3/apps/"+guid+"/processes/worker", nil), http.StatusNotFound, "Process not found")

	// Scale, on both paths, with CF's texts.
	p = e.want(e.do(e.supporter, "POST", "/v3/apps/"+guid+"/processes/web/actions/scale",
		map[string]any{"instances": 3, "memory_in_mb": 256, "disk_in_mb": 512, "log_rate_limit_in_bytes_per_second": 1024}), http.StatusAccepted)
	if p["instances"] != float64(3) || p["memory_in_mb"] != float64(256) || p["disk_in_mb"] != float64(512) || p["log_rate_limit_in_bytes_per_second"] != float64(1024) {
		t.Fatalf("scaled %v", p)
	}
	for body, detail := range map[string]string{
		`{"instances":-1}`:                          "Instances must be greater than or equal to 0",
		`{"memory_in_mb":0}`:                        "Memory in mb must be greater than 0",
		`{"disk_in_mb":-5}`:                         "Disk in mb must be greater than or equal to 1",
		`{"instances":1.5}`:                         "Instances must be an integer",
		`{"log_rate_limit_in_bytes_per_second":-2}`: "Log rate limit in bytes per second must be greater than or equal to -1",
		`{"memory":1}`:                              "Unknown field(s): 'memory'",
	} {
		e.wantErr(e.do(e.dev, "POST", "/v3/processes/"+web+"/actions/scale", body), http.StatusUnprocessableEntity, detail)
	}
	e.wantErr(e.do(e.auditor, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 1}), http.StatusForbidden, "not authorized")

	// Quotas: a space quota's per-process memory limit refuses the scale,
	// and a started app's total memory counts.
	q := e.want(e.do(e.admin, "POST", "/v3/space_quotas", map[string]any{"name": "small",
		"apps":          map[string]any{"per_process_memory_in_mb": 512, "total_memory_in_mb": 1024},
		"relationships": map[string]any{"organization": rel(e.org.GUID), "spaces": map[string]any{"data": []any{map[string]any{"guid": e.space.GUID}}}}}), http.StatusCreated)
	_ = q
	e.wantErr(e.do(e.dev, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"memory_in_mb": 1024}), http.StatusUnprocessableEntity, "memory space_instance_memory_limit_exceeded")
	e.setDroplet(guid)
	e.want(e.do(e.dev, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 5}), http.StatusAccepted) // stopped: only per-instance limits
	e.wantErr(e.do(e.dev, "POST", "/v3/apps/"+guid+"/actions/start", nil), http.StatusUnprocessableEntity, "memory space_quota_exceeded")
	e.want(e.do(e.dev, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 2}), http.StatusAccepted)
	e.want(e.do(e.dev, "POST", "/v3/apps/"+guid+"/actions/start", nil), http.StatusOK)
	e.wantErr(e.do(e.dev, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 5}), http.StatusUnprocessableEntity, "memory space_quota_exceeded")
	e.want(e.do(e.dev, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 1}), http.StatusAccepted)
	// A new app's web process gets the quota's per-process memory.
	if p := e.want(e.do(e.dev, "GET", "/v3/apps/"+e.createApp(e.dev, "small")["guid"].(string)+"/processes/web", nil), http.StatusOK); p["memory_in_mb"] != float64(512) {
		t.Errorf("default memory under quota %v", p["memory_in_mb"])
	}

	// Sidecars are an empty list; instances can be restarted.
	sc := e.want(e.do(e.dev, "GET", "/v3/processes/"+web+"/sidecars", nil), http.StatusOK)
	if len(sc["resources"].([]any)) != 0 || sc["pagination"] == nil {
		t.Errorf("sidecars %v", sc)
	}
	e.want(e.do(e.dev, "DELETE", "/v3/apps/"+guid+"/processes/web/instances/0", nil), http.StatusNoContent)
}
