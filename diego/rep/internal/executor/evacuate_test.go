package executor

import (
	"context"
	"fmt"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// evacuate runs Evacuate in the background; the channel closes when it
// returns.
func (h *harness) evacuate() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ex.Evacuate(context.Background())
	}()
	return done
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(timeout):
		t.Fatalf("%s did not happen within %v", what, timeout)
	}
}

func TestEvacuationKeepsContainersUntilReplaced(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.desire(processLRP("web", 1))
	ig := h.instanceGUID("web", 0)
	h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	h.runTask(task("job"))
	job := h.proc("job", taskProcess)

	done := h.evacuate()
	// The instance moves to an evacuating record and a replacement is
	// wanted; the container keeps serving.
	testenv.Eventually(t, timeout, func() error {
		e := h.bbs.Evacuating("web", 0)
		if e.GetInstanceKey().GetInstanceGuid() != ig {
			return fmt.Errorf("evacuating record %v", e)
		}
		if a := h.bbs.Actual("web", 0); a.GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED {
			return fmt.Errorf("ordinary record %v", a)
		}
		return nil
	})
	h.logs.waitFor(t, "Cell cell-1 requesting replacement for instance "+ig)
	if s := h.ex.State(); !s.GetEvacuating() {
		t.Error("state does not say evacuating")
	}
	if resp := h.ex.Perform(ctxFor(t), &repv1.PerformRequest{Lrps: []*repv1.LRPWork{work("new", 0, 1, 1)}}); len(resp.GetFailedLrps()) != 1 ||
		resp.GetFailedLrps()[0].GetReason() != "cell is evacuating" {
		t.Errorf("Perform while evacuating: %v", resp)
	}
	if got := h.metric("rep_evacuating"); got != 1 {
		t.Errorf("rep_evacuating = %v", got)
	}
	if _, _, ok := h.rt.container(ig); !ok {
		t.Fatal("container stopped before its replacement runs")
	}

	// The replacement runs on another cell: the container goes.
	if _, err := h.bbs.ClaimActualLRP(ctxFor(t), &bbsv1.ClaimActualLRPRequest{ProcessGuid: "web", InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "new", CellId: "cell-2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.bbs.StartActualLRP(ctxFor(t), &bbsv1.StartActualLRPRequest{Key: &bbsv1.ActualLRPKey{ProcessGuid: "web", Domain: "cf-apps"},
		InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "new", CellId: "cell-2"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if h.rt.wasDestroyed(ig) {
			return nil
		}
		return fmt.Errorf("container %s still there", ig)
	})

	// The task runs to its end; then evacuation is over.
	select {
	case <-done:
		t.Fatal("evacuation ended while a task still ran")
	default:
	}
	job.exit(runtime.ExitStatus{})
	waitClosed(t, done, "evacuation")
	if tk := h.bbs.Task("job"); tk.GetFailed() {
		t.Errorf("task %v", tk)
	}
	if a := h.bbs.Actual("web", 0); a.GetInstanceKey().GetCellId() != "cell-2" {
		t.Errorf("replacement record %v", a)
	}
	if h.calls("RemoveActualLRP")+h.calls("CrashActualLRP") != 0 {
		t.Error("the evacuated instance was removed or crashed")
	}
}

func TestEvacuationOfStartingInstance(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	dead := closedPort(t)
	h.rt.hostPort = func(uint32) uint32 { return dead }
	h.desire(webLRP("slow", 1)) // claimed, never healthy
	h.proc(h.instanceGUID("slow", 0), appProcess)
	waitClosed(t, h.evacuate(), "evacuation")
	if a := h.bbs.Actual("slow", 0); a.GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED || a.GetInstanceKey() != nil {
		t.Errorf("record %v, want UNCLAIMED for placement elsewhere", a)
	}
	if h.calls("EvacuateClaimedActualLRP") != 1 {
		t.Errorf("calls %v", h.bbs.Calls(""))
	}
	h.waitEmpty()
}

func TestEvacuationTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{tweak: func(c *Config) { c.EvacuationTimeout = 200 * time.Millisecond }})
	h.rt.exitOnTerm = true
	h.desire(processLRP("web", 1))
	ig := h.instanceGUID("web", 0)
	h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	h.runTask(task("forever"))
	h.proc("forever", taskProcess)

	// No replacement ever runs: after the timeout everything is stopped.
	waitClosed(t, h.evacuate(), "evacuation")
	h.waitEmpty()
	if !h.rt.wasDestroyed(ig) {
		t.Error("instance container kept")
	}
	if e := h.bbs.Evacuating("web", 0); e != nil {
		t.Errorf("evacuating record kept: %v", e)
	}
	if h.calls("EvacuateStoppedActualLRP") != 1 {
		t.Errorf("calls %v", h.bbs.Calls(""))
	}
	if tk := h.bbs.Task("forever"); !tk.GetFailed() || tk.GetFailureReason() != "cell disappeared before completion" {
		t.Errorf("task %v", tk)
	}
}

func TestCrashWhileEvacuating(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.desire(processLRP("web", 1))
	ig := h.instanceGUID("web", 0)
	h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	done := h.evacuate()
	testenv.Eventually(t, timeout, func() error {
		if h.bbs.Evacuating("web", 0) == nil {
			return fmt.Errorf("not evacuating yet")
		}
		return nil
	})
	h.proc(ig, appProcess).exit(runtime.ExitStatus{Code: 1})
	waitClosed(t, done, "evacuation")
	if e := h.bbs.Evacuating("web", 0); e != nil {
		t.Errorf("evacuating record kept: %v", e)
	}
	if h.calls("EvacuateCrashedActualLRP") != 1 || h.calls("CrashActualLRP") != 0 {
		t.Errorf("calls %v", h.bbs.Calls(""))
	}
}
