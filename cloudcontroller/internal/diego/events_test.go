package diego

import (
	"context"
	"fmt"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestCrashBecomesAuditEvents(t *testing.T) {
	e := newEnv(t)
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
		if e.bbs.subscribers() == 0 {
			return fmt.Errorf("not subscribed")
		}
		if len(e.lrpsOf(e.web.GUID)) != 1 {
			return fmt.Errorf("not desired by the first pass")
		}
		return nil
	})
	lrp := e.only(t, e.web.GUID).ProcessGuid
	crash := func(a *bbsv1.ActualLRP) {
		a.State, a.CrashCount, a.CrashReason, a.Since = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED, 1, "Exited with status 2", 42
		a.InstanceKey = &bbsv1.ActualLRPInstanceKey{InstanceGuid: "inst-1", CellId: "cell-z"}
	}
	e.bbs.setActual(crash, lrp, 1)
	// The same crash seen again (another subscriber, a replay) is not
	// recorded twice; a change without a new crash records nothing.
	e.bbs.setActual(crash, lrp, 1)
	e.bbs.setActual(func(a *bbsv1.ActualLRP) { a.Since = 43 }, lrp, 1)

	var events []store.Event
	testenv.Eventually(t, 10*time.Second, func() error {
		f := store.Filter{OrderBy: "created_at"}
		f.In("t.type", []string{"audit.app.process.crash", "app.crash"})
		var err error
		events, _, err = e.st.ListEvents(ctx, f)
		if err != nil {
			return err
		}
		if len(events) < 2 {
			return fmt.Errorf("%d crash events", len(events))
		}
		return nil
	})
	// A second crash of the instance is recorded; by then the repeated
	// first one has been handled too (events are handled in order).
	e.bbs.setActual(func(a *bbsv1.ActualLRP) { a.CrashCount = 2 }, lrp, 1)
	testenv.Eventually(t, 10*time.Second, func() error {
		f := store.Filter{}
		f.In("t.type", []string{"audit.app.process.crash", "app.crash"})
		_, n, err := e.st.ListEvents(ctx, f)
		if err != nil {
			return err
		}
		if n < 4 {
			return fmt.Errorf("%d crash events", n)
		}
		return nil
	})
	f := store.Filter{}
	f.In("t.type", []string{"audit.app.process.crash", "app.crash"})
	if _, n, err := e.st.ListEvents(ctx, f); err != nil || n != 4 {
		t.Fatalf("%d crash events (%v), want 4: two per crash, each once", n, err)
	}
	for _, ev := range events {
		if ev.Target != (store.EventRef{GUID: e.app.GUID, Type: "app", Name: "hello"}) || ev.SpaceGUID != e.space.GUID || ev.OrgGUID != e.org.GUID {
			t.Errorf("%s target/place: %+v", ev.Type, ev)
		}
		d := ev.Data
		if d["instance"] != "inst-1" || d["index"] != float64(1) || d["cell_id"] != "cell-z" || d["exit_description"] != "Exited with status 2" ||
			d["reason"] != "CRASHED" || d["crash_count"] != float64(1) || d["version"] != lrp[37:] {
			t.Errorf("%s data %v", ev.Type, d)
		}
		switch ev.Type {
		case "audit.app.process.crash":
			if ev.Actor != (store.EventRef{GUID: e.web.GUID, Type: "process", Name: "web"}) {
				t.Errorf("process crash actor %+v", ev.Actor)
			}
		case "app.crash":
			if ev.Actor != (store.EventRef{GUID: e.app.GUID, Type: "app", Name: "hello"}) {
				t.Errorf("app crash actor %+v", ev.Actor)
			}
		}
	}
}
