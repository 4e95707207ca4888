package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestPushSequence follows `cf push` with a manifest: manifest_diff,
// apply_manifest and its job, APP-LOOKUP, the app's processes, routes and
// droplet, then stop and start.
func TestPushSequence(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	yml := `applications:
- name: web1
  disk-quota: 512M
  health-check-type: process
  instances: 2
  path: /home/me/app1
  memory: 256M
  default-route: true
  buildpacks:
  - binary_buildpack
  command: ./run.sh
  env: {GREETING: hello, COUNT: 3}
  metadata: {labels: {team: blue}}
- name: worker
  no-route: true
  processes:
  - type: worker
    instances: 3
    memory: 128M
    command: ./work
`
	space := "/v3/spaces/" + e.space.GUID
	diff := e.want(e.doYAML(e.dev, space+"/manifest_diff", yml), http.StatusCreated)
	if ops, ok := diff["diff"].([]any); !ok || len(ops) == 0 || ops[0].(map[string]any)["op"] != "add" {
		t.Fatalf("diff for new apps %v", diff)
	}
	job := e.waitJob(e.doYAML(e.dev, space+"/actions/apply_manifest", yml), e.dev)
	if job["state"] != "COMPLETE" {
		t.Fatalf("apply job %v", job)
	}
	// APP-LOOKUP for all names at once.
	l := e.want(e.do(e.dev, "GET", "/v3/apps?names=web1%2Cworker&space_guids="+e.space.GUID, nil), http.StatusOK)
	if len(l["resources"].([]any)) != 2 {
		t.Fatalf("lookup %v", l)
	}
	var web1, worker map[string]any
	for _, r := range l["resources"].([]any) {
		if m := r.(map[string]any); m["name"] == "web1" {
			web1 = m
		} else {
			worker = m
		}
	}
	if bps := web1["lifecycle"].(map[string]any)["data"].(map[string]any)["buildpacks"].([]any); len(bps) != 1 || bps[0] != "binary_buildpack" ||
		str(web1, "metadata", "labels", "team") != "blue" {
		t.Errorf("web1 %v", web1)
	}
	g := web1["guid"].(string)
	p := e.want(e.do(e.dev, "GET", "/v3/apps/"+g+"/processes/web", nil), http.StatusOK)
	if p["instances"] != float64(2) || p["memory_in_mb"] != float64(256) || p["disk_in_mb"] != float64(512) || p["command"] != "./run.sh" ||
		str(p, "health_check", "type") != "process" {
		t.Errorf("web process %v", p)
	}
	if v := e.want(e.do(e.dev, "GET", "/v3/apps/"+g+"/environment_variables", nil), http.StatusOK); str(v, "var", "GREETING") != "hello" || str(v, "var", "COUNT") != "3" {
		t.Errorf("env %v", v)
	}
	routes := e.want(e.do(e.dev, "GET", "/v3/apps/"+g+"/routes", nil), http.StatusOK)["resources"].([]any)
	if len(routes) != 1 || routes[0].(map[string]any)["url"] != "web1."+appsDomain {
		t.Fatalf("default route %v", routes)
	}
	dest := routes[0].(map[string]any)["destinations"].([]any)[0].(map[string]any)
	if str(dest, "app", "guid") != g || str(dest, "app", "process", "type") != "web" || dest["port"] != float64(8080) {
		t.Errorf("destination %v", dest)
	}
	wg := worker["guid"].(string)
	procs := e.want(e.do(e.dev, "GET", "/v3/apps/"+wg+"/processes", nil), http.StatusOK)["resources"].([]any)
	if len(procs) != 2 || procs[0].(map[string]any)["type"] != "web" || procs[1].(map[string]any)["instances"] != float64(3) {
		t.Errorf("worker processes %v", procs)
	}
	if r := e.want(e.do(e.dev, "GET", "/v3/apps/"+wg+"/routes", nil), http.StatusOK); len(r["resources"].([]any)) != 0 {
		t.Errorf("no-route app has routes %v", r)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/apps/"+g+"/droplets/current", nil), http.StatusNotFound, "Droplet not found")
	if s := e.want(e.do(e.dev, "GET", "/v3/deployments?app_guids="+g+"&order_by=-created_at&page=1&per_page=1&status_values=ACTIVE", nil), http.StatusOK); len(s["resources"].([]any)) != 0 {
		t.Errorf("deployments %v", s)
	}

	// Applying again is idempotent; default-route does not add a route to
	// an app that has one, and a changed manifest shows in the diff.
	e.waitJob(e.doYAML(e.dev, space+"/actions/apply_manifest", yml), e.dev)
	if r := e.want(e.do(e.dev, "GET", "/v3/apps/"+g+"/routes", nil), http.StatusOK); len(r["resources"].([]any)) != 1 {
		t.Errorf("routes after re-apply %v", r)
	}
	diff = e.want(e.doYAML(e.dev, space+"/manifest_diff", "applications:\n- name: web1\n  instances: 4\n  memory: 256M\n"), http.StatusCreated)
	ops := diff["diff"].([]any)
	if len(ops) != 1 || ops[0].(map[string]any)["op"] != "replace" || ops[0].(map[string]any)["path"] != "/applications/0/instances" ||
		ops[0].(map[string]any)["was"] != float64(2) || ops[0].(map[string]any)["value"] != float64(4) {
		t.Errorf("diff %v", diff)
	}

	// cf push --no-start then cf start: no droplet yet.
	e.want(e.do(e.dev, "POST", "/v3/apps/"+g+"/actions/stop", nil), http.StatusOK)
	e.wantErr(e.do(e.dev, "POST", "/v3/apps/"+g+"/actions/start", nil), http.StatusUnprocessableEntity, "Assign a droplet before starting this app.")

	ev := e.want(e.do(e.admin, "GET", "/v3/audit_events?types=audit.app.apply_manifest&target_guids="+g, nil), http.StatusOK)
	if res := ev["resources"].([]any); len(res) != 2 || !strings.Contains(str(res[0].(map[string]any), "data", "request", "manifest"), "name: web1") {
		t.Errorf("apply_manifest events %v", ev)
	}
}

func TestApplyManifestRoutes(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	space := "/v3/spaces/" + e.space.GUID
	yml := "applications:\n- name: r1\n  routes:\n  - route: r1." + appsDomain + "/api\n  - route: other." + appsDomain + "\n    protocol: http2\n"
	e.waitJob(e.doYAML(e.dev, space+"/actions/apply_manifest", yml), e.dev)
	app := e.want(e.do(e.dev, "GET", "/v3/apps?names=r1", nil), http.StatusOK)["resources"].([]any)[0].(map[string]any)
	g := app["guid"].(string)
	routes := e.want(e.do(e.dev, "GET", "/v3/apps/"+g+"/routes", nil), http.StatusOK)["resources"].([]any)
	var urls []string
	for _, r := range routes {
		urls = append(urls, r.(map[string]any)["url"].(string))
	}
	if !sameSet(urls, []string{"r1." + appsDomain + "/api", "other." + appsDomain}) {
		t.Fatalf("routes %v", urls)
	}
	// no-route unmaps every route (the routes stay).
	e.waitJob(e.doYAML(e.dev, space+"/actions/apply_manifest", "applications:\n- name: r1\n  no-route: true\n"), e.dev)
	if r := e.want(e.do(e.dev, "GET", "/v3/apps/"+g+"/routes", nil), http.StatusOK); len(r["resources"].([]any)) != 0 {
		t.Errorf("after no-route %v", r)
	}
	// random-route on an app without routes: <name>-<word>-<word>.
	e.waitJob(e.doYAML(e.dev, space+"/actions/apply_manifest", "applications:\n- name: r1\n  random-route: true\n"), e.dev)
	routes = e.want(e.do(e.dev, "GET", "/v3/apps/"+g+"/routes", nil), http.StatusOK)["resources"].([]any)
	if len(routes) != 1 || !strings.HasPrefix(routes[0].(map[string]any)["host"].(string), "r1-") || strings.Count(routes[0].(map[string]any)["host"].(string), "-") != 2 {
		t.Errorf("random route %v", routes)
	}
	// An unknown domain fails the job with CF's text.
	job := e.want(e.do(e.dev, "GET", e.doYAML(e.dev, space+"/actions/apply_manifest", "applications:\n- name: r1\n  routes:\n  - route: x.nowhere.test\n").Header.Get("Location"), nil), http.StatusOK)
	if job["state"] != "FAILED" || !strings.Contains(string(mustJSON(t, job["errors"])), "For application 'r1': The route 'x.nowhere.test' did not match any existing domains.") {
		t.Errorf("failed job %v", job)
	}
	// default-route uses the app name as it is.
	job = e.want(e.do(e.dev, "GET", e.doYAML(e.dev, space+"/actions/apply_manifest", "applications:\n- name: my app\n  default-route: true\n").Header.Get("Location"), nil), http.StatusOK)
	if job["state"] != "FAILED" || !strings.Contains(string(mustJSON(t, job["errors"])), `For application 'my app': Failed to create default route from app name: Host must be either \"*\" or contain only alphanumeric characters, \"_\", or \"-\"`) {
		t.Errorf("default route job %v", job)
	}
	// A route of another space cannot be mapped.
	other := e.mkSpace(e.org, "other")
	e.createRoute(e.admin, other.GUID, e.sharedDomain.GUID, "taken", "")
	job = e.want(e.do(e.dev, "GET", e.doYAML(e.dev, space+"/actions/apply_manifest", "applications:\n- name: r1\n  routes:\n  - route: taken."+appsDomain+"\n").Header.Get("Location"), nil), http.StatusOK)
	if job["state"] != "FAILED" || !strings.Contains(string(mustJSON(t, job["errors"])), "Apps must be mapped to routes in the same space.") {
		t.Errorf("cross-space job %v", job)
	}
}

func TestApplyManifestErrors(t *testing.T) {
	t.Parallel()
	e := newRoutingEnv(t)
	space := "/v3/spaces/" + e.space.GUID
	for _, tc := range []struct {
		name, token, body string
		status            int
		detail            string
	}{
		{"instances", e.dev, "applications:\n- name: x\n  instances: -1\n", 422, `For application 'x': Process "web": Instances must be greater than or equal to 0`},
		{"memory unit", e.dev, "applications:\n- name: x\n  memory: 12\n", 422, `For application 'x': Process "web": Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB`},
		{"no applications", e.dev, "foo: bar\n", 422, "Cannot parse manifest with no 'applications' field."},
		{"docker off", e.dev, "applications:\n- name: x\n  docker: {image: busybox}\n", 422, "For application 'x': Feature Disabled: diego_docker"},
		{"bad yaml", e.dev, "applications: [\n", 400, "Request invalid due to parse error"},
		{"auditor", e.auditor, "applications:\n- name: x\n", 403, "not authorized"},
		{"outsider", e.outsider, "applications:\n- name: x\n", 404, "Space not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.wantErr(e.doYAML(tc.token, space+"/actions/apply_manifest", tc.body), tc.status, tc.detail)
		})
	}
	e.wantErr(e.do(e.dev, "POST", space+"/actions/apply_manifest", map[string]any{"applications": []any{}}), http.StatusBadRequest, "Content-Type must be yaml")
	e.wantErr(e.doYAML(e.dev, space+"/actions/apply_manifest", "applications:\n- name: x\n#"+strings.Repeat("y", 2<<20)), http.StatusRequestEntityTooLarge, "too large")
	e.wantErr(e.doYAML(e.dev, space+"/manifest_diff", "applications:\n- name: x\n  instances: -1\n"), http.StatusUnprocessableEntity, "Instances must be greater than or equal to 0")
	if l := e.want(e.do(e.dev, "GET", "/v3/apps", nil), http.StatusOK); len(l["resources"].([]any)) != 0 {
		t.Errorf("invalid manifests created apps: %v", l)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
