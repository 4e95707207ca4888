package lrps_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
)

func TestConvergeSteadyState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.freshDomain()
	for _, guid := range []string{"a", "b"} {
		e.desire(guid, 3)
		for i := range int32(3) {
			cell := []string{"cell-a", "cell-b"}[i%2]
			e.claim(guid, i, cell)
			e.start(guid, i, cell)
		}
	}
	e.clock.Advance(time.Hour)
	res, stats := e.converge("cell-a", "cell-b")
	if !res.Empty() {
		t.Fatalf("steady state did something: events %q auctions %q stops %q", events(res), auctions(res), stops(res))
	}
	want := lrps.ConvergeStats{DesiredLRPs: 2, Desired: 6, Running: 6}
	if fmt.Sprint(stats) != fmt.Sprint(want) {
		t.Fatalf("stats = %+v, want %+v", stats, want)
	}
}

func TestConvergeMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("web", 4)
	e.desire("worker", 1)
	must(e.store.RemoveActualLRP(t.Context(), "web", 1, nil))(t)
	must(e.store.RemoveActualLRP(t.Context(), "web", 3, nil))(t)
	must(e.store.RemoveActualLRP(t.Context(), "worker", 0, nil))(t)
	res, stats := e.converge("cell-a")
	wantEvents(t, res, "created web/1 ORDINARY UNCLAIMED", "created web/3 ORDINARY UNCLAIMED", "created worker/0 ORDINARY UNCLAIMED")
	wantAuctions(t, res, "web:[1 3]", "worker:[0]")
	if stats.Missing != 3 || stats.Unclaimed != 5 {
		t.Fatalf("stats = %+v", stats)
	}
	if a := res.LRPAuctions[0]; a.GetMemoryMb() != 256 || a.GetDiskMb() != 1024 || a.GetDomain() != domain {
		t.Fatalf("auction = %v", a)
	}
	res, _ = e.converge("cell-a")
	if !res.Empty() {
		t.Fatalf("second pass: %q", events(res))
	}
}

// extrasSetup desires web with 4 instances: 0 running on cell-a, 1
// claimed on cell-b, 2 unclaimed, 3 running on cell-gone; then drops the
// desired count to 1 behind the store's back.
func extrasSetup(e *env) {
	e.desire("web", 4)
	e.claim("web", 0, "cell-a")
	e.start("web", 0, "cell-a")
	e.claim("web", 1, "cell-b")
	e.claim("web", 3, "cell-gone")
	e.start("web", 3, "cell-gone")
}

func TestConvergeExtras(t *testing.T) {
	t.Parallel()
	for _, fresh := range []bool{true, false} {
		t.Run(fmt.Sprintf("fresh=%v", fresh), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if fresh {
				e.freshDomain()
			}
			extrasSetup(e)
			e.exec(`UPDATE desired_lrps SET instances = 1`)
			res, stats := e.converge("cell-a", "cell-b")
			if !fresh {
				if !res.Empty() || stats.Extra != 0 {
					t.Fatalf("stale domain: %q %q %+v", events(res), stops(res), stats)
				}
				return
			}
			wantEvents(t, res, "removed web/2 ORDINARY UNCLAIMED", "removed web/3 ORDINARY RUNNING")
			wantStops(t, res, "web/1@cell-b")
			wantAuctions(t, res)
			if stats.Extra != 3 || stats.Claimed != 1 || stats.Running != 1 || stats.Unclaimed != 0 {
				t.Fatalf("stats = %+v", stats)
			}
		})
	}
}

