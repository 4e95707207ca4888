package web

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/logemitter"
)

// Tests of tasks, app usage events and API log lines, on a real database
// with the blobstore stub, a fake BBS and a recording log sink.

// recordingSink records emitted log envelopes.
type recordingSink struct {
	mu   sync.Mutex
	logs []logemitter.Log
}

func (r *recordingSink) Log(l logemitter.Log) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, l)
}

// lines returns the messages sent to source id app.
func (r *recordingSink) lines(app string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.logs {
		if l.SourceID == app {
			out = append(out, l.Message)
		}
	}
	return out
}

func (r *recordingSink) find(app, msg string) (logemitter.Log, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		if l.SourceID == app && l.Message == msg {
			return l, true
		}
	}
	return logemitter.Log{}, false
}

type taskEnv struct {
	*stagingEnv
	sink *recordingSink
}

func newTaskEnv(t *testing.T) *taskEnv {
	t.Helper()
	stub, client := newBlobStub(t)
	tasks := &fakeTasks{tasks: map[string]*bbsv1.TaskDefinition{}, domains: map[string]string{}}
	diego := &fakeDiego{desired: map[string]store.Process{}}
	sink := &recordingSink{}
	e := newRoutingEnv(t, func(d *Deps) { d.Blobs, d.Tasks, d.Desirer, d.Logs = client, tasks, diego, sink })
	dir := t.TempDir()
	zipFile(t, filepath.Join(dir, "staticfile_buildpack.zip"), map[string]string{"bin/detect": "#!/bin/sh\n", "VERSION": "1.0.0"})
	e.srv.opts.Staging = StagingOptions{CallbackURL: "http://cc.service.internal:9022", CallbackSecret: []byte(testCallbackSecret), BuildpacksDir: dir}
	e.srv.opts.Staging.defaults(e.url)
	return &taskEnv{stagingEnv: &stagingEnv{routingEnv: e, blobs: stub, tasks: tasks, diego: diego}, sink: sink}
}

// stagedApp creates an app, stages a package and assigns the droplet.
func (e *taskEnv) stagedApp(name string) (app, droplet string) {
	e.t.Helper()
	app = e.createApp(e.dev, name)["guid"].(string)
	pkg := e.readyPackage(app, map[string]string{"Staticfile": "", "index.html": "hi\n"})
	b, def := e.stage(pkg, nil)
	if r := e.runStaging(def, b["guid"].(string), stagedResult); r.Status != http.StatusOK {
		e.t.Fatalf("staging callback %d %s", r.Status, r.Body)
	}
	b = e.want(e.do(e.dev, "GET", "/v3/builds/"+b["guid"].(string), nil), http.StatusOK)
	droplet = str(b, "droplet", "guid")
	e.want(e.do(e.dev, "PATCH", "/v3/apps/"+app+"/relationships/current_droplet", map[string]any{"data": map[string]any{"guid": droplet}}), http.StatusOK)
	return app, droplet
}

// finish posts the BBS's completion callback of a task.
func (e *taskEnv) finish(task string, cb taskCallback) response {
	e.t.Helper()
	def := e.tasks.get(task)
	if def == nil {
		e.t.Fatalf("task %s was not desired", task)
	}
	cb.TaskGUID = task
	return e.complete(def, cb)
}

