package diego

import (
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

func TestReconcileRepairsDriftBothWays(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// missing: e.app is started and never desired.
	// drifted: desired with the wrong instance count and no routes.
	drifted, dweb := e.newApp(t, "drifted", nil)
	if err := e.syncer.Desire(ctx, dweb); err != nil {
		t.Fatal(err)
	}
	d := e.only(t, dweb.GUID)
	d.Instances = 9
	d.Routes = map[string][]byte{"cf-router": []byte("[]")}
	e.bbs.put(d)
	// stopped: an app stopped while its LRP stayed (a lost Remove).
	stopped, sweb := e.newApp(t, "stopped", nil)
	if err := e.syncer.Desire(ctx, sweb); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SetAppState(ctx, stopped.GUID, store.AppStopped); err != nil {
		t.Fatal(err)
	}
	// deleted: an LRP of a process that no longer exists.
	ghost := "00000000-0000-4000-8000-000000000001-00000000-0000-4000-8000-000000000002"
	e.bbs.put(&bbsv1.DesiredLRP{ProcessGuid: ghost, Domain: Domain, Instances: 1})
	// Not ours: other domains and guids the sync did not make.
	e.bbs.put(&bbsv1.DesiredLRP{ProcessGuid: "staging-task-ish", Domain: Domain, Instances: 1})
	e.bbs.put(&bbsv1.DesiredLRP{ProcessGuid: ghost[:36] + "-x-other-domain-lrp-0000000000000000", Domain: "other", Instances: 1})

	res, err := e.syncer.reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Desired != 1 || res.Updated != 1 || res.Removed != 2 || res.Failed != 0 {
		t.Errorf("pass result %+v, want 1 desired, 1 updated, 2 removed", res)
	}
	if l := e.lrpsOf(e.web.GUID); len(l) != 1 || l[0].Instances != 2 {
		t.Errorf("missing process: %v", l)
	}
	if got := e.only(t, dweb.GUID); got.ProcessGuid != d.ProcessGuid || got.Instances != 2 || string(got.Routes["cf-router"]) == "[]" {
		t.Errorf("drifted %s: %s instances %d routes %s", drifted.Name, got.ProcessGuid, got.Instances, got.Routes["cf-router"])
	}
	if l := e.lrpsOf(sweb.GUID); len(l) != 0 {
		t.Errorf("stopped app has %d LRPs", len(l))
	}
	left := map[string]bool{}
	for _, d := range e.bbs.lrps() {
		left[d.ProcessGuid] = true
	}
	if left[ghost] || !left["staging-task-ish"] || !left[ghost[:36]+"-x-other-domain-lrp-0000000000000000"] {
		t.Errorf("left LRPs %v", left)
	}
	if ttl, ok := e.bbs.domains[Domain]; !ok || ttl != 120 {
		t.Errorf("cf-apps domain ttl %d (%v), want 120", ttl, ok)
	}

	// A second pass finds nothing to do.
	desires, updates := e.bbs.count("DesireLRP"), e.bbs.count("UpdateDesiredLRP")
	res, err = e.syncer.reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res != (PassResult{}) || e.bbs.count("DesireLRP") != desires || e.bbs.count("UpdateDesiredLRP") != updates {
		t.Errorf("second pass %+v", res)
	}
}

func TestReconcileInvalidProcessDoesNotBlockDomain(t *testing.T) {
	e := newEnv(t)
	e.bbs.invalid = e.web.GUID
	res, err := e.syncer.reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Invalid != 1 || e.bbs.count("UpsertDomain") != 1 {
		t.Errorf("result %+v, upserts %d", res, e.bbs.count("UpsertDomain"))
	}
}

func TestReconcileFailureKeepsDomainStale(t *testing.T) {
	e := newEnv(t)
	e.bbs.failList = true
	if err := e.syncer.Reconcile(t.Context()); err == nil {
		t.Fatal("pass with a failing listing succeeded")
	}
	if e.bbs.count("UpsertDomain") != 0 {
		t.Error("domain refreshed after a failed pass")
	}
	// A process whose droplet cannot be read is not removed, and the
	// domain is not refreshed.
	e.bbs.failList = false
	if err := e.syncer.Desire(t.Context(), e.web); err != nil {
		t.Fatal(err)
	}
	e.syncer.deps.Droplets = nil
	if err := e.syncer.Reconcile(t.Context()); err == nil {
		t.Fatal("pass without droplets succeeded")
	}
	if len(e.lrpsOf(e.web.GUID)) != 1 || e.bbs.count("UpsertDomain") != 0 {
		t.Errorf("LRPs %d, upserts %d", len(e.lrpsOf(e.web.GUID)), e.bbs.count("UpsertDomain"))
	}
}