func TestConvergeOrphans(t *testing.T) {
	t.Parallel()
	for _, fresh := range []bool{true, false} {
		t.Run(fmt.Sprintf("fresh=%v", fresh), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if fresh {
				e.freshDomain()
			}
			extrasSetup(e)
			e.exec(`DELETE FROM desired_lrps`)
			res, stats := e.converge("cell-a", "cell-b")
			if !fresh {
				if !res.Empty() {
					t.Fatalf("stale domain: %q %q", events(res), stops(res))
				}
				if stats.Running != 2 || stats.Claimed != 1 || stats.Unclaimed != 1 || len(stats.MissingCells) != 1 {
					t.Fatalf("stats = %+v", stats)
				}
				return
			}
			wantEvents(t, res, "removed web/2 ORDINARY UNCLAIMED", "removed web/3 ORDINARY RUNNING")
			wantStops(t, res, "web/0@cell-a", "web/1@cell-b")
			wantAuctions(t, res)
			if stats.Extra != 4 || stats.DesiredLRPs != 0 {
				t.Fatalf("stats = %+v", stats)
			}
		})
	}
}

// TestConvergeExpiredDomain: once the domain expires, orphans are kept.
func TestConvergeExpiredDomain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	must(0, e.store.UpsertDomain(t.Context(), domain, time.Minute))(t)
	e.desire("web", 1)
	e.exec(`DELETE FROM desired_lrps`)
	e.clock.Advance(time.Minute)
	if res, _ := e.converge(); !res.Empty() {
		t.Fatalf("retired in an expired domain: %q", events(res))
	}
}

func TestConvergeStaleUnclaimed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("web", 2)
	e.claim("web", 1, "cell-a")
	before := e.ord("web", 0)
	e.clock.Advance(29 * time.Second)
	if res, _ := e.converge("cell-a"); !res.Empty() {
		t.Fatalf("too early: %q", auctions(res))
	}
	e.clock.Advance(time.Second)
	for range 2 {
		res, stats := e.converge("cell-a")
		wantAuctions(t, res, "web:[0]")
		wantEvents(t, res)
		if stats.StaleUnclaimed != 1 {
			t.Fatalf("stats = %+v", stats)
		}
		if after := e.ord("web", 0); !proto.Equal(after, before) {
			t.Fatalf("stale unclaimed record changed: %v", after)
		}
	}
}

// cellLossSetup: web/0 running on cell-a, web/1 claimed on cell-a, web/2
// running on cell-b; then cell-a is lost.
func cellLossSetup(t *testing.T, e *env) {
	t.Helper()
	e.desire("web", 3)
	e.claim("web", 0, "cell-a")
	e.start("web", 0, "cell-a")
	e.claim("web", 1, "cell-a")
	e.claim("web", 2, "cell-b")
	e.start("web", 2, "cell-b")
	res, stats := e.converge("cell-b")
	wantEvents(t, res,
		"changed web/0 ORDINARY RUNNING -> SUSPECT RUNNING",
		"created web/0 ORDINARY UNCLAIMED",
		"changed web/1 ORDINARY CLAIMED -> ORDINARY UNCLAIMED")
	wantAuctions(t, res, "web:[0 1]")
	if stats.Suspect != 1 || stats.Rescheduled != 2 || fmt.Sprint(stats.MissingCells) != "[cell-a]" ||
		stats.Running != 1 || stats.Unclaimed != 2 {
		t.Fatalf("stats = %+v", stats)
	}
}

func TestConvergeCellLoss(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cellLossSetup(t, e)
	sus := e.slot("web", 0)[suspect]
	if sus.GetInstanceKey().GetCellId() != "cell-a" || sus.GetNetInfo() == nil || !sus.GetRoutable() {
		t.Fatalf("suspect = %v", sus)
	}
	// Nothing more to do while cell-a stays away.
	if res, _ := e.converge("cell-b"); !res.Empty() {
		t.Fatalf("second pass: %q", events(res))
	}
	// The replacement runs: the suspect goes (StartActualLRP).
	e.claim("web", 0, "cell-b")
	res := e.start("web", 0, "cell-b")
	wantEvents(t, res, "changed web/0 ORDINARY CLAIMED -> ORDINARY RUNNING", "removed web/0 SUSPECT RUNNING")
}

func TestConvergeCellBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		replacement func(e *env) // what happened to web/0's replacement meanwhile
		events      []string
		stops       []string
		wantCell    string
	}{
		{"replacement unclaimed", func(*env) {},
			[]string{"removed web/0 ORDINARY UNCLAIMED", "changed web/0 SUSPECT RUNNING -> ORDINARY RUNNING"}, nil, "cell-a"},
		{"replacement claimed", func(e *env) { e.claim("web", 0, "cell-c") },
			[]string{"removed web/0 ORDINARY CLAIMED", "changed web/0 SUSPECT RUNNING -> ORDINARY RUNNING"}, []string{"web/0@cell-c"}, "cell-a"},
		{"replacement removed", func(e *env) { must(e.store.RemoveActualLRP(e.t.Context(), "web", 0, nil))(e.t) },
			[]string{"changed web/0 SUSPECT RUNNING -> ORDINARY RUNNING"}, nil, "cell-a"},
		{"replacement running", func(e *env) {
			// A state StartActualLRP never leaves, but a race can.
			e.exec(`UPDATE actual_lrps SET state = 3, cell_id = 'cell-c', instance_guid = 'ig-cell-c'
				WHERE process_guid = 'web' AND instance_index = 0 AND presence = 1`)
		}, []string{"removed web/0 SUSPECT RUNNING"}, []string{"web/0@cell-a"}, "cell-c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			cellLossSetup(t, e)
			sus := e.slot("web", 0)[suspect]
			tt.replacement(e)
			res, stats := e.converge("cell-a", "cell-b", "cell-c")
			wantEvents(t, res, tt.events...)
			wantStops(t, res, tt.stops...)
			sl := e.slot("web", 0)
			if sl[suspect] != nil || sl[ordinary].GetInstanceKey().GetCellId() != tt.wantCell || stats.Suspect != 0 {
				t.Fatalf("slot = %v, stats %+v", sl, stats)
			}
			if tt.wantCell == "cell-a" {
				o := sl[ordinary]
				if o.GetState() != running || o.GetModificationTag().GetEpoch() != sus.GetModificationTag().GetEpoch() ||
					o.GetModificationTag().GetIndex() != sus.GetModificationTag().GetIndex()+1 || !proto.Equal(o.GetNetInfo(), sus.GetNetInfo()) {
					t.Fatalf("promoted = %v, suspect was %v", o, sus)
				}
			}
		})
	}
}

// TestConvergeSuspectReplacementRunningCellStillGone: the suspect goes
// when its replacement runs, without a stop to its unreachable cell.
func TestConvergeSuspectReplacementRunningCellStillGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cellLossSetup(t, e)
	e.exec(`UPDATE actual_lrps SET state = 3, cell_id = 'cell-b', instance_guid = 'ig-cell-b'
		WHERE process_guid = 'web' AND instance_index = 0 AND presence = 1`)
	res, _ := e.converge("cell-b")
	wantEvents(t, res, "removed web/0 SUSPECT RUNNING")
	wantStops(t, res)
}

// TestConvergeReplacementCellLostToo: web/0's replacement runs on cell-b,
// and cell-b goes too: the old suspect goes and the replacement becomes
// the suspect.
func TestConvergeReplacementCellLostToo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cellLossSetup(t, e)
	e.exec(`UPDATE actual_lrps SET state = 3, cell_id = 'cell-b', instance_guid = 'ig-cell-b', since = $1
		WHERE process_guid = 'web' AND instance_index IN (0, 1) AND presence = 1`, e.clock.Now().UnixNano())
	res, stats := e.converge()
	wantEvents(t, res,
		"removed web/0 SUSPECT RUNNING",
		"changed web/0 ORDINARY RUNNING -> SUSPECT RUNNING", "created web/0 ORDINARY UNCLAIMED",
		"changed web/1 ORDINARY RUNNING -> SUSPECT RUNNING", "created web/1 ORDINARY UNCLAIMED",
		"changed web/2 ORDINARY RUNNING -> SUSPECT RUNNING", "created web/2 ORDINARY UNCLAIMED")
	wantAuctions(t, res, "web:[0 1 2]")
	if stats.Suspect != 3 || stats.Unclaimed != 3 || fmt.Sprint(stats.MissingCells) != "[cell-b]" {
		t.Fatalf("stats = %+v", stats)
	}
	if got := e.slot("web", 0)[suspect].GetInstanceKey().GetCellId(); got != "cell-b" {
		t.Fatalf("suspect on %q", got)
	}
}

