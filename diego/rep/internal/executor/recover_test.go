package executor

import (
	"fmt"
	"slices"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestRestartReattaches(t *testing.T) {
	t.Parallel()
	first := newHarness(t, options{})
	first.desire(processLRP("web", 1))
	ig := first.instanceGUID("web", 0)
	first.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	tk := task("job")
	tk.Definition.ResultFile = "/tmp/out"
	first.runTask(tk)
	app := first.proc(ig, appProcess)
	job := first.proc("job", taskProcess)
	starts := first.calls("StartActualLRP")

	// The rep goes away without evacuating: containers and records stay.
	first.ex.Close()
	if ids := first.rt.ids(); !slices.Equal(ids, sortedOf(ig, "job")) {
		t.Fatalf("containers after close: %v", ids)
	}

	second := newHarness(t, options{rt: first.rt, bbs: first.bbs})
	if err := second.ex.Recover(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	s := second.ex.State()
	if len(s.GetLrps()) != 1 || s.GetLrps()[0].GetInstanceGuid() != ig || len(s.GetTasks()) != 1 ||
		s.GetAvailable().GetMemoryMb() != 4096-256-128 {
		t.Errorf("recovered state %v", s)
	}
	// The start is reported again (a no-op for the BBS).
	testenv.Eventually(t, timeout, func() error {
		if n := second.calls("StartActualLRP"); n <= starts {
			return fmt.Errorf("%d starts", n)
		}
		return nil
	})

	// Output after the restart reaches the new rep's log sink.
	app.write(false, "still here\n")
	if l := second.logs.waitFor(t, "still here"); l.AppID != "app-web" || l.SourceType != "APP/PROC/WEB" {
		t.Errorf("line %+v", l)
	}

	// The new rep reports what happens next.
	second.rt.setFile("job", "/tmp/out", []byte("42"))
	job.exit(runtime.ExitStatus{})
	if got := second.waitTask("job"); got.GetFailed() || got.GetResult() != "42" {
		t.Errorf("task %v", got)
	}
	app.exit(runtime.ExitStatus{Code: 3})
	if a := second.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED); a.GetCrashReason() != "APP/PROC/WEB: Exited with status 3" {
		t.Errorf("crash reason %q", a.GetCrashReason())
	}
	second.waitEmpty()
}

func TestRecoverDeadAndForeignContainers(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime()
	key := &bbsv1.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: "cf-apps"}
	run := runInfo{LogGUID: "app-web", LogSource: "APP/PROC/WEB", LogRateLimit: -1}
	// An instance whose app died while no rep was running.
	rt.addContainer(runtime.Container{ID: "dead", HostIP: "127.0.0.1", IP: "127.0.0.1",
		Labels: encodeLabels(identity{kind: kindLRP, guid: "dead", key: key, memoryMB: 64, diskMB: 64, run: run})})
	// Containers the rep cannot account for.
	rt.addContainer(runtime.Container{ID: "foreign", Labels: map[string]string{"owner": "someone"}}, "app")
	rt.addContainer(runtime.Container{ID: "garbled", Labels: map[string]string{labelKind: "lrp", labelGUID: "garbled", labelMemoryMB: "x"}})

	h := newHarness(t, options{rt: rt})
	h.bbs.SetActual(&bbsv1.ActualLRP{Key: key, InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "dead", CellId: cellID},
		State: bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING, Presence: bbsv1.Presence_PRESENCE_ORDINARY})
	if err := h.ex.Recover(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	a := h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED)
	if a.GetCrashReason() != "APP/PROC/WEB: process not found after the rep restarted" {
		t.Errorf("crash reason %q", a.GetCrashReason())
	}
	h.waitEmpty()
}

func sortedOf(s ...string) []string {
	slices.Sort(s)
	return s
}
