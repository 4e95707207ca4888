package diego

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// recordingAppLogs records API log lines.
type recordingAppLogs struct {
	mu    sync.Mutex
	lines []string
}

func (r *recordingAppLogs) AppLog(_ context.Context, app, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, app+" "+message)
}

func (r *recordingAppLogs) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

func TestCrashWritesAPILines(t *testing.T) {
	logs := &recordingAppLogs{}
	e := newEnv(t, func(d *Deps) { d.AppLogs = logs })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.syncer.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 10*time.Second, func() error {
		if e.bbs.subscribers() == 0 || len(e.lrpsOf(e.web.GUID)) != 1 {
			return fmt.Errorf("not ready")
		}
		return nil
	})
	lrp := e.only(t, e.web.GUID).ProcessGuid
	crash := func(a *bbsv1.ActualLRP) {
		a.State, a.CrashCount, a.CrashReason, a.Since = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED, 1, "Exited with status 2", 42
		a.InstanceKey = &bbsv1.ActualLRPInstanceKey{InstanceGuid: "inst-1", CellId: "cell-z"}
	}
	e.bbs.setActual(crash, lrp, 0)
	e.bbs.setActual(crash, lrp, 0) // a replay writes nothing
	e.bbs.setActual(func(a *bbsv1.ActualLRP) { a.CrashCount = 2 }, lrp, 0)
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := len(logs.get()); n < 4 {
			return fmt.Errorf("%d lines", n)
		}
		return nil
	})
	lines := logs.get()
	if len(lines) != 4 {
		t.Fatalf("lines %q, want two per crash", lines)
	}
	if want := e.app.GUID + ` Process has crashed with type: "web"`; lines[0] != want {
		t.Errorf("line %q, want %q", lines[0], want)
	}
	want := e.app.GUID + " App instance exited with guid " + e.app.GUID + ` payload: {"instance"=>"inst-1", "index"=>0, "cell_id"=>"cell-z", "reason"=>"CRASHED", "exit_description"=>"Exited with status 2", "crash_count"=>1, "crash_timestamp"=>42, "version"=>"`
	if !strings.HasPrefix(lines[1], want) {
		t.Errorf("line %q, want prefix %q", lines[1], want)
	}
}