func TestConvergeSuspectNotDesired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.freshDomain()
	cellLossSetup(t, e)
	e.exec(`UPDATE desired_lrps SET instances = 0`)
	res, stats := e.converge("cell-b", "cell-a")
	wantEvents(t, res, "removed web/0 SUSPECT RUNNING", "removed web/0 ORDINARY UNCLAIMED", "removed web/1 ORDINARY UNCLAIMED")
	wantStops(t, res, "web/0@cell-a", "web/2@cell-b")
	if stats.Suspect != 0 || stats.Extra != 3 {
		t.Fatalf("stats = %+v", stats)
	}
}

func TestConvergeEvacuatingCellGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("ev", running)
	e.evacuateRunning("ev", "cell-a", true)
	if res, stats := e.converge("cell-a"); !res.Empty() || stats.Evacuating != 1 {
		t.Fatalf("evacuating cell present: %q %+v", events(res), stats)
	}
	res, stats := e.converge("cell-b")
	wantEvents(t, res, "removed ev/0 EVACUATING RUNNING")
	if stats.Evacuating != 0 {
		t.Fatalf("stats = %+v", stats)
	}
}

// TestConvergeConcurrentWithCells runs convergence passes while cells
// claim, start and crash instances, and checks that nothing fails and that
// every slot ends up with exactly one ordinary record.
func TestConvergeConcurrentWithCells(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.freshDomain()
	const lrpCount, instances = 10, 5
	for i := range lrpCount {
		e.desire(fmt.Sprintf("lrp-%d", i), instances)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	cells := []string{"cell-a", "cell-b", "cell-c"}
	for w, cell := range cells {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for ctx.Err() == nil {
				guid := fmt.Sprintf("lrp-%d", rng.IntN(lrpCount))
				index := int32(rng.IntN(instances))
				var err error
				switch rng.IntN(4) {
				case 0:
					_, err = e.store.ClaimActualLRP(ctx, guid, index, ik(cell))
				case 1:
					_, err = e.store.StartActualLRP(ctx, startReq(guid, index, cell))
				case 2:
					_, err = e.store.CrashActualLRP(ctx, lrpKey(guid, index), ik(cell), "boom")
				case 3:
					_, err = e.store.RemoveActualLRP(ctx, guid, index, ik(cell))
				}
				switch bbsv1.ErrorTypeOf(err) {
				case errTransition, errNotFound:
				case errNone:
					if err != nil && ctx.Err() == nil {
						t.Errorf("cell call: %v", err)
						return
					}
				default:
					t.Errorf("cell call: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			// cell-c comes and goes.
			in := lrps.ConvergeInput{Cells: map[string]bool{"cell-a": true, "cell-b": true, "cell-c": rand.IntN(2) == 0}}
			if _, _, err := e.store.Converge(ctx, in); err != nil && ctx.Err() == nil {
				t.Errorf("converge: %v", err)
				return
			}
		}
	})
	wg.Wait()
	for range 2 {
		e.converge(cells...)
	}
	for i := range lrpCount {
		for index := range int32(instances) {
			if e.ord(fmt.Sprintf("lrp-%d", i), index) == nil {
				t.Errorf("lrp-%d/%d has no ordinary record", i, index)
			}
		}
	}
}
