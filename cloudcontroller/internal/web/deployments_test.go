package web

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// fakeInstances reports the instance states a test sets per process.
type fakeInstances struct {
	mu     sync.Mutex
	states map[string][]string // process guid → state by index
}

func (f *fakeInstances) set(process string, states ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[process] = states
}

func (f *fakeInstances) Instances(_ context.Context, process string) ([]InstanceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []InstanceState
	for i, st := range f.states[process] {
		out = append(out, InstanceState{Index: i, State: st, Since: time.Now()})
	}
	return out, nil
}

// stagedDroplet makes a STAGED droplet of app through the store.
func (e *routingEnv) stagedDroplet(app string) string {
	e.t.Helper()
	ctx := e.t.Context()
	pkg, err := e.st.CreatePackage(ctx, store.Package{AppGUID: app, Type: "bits"})
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := e.st.CreateBuild(ctx, store.Build{AppGUID: app, PackageGUID: pkg.GUID, LifecycleType: store.LifecycleBuildpack, Stack: "cflinuxfs4", StagingMemoryMB: 1, StagingDiskMB: 1}, time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err = e.st.CompleteBuild(ctx, b.GUID, store.StagingOutcome{Result: store.DropletResult{ProcessTypes: map[string]string{"web": "./run"}, SHA256: "abc"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return b.DropletGUID
}

func TestDeployments(t *testing.T) {
	t.Parallel()
	insts := &fakeInstances{states: map[string][]string{}}
	diego := &fakeDiego{desired: map[string]store.Process{}}
	e := newRoutingEnv(t, func(d *Deps) { d.Desirer, d.Instances = diego, insts })
	ctx := t.Context()
	app := e.createApp(e.dev, "app")["guid"].(string)
	web, err := e.st.GetAppProcess(ctx, app, store.ProcessWeb)
	if err != nil {
		t.Fatal(err)
	}
	web.Instances = 2
	if _, err := e.st.UpdateProcess(ctx, web); err != nil {
		t.Fatal(err)
	}

	// Nothing yet: an empty list, and no droplet to deploy.
	if m := e.want(e.do(e.dev, "GET", "/v3/deployments?app_guids="+app+"&status_values=ACTIVE&order_by=-created_at&per_page=1", nil), http.StatusOK); len(guids(m)) != 0 {
		t.Fatalf("deployments %v", m)
	}
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"relationships": map[string]any{"app": rel(app)}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	e.wantErr(e.do(e.dev, "POST", "/v3/deployments", body(nil)), http.StatusUnprocessableEntity, "Invalid droplet")
	e.wantErr(e.do(e.dev, "POST", "/v3/deployments", body(map[string]any{"strategy": "canary"})), http.StatusUnprocessableEntity, "not a supported deployment strategy")
	e.wantErr(e.do(e.dev, "POST", "/v3/deployments", body(map[string]any{"options": map[string]any{"max_in_flight": 0}})), http.StatusUnprocessableEntity, "Max in flight")
	e.wantErr(e.do(e.auditor, "POST", "/v3/deployments", body(nil)), http.StatusForbidden, "")
	e.wantErr(e.do(e.outsider, "POST", "/v3/deployments", body(nil)), http.StatusUnprocessableEntity, "Unable to use app")

	d1 := e.stagedDroplet(app)
	// cf restart --strategy rolling: no droplet given, the newest staged one
	// is used; the app is started and desired.
	dep := e.want(e.do(e.dev, "POST", "/v3/deployments", body(map[string]any{"strategy": "rolling", "options": map[string]any{"max_in_flight": 2}})), http.StatusCreated)
	if str(dep, "status", "value") != "ACTIVE" || str(dep, "status", "reason") != "DEPLOYING" || dep["state"] != "DEPLOYING" ||
		str(dep, "droplet", "guid") != d1 || dep["previous_droplet"] != nil || dep["strategy"] != "rolling" ||
		str(dep, "relationships", "app", "data", "guid") != app || dep["options"].(map[string]any)["max_in_flight"] != 2.0 {
		t.Fatalf("deployment %v", dep)
	}
	a := e.want(e.do(e.dev, "GET", "/v3/apps/"+app, nil), http.StatusOK)
	if a["state"] != "STARTED" {
		t.Fatalf("app %v", a)
	}
	if n, ok := diego.desiredInstances(web.GUID); !ok || n != 2 {
		t.Fatalf("web desired %d %v", n, ok)
	}
	guid1 := dep["guid"].(string)

	// The updater waits until every instance runs.
	insts.set(web.GUID, InstanceRunning, InstanceStarting)
	if err := e.srv.UpdateDeployments(ctx); err != nil {
		t.Fatal(err)
	}
	if m := e.want(e.do(e.dev, "GET", "/v3/deployments/"+guid1, nil), http.StatusOK); str(m, "status", "value") != "ACTIVE" {
		t.Fatalf("finalized early %v", m)
	}
	m := e.want(e.do(e.dev, "GET", "/v3/deployments?app_guids="+app+"&status_values=ACTIVE", nil), http.StatusOK)
	if g := guids(m); len(g) != 1 || g[0] != guid1 {
		t.Fatalf("active list %v", m)
	}
	insts.set(web.GUID, InstanceRunning, InstanceRunning)
	if err := e.srv.UpdateDeployments(ctx); err != nil {
		t.Fatal(err)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/deployments/"+guid1, nil), http.StatusOK)
	if str(m, "status", "value") != "FINALIZED" || str(m, "status", "reason") != "DEPLOYED" {
		t.Fatalf("not deployed %v", m)
	}
	e.wantErr(e.do(e.dev, "POST", "/v3/deployments/"+guid1+"/actions/cancel", nil), http.StatusUnprocessableEntity, "Cannot cancel a DEPLOYED deployment")

	// cf push --strategy rolling: a new droplet; a newer deployment
	// supersedes an active one; cancel goes back to the previous droplet.
	d2 := e.stagedDroplet(app)
	insts.set(web.GUID, InstanceStarting, InstanceStarting)
	dep2 := e.want(e.do(e.dev, "POST", "/v3/deployments", body(map[string]any{"droplet": map[string]any{"guid": d2}})), http.StatusCreated)
	if str(dep2, "previous_droplet", "guid") != d1 {
		t.Fatalf("deployment 2 %v", dep2)
	}
	d3 := e.stagedDroplet(app)
	dep3 := e.want(e.do(e.dev, "POST", "/v3/deployments", body(map[string]any{"droplet": map[string]any{"guid": d3}})), http.StatusCreated)
	m = e.want(e.do(e.dev, "GET", "/v3/deployments/"+dep2["guid"].(string), nil), http.StatusOK)
	if str(m, "status", "value") != "FINALIZED" || str(m, "status", "reason") != "SUPERSEDED" {
		t.Fatalf("not superseded %v", m)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/deployments?app_guids="+app+"&status_reasons=SUPERSEDED,DEPLOYED&order_by=created_at", nil), http.StatusOK)
	if g := guids(m); len(g) != 2 || g[0] != guid1 {
		t.Fatalf("status_reasons filter %v", m)
	}
	e.wantErr(e.do(e.dev, "POST", "/v3/deployments/"+dep3["guid"].(string)+"/actions/continue", nil), http.StatusUnprocessableEntity, "Cannot continue")
	r := e.do(e.dev, "POST", "/v3/deployments/"+dep3["guid"].(string)+"/actions/cancel", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("cancel %d %s", r.Status, r.Body)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/deployments/"+dep3["guid"].(string), nil), http.StatusOK)
	if str(m, "status", "value") != "FINALIZED" || str(m, "status", "reason") != "CANCELED" {
		t.Fatalf("not canceled %v", m)
	}
	if cur := e.want(e.do(e.dev, "GET", "/v3/apps/"+app+"/relationships/current_droplet", nil), http.StatusOK); str(cur, "data", "guid") != d2 {
		t.Fatalf("current droplet after cancel %v, want %s", cur, d2)
	}

	// Stopping the app cancels an active deployment; visibility.
	dep4 := e.want(e.do(e.dev, "POST", "/v3/deployments", body(map[string]any{"droplet": map[string]any{"guid": d3}})), http.StatusCreated)
	e.want(e.do(e.dev, "POST", "/v3/apps/"+app+"/actions/stop", nil), http.StatusOK)
	if err := e.srv.UpdateDeployments(ctx); err != nil {
		t.Fatal(err)
	}
	if m := e.want(e.do(e.dev, "GET", "/v3/deployments/"+dep4["guid"].(string), nil), http.StatusOK); str(m, "status", "reason") != "CANCELED" {
		t.Fatalf("after stop %v", m)
	}
	e.wantErr(e.do(e.outsider, "GET", "/v3/deployments/"+guid1, nil), http.StatusNotFound, "Deployment not found")
	if m := e.want(e.do(e.outsider, "GET", "/v3/deployments", nil), http.StatusOK); len(guids(m)) != 0 {
		t.Fatalf("outsider sees %v", m)
	}
	if m := e.want(e.do(e.dev, "GET", "/v3/deployments", nil), http.StatusOK); len(guids(m)) != 4 {
		t.Fatalf("dev sees %d", len(guids(m)))
	}
}

// rollingDiego is a fakeDiego that rolls deployments itself.
type rollingDiego struct {
	*fakeDiego
	mu    sync.Mutex
	done  bool
	rolls int
}

func (f *rollingDiego) Roll(_ context.Context, _ store.Process) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rolls++
	return f.done, nil
}

func TestDeploymentUpdaterRolls(t *testing.T) {
	t.Parallel()
	diego := &rollingDiego{fakeDiego: &fakeDiego{desired: map[string]store.Process{}}}
	e := newRoutingEnv(t, func(d *Deps) { d.Desirer = diego })
	ctx := t.Context()
	app := e.createApp(e.dev, "app")["guid"].(string)
	e.stagedDroplet(app)
	dep := e.want(e.do(e.dev, "POST", "/v3/deployments", map[string]any{"relationships": map[string]any{"app": rel(app)}}), http.StatusCreated)
	if err := e.srv.UpdateDeployments(ctx); err != nil {
		t.Fatal(err)
	}
	if m := e.want(e.do(e.dev, "GET", "/v3/deployments/"+dep["guid"].(string), nil), http.StatusOK); str(m, "status", "value") != "ACTIVE" {
		t.Fatalf("finalized before the rollout is done: %v", m)
	}
	diego.mu.Lock()
	diego.done = true
	diego.mu.Unlock()
	if err := e.srv.UpdateDeployments(ctx); err != nil {
		t.Fatal(err)
	}
	if m := e.want(e.do(e.dev, "GET", "/v3/deployments/"+dep["guid"].(string), nil), http.StatusOK); str(m, "status", "reason") != "DEPLOYED" {
		t.Fatalf("not deployed: %v", m)
	}
	if diego.rolls != 2 {
		t.Fatalf("%d roll steps", diego.rolls)
	}
}
