package lrps_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// evacuateRunning evacuates cell's container of guid/0 and checks keep.
func (e *env) evacuateRunning(guid, cell string, wantKeep bool) models.Result {
	e.t.Helper()
	keep, res, err := e.store.EvacuateRunningActualLRP(e.t.Context(), lrpKey(guid, 0), ik(cell), netInfo(cell))
	if err != nil {
		e.t.Fatal(err)
	}
	if keep != wantKeep {
		e.t.Fatalf("keep = %v, want %v", keep, wantKeep)
	}
	return res
}

func TestEvacuateRunningActualLRP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("ev", running)
	before := e.ord("ev", 0)

	// The dance: the container keeps running as EVACUATING while a
	// replacement is placed.
	res := e.evacuateRunning("ev", "cell-a", true)
	wantEvents(t, res, "changed ev/0 ORDINARY RUNNING -> EVACUATING RUNNING", "created ev/0 ORDINARY UNCLAIMED")
	wantAuctions(t, res, "ev:[0]")
	sl := e.slot("ev", 0)
	ev := sl[evacuating]
	if ev.GetInstanceKey().GetCellId() != "cell-a" || ev.GetState() != running ||
		ev.GetModificationTag().GetEpoch() != before.GetModificationTag().GetEpoch() ||
		ev.GetModificationTag().GetIndex() != before.GetModificationTag().GetIndex()+1 {
		t.Fatalf("evacuating = %v (was %v)", ev, before)
	}
	if o := sl[ordinary]; o.GetState() != unclaimed || o.GetModificationTag().GetEpoch() == before.GetModificationTag().GetEpoch() {
		t.Fatalf("replacement = %v", o)
	}

	// Asking again with the same net info changes nothing.
	wantEvents(t, e.evacuateRunning("ev", "cell-a", true))
	// A new net info updates the evacuating record.
	n := netInfo("cell-a")
	n.Ports[0].HostPort = 61009
	_, res, err := e.store.EvacuateRunningActualLRP(t.Context(), lrpKey("ev", 0), ik("cell-a"), n)
	wantErr(t, err, errNone)
	wantEvents(t, res, "changed ev/0 EVACUATING RUNNING -> EVACUATING RUNNING")

	// Another draining cell's container of the same slot is told to stop.
	wantEvents(t, e.evacuateRunning("ev", "cell-c", false))

	// The replacement starts: the evacuating record goes, and the draining
	// cell is then told to stop its container.
	e.claim("ev", 0, "cell-b")
	res = e.start("ev", 0, "cell-b")
	wantEvents(t, res, "changed ev/0 ORDINARY CLAIMED -> ORDINARY RUNNING", "removed ev/0 EVACUATING RUNNING")
	wantEvents(t, e.evacuateRunning("ev", "cell-a", false))
}

func TestEvacuateRunningReplacementRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("ev", running)
	e.evacuateRunning("ev", "cell-a", true)
	e.claim("ev", 0, "cell-b")
	e.start("ev", 0, "cell-b")
	// Evacuating record gone already; a straggler evacuating record is
	// removed too.
	e.exec(`INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, instance_guid, cell_id, state, since,
		modification_tag_epoch, modification_tag_index) VALUES ('ev', 0, 2, $1, 'ig-cell-a', 'cell-a', 3, 0, 'e', 0)`, domain)
	res := e.evacuateRunning("ev", "cell-a", false)
	wantEvents(t, res, "removed ev/0 EVACUATING RUNNING")
}

func TestEvacuateRunningNotDesired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("gone", running)
	e.evacuateRunning("gone", "cell-a", true)
	res := must(e.store.RemoveDesiredLRP(t.Context(), "gone"))(t)
	wantEvents(t, res, "desired_removed gone", "removed gone/0 ORDINARY UNCLAIMED")
	res = e.evacuateRunning("gone", "cell-a", false)
	wantEvents(t, res, "removed gone/0 EVACUATING RUNNING")
	// Nothing at all left: keep false.
	wantEvents(t, e.evacuateRunning("gone", "cell-a", false))

	// Desired removed while its instance still runs (waiting for its stop).
	e.toState("stopping", running)
	must(e.store.RemoveDesiredLRP(t.Context(), "stopping"))(t)
	wantEvents(t, e.evacuateRunning("stopping", "cell-a", false))
}

func TestEvacuateRunningSuspect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("sus", running)
	e.converge() // cell-a lost: SUSPECT + UNCLAIMED replacement
	// cell-a comes back only to drain.
	res := e.evacuateRunning("sus", "cell-a", true)
	wantEvents(t, res, "changed sus/0 SUSPECT RUNNING -> EVACUATING RUNNING")
	sl := e.slot("sus", 0)
	if sl[suspect] != nil || sl[evacuating] == nil || sl[ordinary].GetState() != unclaimed {
		t.Fatalf("slot = %v", sl)
	}
}

