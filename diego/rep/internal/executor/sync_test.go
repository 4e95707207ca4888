package executor

import (
	"fmt"
	"slices"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/fakebbs"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestBulkSyncReportsMissingContainers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	ik := func(guid string) *bbsv1.ActualLRPInstanceKey {
		return &bbsv1.ActualLRPInstanceKey{InstanceGuid: guid, CellId: cellID}
	}
	key := func(guid string) *bbsv1.ActualLRPKey {
		return &bbsv1.ActualLRPKey{ProcessGuid: guid, Domain: "cf-apps"}
	}
	running := bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING
	// The BBS thinks these run here; the cell has no container for them.
	h.bbs.SetActual(&bbsv1.ActualLRP{Key: key("lost"), InstanceKey: ik("i-lost"), State: running, Presence: bbsv1.Presence_PRESENCE_ORDINARY})
	h.bbs.SetActual(&bbsv1.ActualLRP{Key: key("evac"), InstanceKey: ik("i-evac"), State: running, Presence: bbsv1.Presence_PRESENCE_EVACUATING})
	h.bbs.PutTask(&bbsv1.Task{TaskGuid: "lost-task", State: bbsv1.TaskState_TASK_STATE_RUNNING, CellId: cellID})
	// Not this cell's.
	h.bbs.SetActual(&bbsv1.ActualLRP{Key: key("other"), InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "x", CellId: "cell-2"}, State: running, Presence: bbsv1.Presence_PRESENCE_ORDINARY})
	h.bbs.PutTask(&bbsv1.Task{TaskGuid: "other-task", State: bbsv1.TaskState_TASK_STATE_RUNNING, CellId: "cell-2"})

	if err := h.ex.Sync(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if a := h.bbs.Actual("lost", 0); a != nil {
		t.Errorf("lost instance kept: %v", a)
	}
	if a := h.bbs.Evacuating("evac", 0); a != nil {
		t.Errorf("lost evacuating instance kept: %v", a)
	}
	if tk := h.bbs.Task("lost-task"); !tk.GetFailed() || tk.GetFailureReason() != "task container does not exist" {
		t.Errorf("lost task %v", tk)
	}
	if h.bbs.Actual("other", 0) == nil || h.bbs.Task("other-task").GetState() != bbsv1.TaskState_TASK_STATE_RUNNING {
		t.Error("another cell's work was touched")
	}
	if got := h.metric("rep_bulk_sync_duration_seconds"); got != 1 {
		t.Errorf("bulk sync histogram count %v", got)
	}
}

func TestBulkSyncStopsOrphans(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.desire(processLRP("web", 2))
	ig0, ig1 := h.instanceGUID("web", 0), h.instanceGUID("web", 1)
	h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	h.waitState("web", 1, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	h.runTask(task("job"))
	h.proc("job", taskProcess)
	// A container nothing accounts for (a destroy that failed).
	h.rt.addContainer(runtime.Container{ID: "leftover"})

	// The BBS forgets index 1 (removed while the cell was unreachable)
	// and the task (cancelled, and the cancel never reached the cell).
	if _, err := h.bbs.RemoveActualLRP(ctxFor(t), &bbsv1.RemoveActualLRPRequest{ProcessGuid: "web", Index: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.bbs.CancelTask(ctxFor(t), &bbsv1.CancelTaskRequest{TaskGuid: "job"}); err != nil {
		t.Fatal(err)
	}
	removes, completes := h.calls("RemoveActualLRP"), h.calls("CompleteTask")

	if err := h.ex.Sync(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if ids := h.rt.ids(); !slices.Equal(ids, []string{ig0}) {
			return fmt.Errorf("containers %v, want only %s", ids, ig0)
		}
		return nil
	})
	if h.bbs.Actual("web", 0).GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING {
		t.Error("the wanted instance was touched")
	}
	if h.rt.wasDestroyed(ig1) != true || h.calls("RemoveActualLRP") != removes || h.calls("CompleteTask") != completes {
		t.Errorf("orphans were reported: %v", h.bbs.Calls(""))
	}
}

func TestBulkSyncRepeatsLostStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	// The start report is lost (the BBS was down): the record stays
	// CLAIMED until the bulk sync.
	h.bbs.FailNext("StartActualLRP", fmt.Errorf("connection refused"))
	h.desire(processLRP("web", 1))
	ig := h.instanceGUID("web", 0)
	testenv.Eventually(t, timeout, func() error {
		if h.calls("StartActualLRP") != 1 {
			return fmt.Errorf("no start yet")
		}
		return nil
	})
	if a := h.bbs.Actual("web", 0); a.GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED {
		t.Fatalf("record %v", a)
	}
	if err := h.ex.Sync(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	a := h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	if a.GetInstanceKey().GetInstanceGuid() != ig || !a.GetRoutable() {
		t.Errorf("record %v", a)
	}
}

func TestBulkSyncSkipsFreshClaims(t *testing.T) {
	t.Parallel()
	b := fakebbs.New()
	h := newHarness(t, options{bbs: b})
	// The claim happens after the bulk sync listed the BBS: the lists do
	// not show it, and the instance must survive.
	inst := func() *instance {
		h.ex.mu.Lock()
		defer h.ex.mu.Unlock()
		inst := h.ex.addLocked("fresh", kindLRP, 1, 1)
		inst.key, inst.cancel = &bbsv1.ActualLRPKey{ProcessGuid: "p"}, func() {}
		inst.claimed, inst.claimedAt, inst.state = true, h.ex.clock.Now().Add(1<<40), stateRunning
		return inst
	}()
	if err := h.ex.Sync(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	h.ex.mu.Lock()
	stop := inst.stop
	delete(h.ex.instances, "fresh")
	h.ex.mu.Unlock()
	if stop != stopNone {
		t.Errorf("a fresh claim was stopped (%v)", stop)
	}
}
