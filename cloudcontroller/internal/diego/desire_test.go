package diego

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

func intp(i int) *int       { return &i }
func strp(s string) *string { return &s }
func envMap(d *bbsv1.DesiredLRP) map[string]string {
	m := map[string]string{}
	for _, e := range d.Env {
		m[e.Name] = e.Value
	}
	return m
}

func TestDesireBuildsLRP(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.mapRoute(t, e.app.GUID, "hello", "/api")
	p := e.web
	p.HealthCheck = store.HealthCheck{Type: "http", Timeout: intp(90), InvocationTimeout: intp(3), Endpoint: strp("/health")}
	p.Readiness = store.HealthCheck{Type: "port", Interval: intp(7)}
	p, err := e.st.UpdateProcess(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.syncer.Desire(ctx, p); err != nil {
		t.Fatal(err)
	}
	d := e.only(t, p.GUID)

	if !strings.HasPrefix(d.ProcessGuid, p.GUID+"-") || len(d.ProcessGuid) != 73 {
		t.Errorf("process_guid %q, want <process guid>-<version guid>", d.ProcessGuid)
	}
	version := d.ProcessGuid[37:]
	if d.Domain != "cf-apps" || d.Instances != 2 || d.RootFs != "preloaded:cflinuxfs4" || d.MemoryMb != 256 || d.DiskMb != 512 ||
		d.LogRateLimitBytesPerSecond != -1 || !slices.Equal(d.Ports, []uint32{8080}) || d.LogGuid != e.app.GUID || d.CpuWeight != 3 {
		t.Errorf("scheduling fields: %v", d)
	}
	if got, want := string(d.Routes["cf-router"]), `[{"hostnames":["hello.apps.test"],"port":8080,"protocol":"http1"},{"hostnames":["hello.apps.test/api"],"port":8080,"protocol":"http1"}]`; got != want {
		t.Errorf("cf-router routes\n got %s\nwant %s", got, want)
	}
	// Setup: the droplet from a signed URL into /home/vcap, checked.
	if len(d.Setup) != 1 {
		t.Fatalf("setup %v", d.Setup)
	}
	dl := d.Setup[0]
	if dl.From != "https://blobstore.test/droplets/"+e.app.DropletGUID+"?method=GET&ttl=31536000" || dl.To != "/home/vcap" ||
		dl.ChecksumAlgorithm != "sha256" || dl.ChecksumValue != "abc123" || dl.User != "vcap" || dl.CacheKey != "droplets-"+d.ProcessGuid {
		t.Errorf("download %v", dl)
	}
	a := d.Action
	if a.Path != "/tmp/lifecycle/launcher" || !slices.Equal(a.Args, []string{"/home/vcap/app", "./server", ""}) || a.User != "vcap" ||
		a.LogSource != "APP/PROC/WEB" || a.Dir != "/home/vcap" || a.ResourceLimits.GetNofile() != 16384 {
		t.Errorf("action %v", a)
	}
	hc := d.HealthCheck
	if c := hc.Check; c.Type != bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP || c.Port != 8080 || c.Endpoint != "/health" || c.TimeoutMs != 3000 {
		t.Errorf("check %v", c)
	}
	if hc.StartTimeoutMs != 90000 {
		t.Errorf("start timeout %d", hc.StartTimeoutMs)
	}
	if r := hc.Readiness; r == nil || r.Type != bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT || r.IntervalMs != 7000 {
		t.Errorf("readiness %v", r)
	}
	wantTags := map[string]string{"source_id": e.app.GUID, "app_id": e.app.GUID, "app_name": "hello", "space_id": e.space.GUID,
		"space_name": "s", "organization_id": e.org.GUID, "organization_name": "o", "process_id": p.GUID, "process_type": "web"}
	for k, v := range wantTags {
		if d.MetricTags[k] != v {
			t.Errorf("metric tag %s = %q, want %q", k, d.MetricTags[k], v)
		}
	}
	// Environment: CF's system variables, then the app's sorted.
	var names []string
	for _, ev := range d.Env {
		names = append(names, ev.Name)
	}
	if want := []string{"VCAP_APPLICATION", "VCAP_SERVICES", "MEMORY_LIMIT", "LANG", "CF_STACK", "A", "B"}; !slices.Equal(names, want) {
		t.Errorf("env names %v, want %v", names, want)
	}
	vars := envMap(d)
	if vars["VCAP_SERVICES"] != "{}" || vars["MEMORY_LIMIT"] != "256m" || vars["A"] != "1" {
		t.Errorf("env %v", vars)
	}
	var vcap map[string]any
	if err := json.Unmarshal([]byte(vars["VCAP_APPLICATION"]), &vcap); err != nil {
		t.Fatal(err)
	}
	if vcap["application_id"] != e.app.GUID || vcap["application_name"] != "hello" || vcap["cf_api"] != "https://api.test" ||
		vcap["space_name"] != "s" || vcap["organization_name"] != "o" || vcap["process_type"] != "web" || vcap["version"] != version {
		t.Errorf("VCAP_APPLICATION %v", vcap)
	}
	if uris, _ := vcap["application_uris"].([]any); len(uris) != 2 || uris[0] != "hello.apps.test" {
		t.Errorf("application_uris %v", vcap["application_uris"])
	}
	if run, tags := parseAnnotation(d.Annotation); run == "" || tags == "" {
		t.Errorf("annotation %q", d.Annotation)
	}
}

func TestHealthCheckDefaults(t *testing.T) {
	p := store.Process{Type: "worker", HealthCheck: store.HealthCheck{Type: "process"}, Readiness: store.HealthCheck{Type: "process"}}
	h := healthCheck(p)
	if h.Check.Type != bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PROCESS || h.Readiness != nil || h.StartTimeoutMs != 0 {
		t.Errorf("process checks: %v", h)
	}
	p.HealthCheck = store.HealthCheck{Type: "port"}
	if c := healthCheck(p).Check; c.Type != bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT || c.Port != 8080 {
		t.Errorf("port check %v", c)
	}
	p.HealthCheck = store.HealthCheck{Type: "http"}
	if c := healthCheck(p).Check; c.Endpoint != "/" {
		t.Errorf("http check without endpoint: %v", c)
	}
	if got := cpuWeight(64); got != 1 {
		t.Errorf("cpuWeight(64) = %d", got)
	}
	if got := cpuWeight(16384); got != 100 {
		t.Errorf("cpuWeight(16384) = %d", got)
	}
}

func TestDesireUpdatesInPlace(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	first := e.only(t, e.web.GUID)

	// Same definition: nothing to do.
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	if n := e.bbs.count("UpdateDesiredLRP") + e.bbs.count("DesireLRP"); n != 1 {
		t.Errorf("%d desire/update calls for an unchanged process, want 1", n)
	}

	// Scale and a new route: updated in place, same version.
	p := e.web
	p.Instances = 5
	p, err := e.st.UpdateProcess(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	e.mapRoute(t, e.app.GUID, "other", "")
	if err := e.syncer.Desire(ctx, p); err != nil {
		t.Fatal(err)
	}
	d := e.only(t, p.GUID)
	if d.ProcessGuid != first.ProcessGuid || d.Instances != 5 || !strings.Contains(string(d.Routes["cf-router"]), "other.apps.test") {
		t.Errorf("after scale: %s instances %d routes %s", d.ProcessGuid, d.Instances, d.Routes["cf-router"])
	}
	if e.bbs.count("UpdateDesiredLRP") != 1 {
		t.Errorf("UpdateDesiredLRP calls %d", e.bbs.count("UpdateDesiredLRP"))
	}

	// A rename changes only the metric tags: updated in place.
	app := e.app
	app.Name = "renamed"
	if _, err := e.st.UpdateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := e.syncer.Desire(ctx, p); err != nil {
		t.Fatal(err)
	}
	d = e.only(t, p.GUID)
	if d.ProcessGuid != first.ProcessGuid || d.MetricTags["app_name"] != "renamed" {
		t.Errorf("after rename: %s tags %v", d.ProcessGuid, d.MetricTags)
	}
}

func TestDesireRollsNewVersion(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	v1 := e.only(t, e.web.GUID).ProcessGuid

	p := e.web
	p.Command = strp("./server --fast")
	p, err := e.st.UpdateProcess(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.syncer.Desire(ctx, p); err != nil {
		t.Fatal(err)
	}
	d := e.only(t, p.GUID)
	if d.ProcessGuid == v1 || d.Action.Args[1] != "./server --fast" {
		t.Errorf("command change: %s args %v (old %s)", d.ProcessGuid, d.Action.Args, v1)
	}
	v2 := d.ProcessGuid

	// A new droplet rolls too.
	e.droplets.set(p.GUID, store.DropletDownload{DropletGUID: "d2", BlobKey: "d2", SHA256: "def", ProcessTypes: map[string]string{"web": "./new"}})
	if err := e.syncer.Desire(ctx, p); err != nil {
		t.Fatal(err)
	}
	d = e.only(t, p.GUID)
	if d.ProcessGuid == v2 || d.Setup[0].ChecksumValue != "def" {
		t.Errorf("droplet change: %s %v", d.ProcessGuid, d.Setup[0])
	}
}

func TestRemoveStopAndRestart(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	v1 := e.only(t, e.web.GUID).ProcessGuid

	if err := e.syncer.StopInstance(ctx, e.web.GUID, 1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.bbs.retired, []string{v1 + "/1"}) {
		t.Errorf("retired %v", e.bbs.retired)
	}

	// Restart = remove, then desire: a new version, so that the old
	// instances' records are never reused.
	if err := e.syncer.Remove(ctx, e.web.GUID); err != nil {
		t.Fatal(err)
	}
	if l := e.lrpsOf(e.web.GUID); len(l) != 0 {
		t.Fatalf("after remove: %d LRPs", len(l))
	}
	if err := e.syncer.Remove(ctx, e.web.GUID); err != nil {
		t.Errorf("second remove: %v", err)
	}
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	if v2 := e.only(t, e.web.GUID).ProcessGuid; v2 == v1 {
		t.Errorf("restart reused version %s", v1)
	}

	// Desiring a process of a stopped app removes it.
	if _, err := e.st.SetAppState(ctx, e.app.GUID, store.AppStopped); err != nil {
		t.Fatal(err)
	}
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	if l := e.lrpsOf(e.web.GUID); len(l) != 0 {
		t.Errorf("stopped app still has %d LRPs", len(l))
	}
}

func TestDesireSeesLRPsOfAnotherSyncer(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	other := New(Config{}, Deps{Store: e.st, BBS: e.syncer.deps.BBS, Droplets: e.droplets, Signer: fakeSigner{}})
	if err := other.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	v := e.only(t, e.web.GUID).ProcessGuid
	// e.syncer never listed: it lists now and updates the same version.
	p := e.web
	p.Instances = 3
	if _, err := e.st.UpdateProcess(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := e.syncer.Desire(ctx, p); err != nil {
		t.Fatal(err)
	}
	if d := e.only(t, p.GUID); d.ProcessGuid != v || d.Instances != 3 {
		t.Errorf("got %s with %d instances, want %s with 3", d.ProcessGuid, d.Instances, v)
	}
}
