package diego

import (
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// running marks instance index of an LRP version RUNNING (creating the
// actual LRP if the fake BBS has none, as a scale-up would).
func (e *env) running(lrp string, index int32) {
	e.bbs.mu.Lock()
	defer e.bbs.mu.Unlock()
	e.bbs.actuals[akey(lrp, index)] = &bbsv1.ActualLRP{
		Key:   &bbsv1.ActualLRPKey{ProcessGuid: lrp, Index: index, Domain: Domain},
		State: bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING, Presence: bbsv1.Presence_PRESENCE_ORDINARY,
	}
}

// instancesByLRP maps each LRP version of the process to its instances.
func (e *env) instancesByLRP(process string) map[string]int32 {
	out := map[string]int32{}
	for _, d := range e.lrpsOf(process) {
		out[d.ProcessGuid] = d.Instances
	}
	return out
}

func TestRollingDeployment(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// Two instances run on the first droplet.
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	old := e.only(t, e.web.GUID).ProcessGuid
	e.running(old, 0)
	e.running(old, 1)

	// A deployment of a new (staged) droplet, one instance at a time.
	pkg, err := e.st.CreatePackage(ctx, store.Package{AppGUID: e.app.GUID, Type: "bits"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.st.CreateBuild(ctx, store.Build{AppGUID: e.app.GUID, PackageGUID: pkg.GUID, LifecycleType: "buildpack", Stack: "cflinuxfs4",
		StagingMemoryMB: 1, StagingDiskMB: 1}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b, err = e.st.CompleteBuild(ctx, b.GUID, store.StagingOutcome{Result: store.DropletResult{SHA256: "def456"}}); err != nil {
		t.Fatal(err)
	}
	dep, _, err := e.st.CreateDeployment(ctx, store.Deployment{AppGUID: e.app.GUID, Strategy: "rolling", MaxInFlight: 1,
		DropletGUID: b.DropletGUID, ProcessGUID: e.web.GUID, WebInstances: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.droplets.set(e.web.GUID, store.DropletDownload{DropletGUID: b.DropletGUID, BlobKey: b.DropletGUID, SHA256: "def456", Stack: "cflinuxfs4",
		ProcessTypes: map[string]string{"web": "./server"}})
	next := lrpGUID(e.web.GUID, dep.GUID)

	step := func(wantDone bool, want map[string]int32) {
		t.Helper()
		done, err := e.syncer.Roll(ctx, e.web)
		if err != nil {
			t.Fatal(err)
		}
		got := e.instancesByLRP(e.web.GUID)
		if done != wantDone || len(got) != len(want) {
			t.Fatalf("done %v, versions %v; want %v, %v", done, got, wantDone, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("versions %v, want %v", got, want)
			}
		}
	}
	// The handler's Desire takes the first step: one new instance, the
	// old version untouched.
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	step(false, map[string]int32{old: 2, next: 1})
	// The reconciler keeps both versions while the deployment is active.
	if err := e.syncer.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	step(false, map[string]int32{old: 2, next: 1})
	// The new instance runs: one more new, one old fewer.
	e.running(next, 0)
	step(false, map[string]int32{old: 1, next: 2})
	// Both run: the old version goes, the rollout is done.
	e.running(next, 1)
	step(true, map[string]int32{next: 2})

	// Finalized, the usual sync keeps the deployment's version as it is.
	if _, err := e.st.SetDeploymentStatus(ctx, dep.GUID, store.DeploymentDeployed, store.DeploymentFinalized, store.DeploymentDeployed); err != nil {
		t.Fatal(err)
	}
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	if d := e.only(t, e.web.GUID); d.ProcessGuid != next || d.Instances != 2 {
		t.Fatalf("after finalize %s × %d", d.ProcessGuid, d.Instances)
	}
	if done, err := e.syncer.Roll(ctx, e.web); err != nil || !done {
		t.Fatalf("roll without a deployment: %v %v", done, err)
	}
}