func TestEvacuateClaimedActualLRP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("cl", claimed)
	keep, res, err := e.store.EvacuateClaimedActualLRP(t.Context(), lrpKey("cl", 0), ik("cell-a"))
	wantErr(t, err, errNone)
	if keep {
		t.Fatal("keep = true")
	}
	wantEvents(t, res, "changed cl/0 ORDINARY CLAIMED -> ORDINARY UNCLAIMED")
	wantAuctions(t, res, "cl:[0]")
	if o := e.ord("cl", 0); o.GetInstanceKey() != nil || o.GetState() != unclaimed {
		t.Fatalf("ordinary = %v", o)
	}
	_, _, err = e.store.EvacuateClaimedActualLRP(t.Context(), lrpKey("cl", 0), ik("cell-a"))
	wantErr(t, err, errNotFound)

	// An evacuating container's record is removed.
	e.toState("ev", running)
	e.evacuateRunning("ev", "cell-a", true)
	keep, res, err = e.store.EvacuateClaimedActualLRP(t.Context(), lrpKey("ev", 0), ik("cell-a"))
	wantErr(t, err, errNone)
	if keep {
		t.Fatal("keep = true")
	}
	wantEvents(t, res, "removed ev/0 EVACUATING RUNNING")
}

func TestEvacuateStoppedAndCrashed(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	tests := []struct {
		name    string
		setup   func(e *env, guid string)
		crash   bool
		by      string
		wantErr bbsv1.ErrorType
		events  []string
		auction bool
	}{
		{"stopped ordinary", func(e *env, g string) { e.toState(g, running) }, false, "cell-a", errNone,
			[]string{"removed %s/0 ORDINARY RUNNING"}, false},
		{"stopped evacuating", func(e *env, g string) { e.toState(g, running); e.evacuateRunning(g, "cell-a", true) }, false, "cell-a", errNone,
			[]string{"removed %s/0 EVACUATING RUNNING"}, false},
		{"stopped suspect", func(e *env, g string) { e.toState(g, running); e.converge() }, false, "cell-a", errNone,
			[]string{"removed %s/0 SUSPECT RUNNING"}, false},
		{"stopped unknown", func(e *env, g string) { e.toState(g, running) }, false, "cell-b", errNotFound, nil, false},
		{"crashed ordinary", func(e *env, g string) { e.toState(g, running) }, true, "cell-a", errNone,
			[]string{"changed %s/0 ORDINARY RUNNING -> ORDINARY UNCLAIMED"}, true},
		{"crashed evacuating", func(e *env, g string) { e.toState(g, running); e.evacuateRunning(g, "cell-a", true) }, true, "cell-a", errNone,
			[]string{"removed %s/0 EVACUATING RUNNING"}, false},
		{"crashed unknown", func(e *env, g string) { e.toState(g, running) }, true, "cell-b", errNotFound, nil, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base.with(t)
			guid := fmt.Sprintf("evac-%d", i)
			tt.setup(e, guid)
			var (
				keep bool
				res  models.Result
				err  error
			)
			if tt.crash {
				keep, res, err = e.store.EvacuateCrashedActualLRP(t.Context(), lrpKey(guid, 0), ik(tt.by), "oom")
			} else {
				keep, res, err = e.store.EvacuateStoppedActualLRP(t.Context(), lrpKey(guid, 0), ik(tt.by))
			}
			wantErr(t, err, tt.wantErr)
			if keep {
				t.Fatal("keep = true")
			}
			var want []string
			for _, ev := range tt.events {
				want = append(want, fmt.Sprintf(ev, guid))
			}
			wantEvents(t, res, want...)
			if tt.auction {
				wantAuctions(t, res, guid+":[0]")
			}
		})
	}
}

func TestRemoveEvacuatingActualLRP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("ev", running)
	e.evacuateRunning("ev", "cell-a", true)
	ev := e.slot("ev", 0)[evacuating]
	_, err := e.store.RemoveEvacuatingActualLRP(t.Context(), lrpKey("ev", 0), ik("cell-b"))
	wantErr(t, err, errNotFound)
	res := must(e.store.RemoveEvacuatingActualLRP(t.Context(), lrpKey("ev", 0), ik("cell-a")))(t)
	if len(res.Events) != 1 || !proto.Equal(res.Events[0].GetActualLrpRemoved().GetActualLrp(), ev) {
		t.Fatalf("events = %q", events(res))
	}
	_, err = e.store.RemoveEvacuatingActualLRP(t.Context(), lrpKey("ev", 0), ik("cell-a"))
	wantErr(t, err, errNotFound)
}