func (e *taskEnv) usageEvents(query string) []map[string]any {
	e.t.Helper()
	l := e.want(e.do(e.admin, "GET", "/v3/app_usage_events?per_page=5000"+query, nil), http.StatusOK)
	var out []map[string]any
	for _, r := range l["resources"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// usageOf returns the events of app with state.
func usageOf(events []map[string]any, app, state string) []map[string]any {
	var out []map[string]any
	for _, ev := range events {
		if str(ev, "app", "guid") == app && str(ev, "state", "current") == state {
			out = append(out, ev)
		}
	}
	return out
}

func num(m map[string]any, path ...string) float64 {
	var v any = m
	for _, p := range path {
		mm, _ := v.(map[string]any)
		v = mm[p]
	}
	f, _ := v.(float64)
	return f
}

func TestTasks(t *testing.T) {
	t.Parallel()
	e := newTaskEnv(t)

	bare := e.createApp(e.dev, "bare")["guid"].(string)
	e.wantErr(e.do(e.dev, "POST", "/v3/apps/"+bare+"/tasks", map[string]any{"command": "x"}), http.StatusUnprocessableEntity,
		"Task must have a droplet. Specify droplet or assign current droplet to app.")

	app, droplet := e.stagedApp("worker")
	path := "/v3/apps/" + app + "/tasks"
	e.wantErr(e.do(e.dev, "POST", path, map[string]any{"name": "x"}), http.StatusUnprocessableEntity, "Command No command or template provided")
	e.wantErr(e.do(e.dev, "POST", path, map[string]any{"command": "x", "memory_in_mb": 0}), http.StatusUnprocessableEntity, "Memory in mb must be greater than 0")
	e.wantErr(e.do(e.dev, "POST", path, map[string]any{"command": "x", "bogus": 1}), http.StatusUnprocessableEntity, "Unknown field(s)")
	e.wantErr(e.do(e.auditor, "POST", path, map[string]any{"command": "x"}), http.StatusForbidden, "")
	e.wantErr(e.do(e.supporter, "POST", path, map[string]any{"command": "x"}), http.StatusForbidden, "")
	e.wantErr(e.do(e.outsider, "POST", path, map[string]any{"command": "x"}), http.StatusNotFound, "App not found")

	// Create: 202, RUNNING once the BBS has it.
	m := e.want(e.do(e.dev, "POST", path, map[string]any{"command": "rake db:migrate", "name": "migrate", "memory_in_mb": 256}), http.StatusAccepted)
	t1 := m["guid"].(string)
	if m["state"] != "RUNNING" || m["name"] != "migrate" || num(m, "sequence_id") != 1 || m["command"] != "rake db:migrate" ||
		num(m, "memory_in_mb") != 256 || num(m, "disk_in_mb") != 1024 || m["droplet_guid"] != droplet || m["user"] != "vcap" ||
		str(m, "relationships", "app", "data", "guid") != app || !strings.HasSuffix(str(m, "links", "cancel", "href"), "/v3/tasks/"+t1+"/actions/cancel") {
		t.Fatalf("task %v", m)
	}
	if res, ok := m["result"].(map[string]any); !ok || res["failure_reason"] != nil {
		t.Errorf("result %v", m["result"])
	}

	// The BBS task.
	def := e.tasks.get(t1)
	if def == nil || e.tasks.domains[t1] != TaskDomain {
		t.Fatal("task not desired in cf-tasks")
	}
	act := def.GetAction()
	if def.GetRootFs() != "preloaded:cflinuxfs4" || def.GetMemoryMb() != 256 || def.GetDiskMb() != 1024 || def.GetLogGuid() != app ||
		act.GetPath() != "/tmp/lifecycle/launcher" || !slices.Equal(act.GetArgs(), []string{"/home/vcap/app", "rake db:migrate", ""}) ||
		act.GetUser() != "vcap" || act.GetLogSource() != "APP/TASK/migrate" || def.GetMetricTags()["source_id"] != app {
		t.Errorf("task definition %v", def)
	}
	setup := def.GetSetup()
	d := e.want(e.do(e.dev, "GET", "/v3/droplets/"+droplet, nil), http.StatusOK)
	if len(setup) != 1 || setup[0].GetTo() != "/home/vcap" || setup[0].GetChecksumAlgorithm() != "sha256" ||
		setup[0].GetChecksumValue() != str(d, "checksum", "value") || setup[0].GetUser() != "vcap" {
		t.Fatalf("setup %v", setup)
	}
	u, _ := url.Parse(setup[0].GetFrom())
	if _, err := apiblob.Verify([]apiblob.Key{e.blobs.key}, http.MethodGet, u.Path, u.Query(), time.Now()); err != nil || !strings.HasSuffix(u.Path, "/droplets/objects/"+droplet) {
		t.Errorf("droplet URL %s: %v", u, err)
	}
	var env []string
	for _, v := range def.GetEnv() {
		env = append(env, v.GetName())
	}
	if !slices.Contains(env, "VCAP_APPLICATION") || !slices.Contains(env, "MEMORY_LIMIT") || !slices.Contains(env, "CF_STACK") {
		t.Errorf("env %v", env)
	}
	if !strings.HasPrefix(def.GetCompletionCallbackUrl(), "http://cc.service.internal:9022/internal/v4/tasks/"+t1+"/completed?token=") {
		t.Errorf("callback %q", def.GetCompletionCallbackUrl())
	}

	// A second task gets a random name and the next sequence id.
	m = e.want(e.do(e.dev, "POST", path, map[string]any{"command": "echo hi"}), http.StatusAccepted)
	t2 := m["guid"].(string)
	if num(m, "sequence_id") != 2 || !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(m["name"].(string)) {
		t.Errorf("second task %v", m)
	}

	// Callbacks: authenticated, then SUCCEEDED / FAILED, repeats harmless.
	e.wantErr(e.do("", "POST", "/internal/v4/tasks/"+t1+"/completed?token=x", taskCallback{TaskGUID: t1}), http.StatusUnauthorized, "")
	staging := "/internal/v4/tasks/" + t1 + "/completed?token=" + url.QueryEscape(callbackToken([]byte(testCallbackSecret), t1))
	e.wantErr(e.do("", "POST", staging, taskCallback{TaskGUID: t1}), http.StatusUnauthorized, "") // a staging token is no task token
	e.want(e.finish(t1, taskCallback{}), http.StatusOK)
	e.want(e.finish(t2, taskCallback{Failed: true, FailureReason: "APP/TASK/x: Exited with status 1"}), http.StatusOK)
	e.want(e.finish(t2, taskCallback{}), http.StatusOK)
	if m := e.want(e.do(e.dev, "GET", "/v3/tasks/"+t1, nil), http.StatusOK); m["state"] != "SUCCEEDED" || str(m, "result", "failure_reason") != "" {
		t.Errorf("succeeded task %v", m)
	}
	if m := e.want(e.do(e.dev, "GET", "/v3/tasks/"+t2, nil), http.StatusOK); m["state"] != "FAILED" || str(m, "result", "failure_reason") != "APP/TASK/x: Exited with status 1" {
		t.Errorf("failed task %v", m)
	}

	// Cancel: supporters may; the BBS's callback makes it FAILED.
	t3 := e.want(e.do(e.dev, "POST", path, map[string]any{"command": "sleep 100", "name": "sleeper"}), http.StatusAccepted)["guid"].(string)
	e.wantErr(e.do(e.auditor, "POST", "/v3/tasks/"+t3+"/actions/cancel", nil), http.StatusForbidden, "")
	if m := e.want(e.do(e.supporter, "POST", "/v3/tasks/"+t3+"/actions/cancel", nil), http.StatusAccepted); m["state"] != "CANCELING" {
		t.Errorf("canceling %v", m)
	}
	if !slices.Contains(e.tasks.cancelled, t3) {
		t.Errorf("BBS cancels %v", e.tasks.cancelled)
	}
	e.want(e.finish(t3, taskCallback{Failed: true, FailureReason: "task was cancelled"}), http.StatusOK)
	if m := e.want(e.do(e.dev, "GET", "/v3/tasks/"+t3, nil), http.StatusOK); m["state"] != "FAILED" || str(m, "result", "failure_reason") != "task was cancelled" {
		t.Errorf("cancelled task %v", m)
	}
	e.wantErr(e.do(e.dev, "POST", "/v3/tasks/"+t3+"/actions/cancel", nil), http.StatusUnprocessableEntity, "Task state is FAILED and therefore cannot be canceled")
	t4 := e.want(e.do(e.dev, "POST", path, map[string]any{"command": "sleep 100"}), http.StatusAccepted)["guid"].(string)
	if m := e.want(e.do(e.dev, "PUT", "/v3/tasks/"+t4+"/cancel", nil), http.StatusAccepted); m["state"] != "CANCELING" {
		t.Errorf("legacy cancel %v", m)
	}

	// Lists and filters; commands only for those who read secrets, never in /v3/tasks.
	l := e.want(e.do(e.dev, "GET", path+"?per_page=5000", nil), http.StatusOK)
	if res := l["resources"].([]any); len(res) != 4 || res[0].(map[string]any)["command"] != "rake db:migrate" {
		t.Errorf("app tasks %v", l["resources"])
	}
	if l := e.want(e.do(e.auditor, "GET", path, nil), http.StatusOK); len(l["resources"].([]any)) != 4 {
		t.Errorf("auditor's tasks %v", l["resources"])
	} else if _, ok := l["resources"].([]any)[0].(map[string]any)["command"]; ok {
		t.Error("auditor sees commands")
	}
	if m := e.want(e.do(e.auditor, "GET", "/v3/tasks/"+t1, nil), http.StatusOK); m["command"] != nil {
		t.Errorf("auditor sees command %v", m["command"])
	}
	for q, want := range map[string][]string{
		"/v3/tasks?states=FAILED":                                {t2, t3},
		"/v3/tasks?names=migrate,sleeper":                        {t1, t3},
		"/v3/tasks?app_guids=" + app + "&states=CANCELING":       {t4},
		"/v3/tasks?space_guids=" + e.space.GUID + "&guids=" + t1: {t1},
		"/v3/tasks?organization_guids=" + e.org.GUID:             {t1, t2, t3, t4},
		path + "?sequence_ids=2,3":                               {t2, t3},
		path + "?states=SUCCEEDED":                               {t1},
	} {
		l := e.want(e.do(e.dev, "GET", q, nil), http.StatusOK)
		if got := guids(l); !sameSet(got, want) {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
		if strings.HasPrefix(q, "/v3/tasks?") && len(l["resources"].([]any)) > 0 {
			if _, ok := l["resources"].([]any)[0].(map[string]any)["command"]; ok {
				t.Errorf("%s shows commands", q)
			}
		}
	}
	if l := e.want(e.do(e.dev, "GET", "/v3/tasks?order_by=-created_at", nil), http.StatusOK); guids(l)[0] != t4 {
		t.Errorf("newest first %v", guids(l))
	}
	if l := e.want(e.do(e.outsider, "GET", "/v3/tasks", nil), http.StatusOK); len(l["resources"].([]any)) != 0 {
		t.Errorf("outsider sees %v", l["resources"])
	}
	e.wantErr(e.do(e.outsider, "GET", "/v3/tasks/"+t1, nil), http.StatusNotFound, "Task not found")
	e.wantErr(e.do(e.dev, "GET", "/v3/tasks?bogus=1", nil), http.StatusBadRequest, "")

	// Quotas: per_app_tasks counts the app's active tasks (t4 is CANCELING).
	q := e.want(e.do(e.admin, "POST", "/v3/space_quotas", map[string]any{"name": "one-task", "apps": map[string]any{"per_app_tasks": 1},
		"relationships": map[string]any{"organization": rel(e.org.GUID), "spaces": map[string]any{"data": []any{map[string]any{"guid": e.space.GUID}}}}}), http.StatusCreated)
	e.wantErr(e.do(e.dev, "POST", path, map[string]any{"command": "x"}), http.StatusUnprocessableEntity, "app_task_limit quota exceeded")
	e.want(e.finish(t4, taskCallback{Failed: true, FailureReason: "task was cancelled"}), http.StatusOK)
	t5 := e.want(e.do(e.dev, "POST", path, map[string]any{"command": "x"}), http.StatusAccepted)["guid"].(string)
	_ = q

	// The BBS refusing the task: FAILED, 503 TaskWorkersUnavailable.
	e.want(e.finish(t5, taskCallback{}), http.StatusOK)
	e.tasks.mu.Lock()
	e.tasks.fail = errFakeBBS
	e.tasks.mu.Unlock()
	r := e.do(e.dev, "POST", path, map[string]any{"command": "x", "name": "refused"})
	e.wantErr(r, http.StatusServiceUnavailable, "Task workers are unavailable")
	if !strings.Contains(string(r.Body), "CF-TaskWorkersUnavailable") {
		t.Errorf("envelope %s", r.Body)
	}
	if l := e.want(e.do(e.dev, "GET", path+"?names=refused", nil), http.StatusOK); str(l["resources"].([]any)[0].(map[string]any), "result", "failure_reason") != "Unable to request task to be run" {
		t.Errorf("refused task %v", l["resources"])
	}

	// Usage events: TASK_STARTED for every task the BBS took, TASK_STOPPED when it ended.
	events := e.usageEvents("")
	if got := len(usageOf(events, app, store.UsageTaskStarted)); got != 5 {
		t.Errorf("TASK_STARTED events %d", got)
	}
	stopped := usageOf(events, app, store.UsageTaskStopped)
	if len(stopped) != 5 {
		t.Errorf("TASK_STOPPED events %d", len(stopped))
	} else if ev := stopped[0]; str(ev, "task", "guid") != t1 || str(ev, "task", "name") != "migrate" || num(ev, "memory_in_mb_per_instance", "current") != 256 ||
		num(ev, "instance_count", "current") != 1 || str(ev, "state", "previous") != "RUNNING" || ev["process"].(map[string]any)["guid"] != nil ||
		str(ev, "space", "guid") != e.space.GUID || str(ev, "organization", "guid") != e.org.GUID || str(ev, "app", "name") != "worker" {
		t.Errorf("TASK_STOPPED %v", ev)
	}

	// Audit events.
	ev := e.want(e.do(e.admin, "GET", "/v3/audit_events?types=audit.app.task.create,audit.app.task.cancel&target_guids="+app, nil), http.StatusOK)
	if n := len(ev["resources"].([]any)); n != 8 { // 6 creates (one refused by the BBS), 2 cancels
		t.Errorf("task audit events %d", n)
	}
}

var errFakeBBS = fakeBBSError("bbs unreachable")

type fakeBBSError string

func (e fakeBBSError) Error() string { return string(e) }

func TestUsageEventsAndAPILogs(t *testing.T) {
	t.Parallel()
	e := newTaskEnv(t)
	app, droplet := e.stagedApp("web")

	// Staging: STAGING_STARTED, STAGING_STOPPED, BUILDPACK_SET.
	events := e.usageEvents("")
	for _, st := range []string{store.UsageStagingStarted, store.UsageStagingStopped, store.UsageBuildpackSet} {
		evs := usageOf(events, app, st)
		if len(evs) != 1 {
			t.Fatalf("%s events: %v", st, evs)
		}
		if num(evs[0], "memory_in_mb_per_instance", "current") != 1024 || str(evs[0], "space", "name") != "space" {
			t.Errorf("%s %v", st, evs[0])
		}
	}
	if ev := usageOf(events, app, store.UsageBuildpackSet)[0]; str(ev, "buildpack", "name") != "staticfile_buildpack" {
		t.Errorf("BUILDPACK_SET buildpack %v", ev["buildpack"])
	}

	// start, scale, stop, restart.
	e.want(e.do(e.dev, "POST", "/v3/apps/"+app+"/actions/start", nil), http.StatusOK)
	e.want(e.do(e.dev, "POST", "/v3/apps/"+app+"/processes/web/actions/scale", map[string]any{"instances": 3}), http.StatusAccepted)
	e.want(e.do(e.dev, "POST", "/v3/apps/"+app+"/processes/web/actions/scale", map[string]any{"disk_in_mb": 512}), http.StatusAccepted) // no footprint change
	e.want(e.do(e.dev, "POST", "/v3/apps/"+app+"/actions/stop", nil), http.StatusOK)
	e.want(e.do(e.dev, "PATCH", "/v3/apps/"+app, map[string]any{"name": "renamed"}), http.StatusOK)
	events = e.usageEvents("")
	started := usageOf(events, app, store.UsageStarted)
	if len(started) != 2 {
		t.Fatalf("STARTED events %v", started)
	}
	if ev := started[0]; num(ev, "instance_count", "current") != 1 || str(ev, "state", "previous") != "STOPPED" || str(ev, "process", "type") != "web" || str(ev, "process", "guid") == "" {
		t.Errorf("start %v", ev)
	}
	if ev := started[1]; num(ev, "instance_count", "current") != 3 || num(ev, "instance_count", "previous") != 1 || str(ev, "state", "previous") != "STARTED" {
		t.Errorf("scale %v", ev)
	}
	if st := usageOf(events, app, store.UsageStopped); len(st) != 1 || num(st[0], "instance_count", "current") != 3 {
		t.Errorf("STOPPED %v", st)
	}

	// Paging by after_guid, reads by global readers only.
	first := events[0]["guid"].(string)
	if after := e.usageEvents("&after_guid=" + first); len(after) != len(events)-1 || after[0]["guid"] != events[1]["guid"] {
		t.Errorf("after_guid gave %d of %d", len(after), len(events))
	}
	e.wantErr(e.do(e.admin, "GET", "/v3/app_usage_events?after_guid=00000000-0000-0000-0000-000000000000", nil), http.StatusUnprocessableEntity,
		"After guid filter must be a valid app usage event guid.")
	if l := e.want(e.do(e.globalAuditor, "GET", "/v3/app_usage_events", nil), http.StatusOK); len(l["resources"].([]any)) != len(events) {
		t.Errorf("global auditor sees %d", len(l["resources"].([]any)))
	}
	if l := e.want(e.do(e.dev, "GET", "/v3/app_usage_events", nil), http.StatusOK); len(l["resources"].([]any)) != 0 {
		t.Errorf("developer sees %v", l["resources"])
	}
	if m := e.want(e.do(e.globalAuditor, "GET", "/v3/app_usage_events/"+first, nil), http.StatusOK); m["guid"] != first ||
		!strings.HasSuffix(str(m, "links", "self", "href"), "/v3/app_usage_events/"+first) {
		t.Errorf("get %v", m)
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/app_usage_events/"+first, nil), http.StatusNotFound, "App usage event not found")

	// Purge and reseed: one STARTED event per process of a started app.
	e.want(e.do(e.dev, "POST", "/v3/apps/"+app+"/actions/start", nil), http.StatusOK)
	e.wantErr(e.do(e.dev, "POST", "/v3/app_usage_events/actions/destructively_purge_all_and_reseed", nil), http.StatusForbidden, "")
	e.want(e.do(e.admin, "POST", "/v3/app_usage_events/actions/destructively_purge_all_and_reseed", nil), http.StatusOK)
	if events := e.usageEvents(""); len(events) != 1 || str(events[0], "state", "current") != "STARTED" || num(events[0], "instance_count", "current") != 3 ||
		str(events[0], "app", "name") != "renamed" || str(events[0], "buildpack", "name") != "staticfile_buildpack" {
		t.Errorf("reseeded %v", events)
	}

	// API log lines, CF's texts, [API/0] with the app's tags.
	lines := e.sink.lines(app)
	build := ""
	for _, l := range lines {
		if b, ok := strings.CutPrefix(l, "Staging complete for build "); ok {
			build = b
		}
	}
	for _, want := range []string{
		"Created app with guid " + app,
		"Creating build for app with guid " + app,
		"Staging complete for build " + build,
		`Updated app with guid ` + app + ` ({"droplet_guid"=>"` + droplet + `"})`,
		"Starting app with guid " + app,
		`Scaling process: "web"`,
		"Stopping app with guid " + app,
		`Updated app with guid ` + app + ` ({"name"=>"renamed"})`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no API line %q in %q", want, lines)
		}
	}
	l, ok := e.sink.find(app, "Starting app with guid "+app)
	if !ok || l.InstanceID != "0" || l.Tags["source_type"] != "API" || l.Tags["app_name"] != "web" || l.Tags["space_name"] != "space" ||
		l.Tags["organization_name"] != "org" || l.Tags["organization_id"] != e.org.GUID || l.Stderr {
		t.Errorf("API line %+v", l)
	}
}

func TestRubyInspect(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   any
		want string
	}{
		{map[string]any{"state": "STARTED"}, `{"state"=>"STARTED"}`},
		{map[string]any{"b": 2.0, "a": []any{"x", true, nil}, "c": map[string]any{"d": 1.5}}, `{"a"=>["x", true, nil], "b"=>2, "c"=>{"d"=>1.5}}`},
		{map[string]any{"q": `say "hi"`}, `{"q"=>"say \"hi\""}`},
		{map[string]any{}, `{}`},
	} {
		if got := rubyInspect(c.in); got != c.want {
			t.Errorf("rubyInspect(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := censor(map[string]any{"command": "secret", "name": "x"}); got["command"] != "[PRIVATE DATA HIDDEN]" || got["name"] != "x" {
		t.Errorf("censor %v", got)
	}
}
