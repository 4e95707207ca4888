package lrps_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
)

// none as a starting state means the LRP is not desired at all.
const none = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNSPECIFIED

func TestClaimActualLRP(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	tests := []struct {
		name      string
		from      bbsv1.ActualLRPState
		by        *bbsv1.ActualLRPInstanceKey
		wantErr   bbsv1.ErrorType
		wantState bbsv1.ActualLRPState
		wantCell  string
		events    int
	}{
		{"unclaimed to claimed", unclaimed, ik("cell-a"), errNone, claimed, "cell-a", 1},
		{"claimed again by owner changes nothing", claimed, ik("cell-a"), errNone, claimed, "cell-a", 0},
		{"claimed by another cell", claimed, ik("cell-b"), errTransition, claimed, "cell-a", 0},
		{"running back to claimed by owner", running, ik("cell-a"), errNone, claimed, "cell-a", 1},
		{"running claimed by another cell", running, ik("cell-b"), errTransition, running, "cell-a", 0},
		{"crashed cannot be claimed", crashed, ik("cell-a"), errTransition, crashed, "", 0},
		{"unknown instance", none, ik("cell-a"), errNotFound, none, "", 0},
		{"empty instance key", unclaimed, &bbsv1.ActualLRPInstanceKey{}, errInvalid, unclaimed, "", 0},
		{"instance key without cell", unclaimed, &bbsv1.ActualLRPInstanceKey{InstanceGuid: "ig"}, errInvalid, unclaimed, "", 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base.with(t)
			guid := fmt.Sprintf("claim-%d", i)
			if tt.from != none {
				e.toState(guid, tt.from)
			}
			before := e.ord(guid, 0)
			res, err := e.store.ClaimActualLRP(t.Context(), guid, 0, tt.by)
			wantErr(t, err, tt.wantErr)
			after := e.ord(guid, 0)
			if after.GetState() != tt.wantState || after.GetInstanceKey().GetCellId() != tt.wantCell {
				t.Fatalf("after claim: %v on %q, want %v on %q", after.GetState(), after.GetInstanceKey().GetCellId(), tt.wantState, tt.wantCell)
			}
			if len(res.Events) != tt.events {
				t.Fatalf("events = %q, want %d", events(res), tt.events)
			}
			if tt.events == 0 && before != nil && !proto.Equal(before, after) {
				t.Fatalf("record changed without an event:\n%v\n%v", before, after)
			}
			if tt.events == 1 {
				ch := res.Events[0].GetActualLrpChanged()
				if !proto.Equal(ch.GetBefore(), before) || !proto.Equal(ch.GetAfter(), after) {
					t.Fatalf("event does not carry the stored records:\n%v", ch)
				}
				if after.GetModificationTag().GetIndex() != before.GetModificationTag().GetIndex()+1 ||
					after.GetModificationTag().GetEpoch() != before.GetModificationTag().GetEpoch() {
					t.Fatalf("modification tag %v -> %v", before.GetModificationTag(), after.GetModificationTag())
				}
				if after.GetNetInfo() != nil || after.GetPlacementError() != "" {
					t.Fatalf("claim kept net info or placement error: %v", after)
				}
			}
		})
	}
}

func TestClaimClearsPlacementError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("pe", 1)
	res := must(e.store.FailActualLRP(t.Context(), lrpKey("pe", 0), "insufficient resources: memory"))(t)
	wantEvents(t, res, "changed pe/0 ORDINARY UNCLAIMED -> ORDINARY UNCLAIMED")
	if got := e.ord("pe", 0).GetPlacementError(); got != "insufficient resources: memory" {
		t.Fatalf("placement error = %q", got)
	}
	e.claim("pe", 0, "cell-a")
	if got := e.ord("pe", 0).GetPlacementError(); got != "" {
		t.Fatalf("placement error after claim = %q", got)
	}
}

func TestStartActualLRP(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	tests := []struct {
		name      string
		from      bbsv1.ActualLRPState
		req       func(guid string) lrps.StartRequest
		wantErr   bbsv1.ErrorType
		wantState bbsv1.ActualLRPState
		wantCell  string
		events    []string
	}{
		{"unclaimed to running", unclaimed, func(g string) lrps.StartRequest { return startReq(g, 0, "cell-a") },
			errNone, running, "cell-a", []string{"changed %s/0 ORDINARY UNCLAIMED -> ORDINARY RUNNING"}},
		{"claimed to running", claimed, func(g string) lrps.StartRequest { return startReq(g, 0, "cell-a") },
			errNone, running, "cell-a", []string{"changed %s/0 ORDINARY CLAIMED -> ORDINARY RUNNING"}},
		{"claimed to running by another cell", claimed, func(g string) lrps.StartRequest { return startReq(g, 0, "cell-b") },
			errNone, running, "cell-b", []string{"changed %s/0 ORDINARY CLAIMED -> ORDINARY RUNNING"}},
		{"running again unchanged", running, func(g string) lrps.StartRequest { return startReq(g, 0, "cell-a") },
			errNone, running, "cell-a", nil},
		{"running again with new net info", running, func(g string) lrps.StartRequest {
			r := startReq(g, 0, "cell-a")
			r.NetInfo.Ports[0].HostPort = 61001
			return r
		}, errNone, running, "cell-a", []string{"changed %s/0 ORDINARY RUNNING -> ORDINARY RUNNING"}},
		{"running again not routable", running, func(g string) lrps.StartRequest {
			r := startReq(g, 0, "cell-a")
			r.Routable = false
			return r
		}, errNone, running, "cell-a", []string{"changed %s/0 ORDINARY RUNNING -> ORDINARY RUNNING"}},
		{"running started by another cell", running, func(g string) lrps.StartRequest { return startReq(g, 0, "cell-b") },
			errTransition, running, "cell-a", nil},
		{"crashed cannot be started", crashed, func(g string) lrps.StartRequest { return startReq(g, 0, "cell-a") },
			errTransition, crashed, "", nil},
		{"no record: created running", none, func(g string) lrps.StartRequest { return startReq(g, 0, "cell-a") },
			errNone, running, "cell-a", []string{"created %s/0 ORDINARY RUNNING"}},
		{"other domain", claimed, func(g string) lrps.StartRequest {
			r := startReq(g, 0, "cell-a")
			r.Key.Domain = "other"
			return r
		}, errTransition, claimed, "cell-a", nil},
		{"empty instance key", unclaimed, func(g string) lrps.StartRequest {
			r := startReq(g, 0, "cell-a")
			r.InstanceKey = nil
			return r
		}, errInvalid, unclaimed, "", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base.with(t)
			guid := fmt.Sprintf("start-%d", i)
			if tt.from != none {
				e.toState(guid, tt.from)
			}
			before := e.ord(guid, 0)
			req := tt.req(guid)
			res, err := e.store.StartActualLRP(t.Context(), req)
			wantErr(t, err, tt.wantErr)
			var want []string
			for _, ev := range tt.events {
				want = append(want, fmt.Sprintf(ev, guid))
			}
			wantEvents(t, res, want...)
			after := e.ord(guid, 0)
			if after.GetState() != tt.wantState || after.GetInstanceKey().GetCellId() != tt.wantCell {
				t.Fatalf("after start: %v on %q, want %v on %q", after.GetState(), after.GetInstanceKey().GetCellId(), tt.wantState, tt.wantCell)
			}
			if tt.wantErr != errNone || len(tt.events) == 0 {
				if before != nil && !proto.Equal(before, after) {
					t.Fatalf("record changed:\n%v\n%v", before, after)
				}
				return
			}
			if !proto.Equal(after.GetNetInfo(), req.NetInfo) || after.GetRoutable() != req.Routable || after.GetAvailabilityZone() != req.Zone {
				t.Fatalf("running record %v does not carry the request %v", after, req)
			}
			if before != nil && before.GetState() == running && after.GetSince() != before.GetSince() {
				t.Fatalf("since moved on a RUNNING→RUNNING update")
			}
		})
	}
}

func TestCrashActualLRP(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	tests := []struct {
		name      string
		from      bbsv1.ActualLRPState
		by        string
		wantErr   bbsv1.ErrorType
		wantState bbsv1.ActualLRPState
		auction   bool
	}{
		{"claimed crash restarts at once", claimed, "cell-a", errNone, unclaimed, true},
		{"running crash restarts at once", running, "cell-a", errNone, unclaimed, true},
		{"crash by another instance", running, "cell-b", errTransition, running, false},
		{"claimed crash by another instance", claimed, "cell-b", errTransition, claimed, false},
		{"unclaimed cannot crash", unclaimed, "cell-a", errTransition, unclaimed, false},
		{"crashed cannot crash", crashed, "cell-a", errTransition, crashed, false},
		{"unknown instance", none, "cell-a", errNotFound, none, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base.with(t)
			guid := fmt.Sprintf("crash-%d", i)
			if tt.from != none {
				e.toState(guid, tt.from)
			}
			before := e.ord(guid, 0)
			res, err := e.store.CrashActualLRP(t.Context(), lrpKey(guid, 0), ik(tt.by), "oom")
			wantErr(t, err, tt.wantErr)
			after := e.ord(guid, 0)
			if after.GetState() != tt.wantState {
				t.Fatalf("state = %v, want %v", after.GetState(), tt.wantState)
			}
			if tt.auction {
				wantAuctions(t, res, guid+":[0]")
				if after.GetCrashCount() != 1 || after.GetCrashReason() != "oom" || after.GetInstanceKey() != nil || after.GetNetInfo() != nil {
					t.Fatalf("crashed record = %v", after)
				}
			} else {
				wantAuctions(t, res)
				if before != nil && !proto.Equal(before, after) {
					t.Fatalf("record changed:\n%v\n%v", before, after)
				}
			}
		})
	}
}

func TestFailActualLRP(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	tests := []struct {
		name    string
		from    bbsv1.ActualLRPState
		wantErr bbsv1.ErrorType
	}{
		{"unclaimed", unclaimed, errNone},
		{"claimed", claimed, errTransition},
		{"running", running, errTransition},
		{"crashed", crashed, errTransition},
		{"unknown", none, errNotFound},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base.with(t)
			guid := fmt.Sprintf("fail-%d", i)
			if tt.from != none {
				e.toState(guid, tt.from)
			}
			_, err := e.store.FailActualLRP(t.Context(), lrpKey(guid, 0), "no cell offers isolation-segment-a")
			wantErr(t, err, tt.wantErr)
			if tt.wantErr == errNone {
				if got := e.ord(guid, 0).GetPlacementError(); got != "no cell offers isolation-segment-a" {
					t.Fatalf("placement error = %q", got)
				}
			}
		})
	}
}

func TestRemoveActualLRP(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	tests := []struct {
		name    string
		from    bbsv1.ActualLRPState
		key     *bbsv1.ActualLRPInstanceKey
		wantErr bbsv1.ErrorType
	}{
		{"own instance", running, ik("cell-a"), errNone},
		{"any instance", running, nil, errNone},
		{"empty key means any", claimed, &bbsv1.ActualLRPInstanceKey{}, errNone},
		{"unclaimed", unclaimed, nil, errNone},
		{"other instance", running, ik("cell-b"), errNotFound},
		{"unknown", none, nil, errNotFound},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base.with(t)
			guid := fmt.Sprintf("remove-%d", i)
			if tt.from != none {
				e.toState(guid, tt.from)
			}
			res, err := e.store.RemoveActualLRP(t.Context(), guid, 0, tt.key)
			wantErr(t, err, tt.wantErr)
			gone := e.ord(guid, 0) == nil
			if tt.from != none && gone != (tt.wantErr == errNone) {
				t.Fatalf("record gone = %v", gone)
			}
			if tt.wantErr == errNone {
				wantEvents(t, res, fmt.Sprintf("removed %s/0 ORDINARY %s", guid, tt.from.String()[len("ACTUAL_LRP_STATE_"):]))
			}
		})
	}
}

func TestRetireActualLRP(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	tests := []struct {
		name     string
		from     bbsv1.ActualLRPState
		wantErr  bbsv1.ErrorType
		deleted  bool
		wantStop bool
	}{
		{"unclaimed is deleted", unclaimed, errNone, true, false},
		{"crashed is deleted", crashed, errNone, true, false},
		{"claimed is stopped", claimed, errNone, false, true},
		{"running is stopped", running, errNone, false, true},
		{"unknown", none, errNotFound, false, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base.with(t)
			guid := fmt.Sprintf("retire-%d", i)
			if tt.from != none {
				e.toState(guid, tt.from)
			}
			res, err := e.store.RetireActualLRP(t.Context(), lrpKey(guid, 0))
			wantErr(t, err, tt.wantErr)
			if tt.wantErr != errNone {
				return
			}
			if gone := e.ord(guid, 0) == nil; gone != tt.deleted {
				t.Fatalf("deleted = %v, want %v", gone, tt.deleted)
			}
			if tt.wantStop {
				wantStops(t, res, guid+"/0@cell-a")
				wantEvents(t, res)
			} else {
				wantStops(t, res)
				if len(res.Events) != 1 || res.Events[0].GetActualLrpRemoved() == nil {
					t.Fatalf("events = %q", events(res))
				}
			}
		})
	}
}

func TestActualLRPsFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("f-1", 3)
	e.desire("f-2", 1)
	e.claim("f-1", 1, "cell-a")
	e.start("f-1", 2, "cell-b")
	one := int32(1)
	tests := []struct {
		name   string
		filter *bbsv1.ActualLRPFilter
		want   int
	}{
		{"nil", nil, 4},
		{"domain", &bbsv1.ActualLRPFilter{Domain: domain}, 4},
		{"other domain", &bbsv1.ActualLRPFilter{Domain: "x"}, 0},
		{"cell", &bbsv1.ActualLRPFilter{CellId: "cell-a"}, 1},
		{"process", &bbsv1.ActualLRPFilter{ProcessGuid: "f-1"}, 3},
		{"process and index", &bbsv1.ActualLRPFilter{ProcessGuid: "f-1", Index: &one}, 1},
	}
	for _, tt := range tests {
		got := must(e.store.ActualLRPs(t.Context(), tt.filter))(t)
		if len(got) != tt.want {
			t.Errorf("%s: %d records, want %d", tt.name, len(got), tt.want)
		}
	}
}

// TestConcurrentClaims has two cells claim the same instance at once:
// exactly one wins.
func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for round := range 20 {
		guid := fmt.Sprintf("race-%d", round)
		e.desire(guid, 1)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, cell := range []string{"cell-a", "cell-b"} {
			wg.Go(func() {
				_, errs[i] = e.store.ClaimActualLRP(context.Background(), guid, 0, ik(cell))
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch bbsv1.ErrorTypeOf(err) {
			case errNone:
				if err != nil {
					t.Fatal(err)
				}
				won++
			case errTransition:
			default:
				t.Fatalf("claim: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d claims won: %v", round, won, errs)
		}
		if got := e.ord(guid, 0); got.GetState() != claimed || got.GetModificationTag().GetIndex() != 1 {
			t.Fatalf("after race: %v", got)
		}
	}
}

// TestConcurrentStartsCreate has two cells start an instance with no record
// at once: one creates it, the other is refused.
func TestConcurrentStartsCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for round := range 10 {
		guid := fmt.Sprintf("start-race-%d", round)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, cell := range []string{"cell-a", "cell-b"} {
			wg.Go(func() {
				_, errs[i] = e.store.StartActualLRP(context.Background(), startReq(guid, 0, cell))
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch bbsv1.ErrorTypeOf(err) {
			case errNone:
				if err != nil {
					t.Fatal(err)
				}
				ok++
			case errTransition:
			default:
				t.Fatalf("start: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d starts succeeded: %v", round, ok, errs)
		}
	}
}

func TestCrashReasonTruncated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("long", running)
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	must(e.store.CrashActualLRP(t.Context(), lrpKey("long", 0), ik("cell-a"), string(long)))(t)
	if got := len(e.ord("long", 0).GetCrashReason()); got != 1024 {
		t.Fatalf("crash reason length = %d", got)
	}
}

// TestSuspectContainerCalls checks that a SUSPECT record's container cannot
// claim or start its slot, and that its crash removes the record.
func TestSuspectContainerCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("sus", running)
	e.converge() // cell-a is gone: its instance becomes SUSPECT
	if e.slot("sus", 0)[suspect] == nil {
		t.Fatal("no suspect record")
	}
	wantEvents(t, e.claim("sus", 0, "cell-a"))
	wantEvents(t, e.start("sus", 0, "cell-a"))
	if got := e.ord("sus", 0); got.GetState() != unclaimed {
		t.Fatalf("ordinary = %v", got)
	}
	res := e.crash("sus", 0, "cell-a")
	wantEvents(t, res, "removed sus/0 SUSPECT RUNNING")
	if e.slot("sus", 0)[suspect] != nil {
		t.Fatal("suspect record survived its crash")
	}
}

// TestStartRemovesSuspect: the replacement running ends the suspect.
func TestStartRemovesSuspect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.toState("rep", running)
	e.converge()
	e.claim("rep", 0, "cell-b")
	res := e.start("rep", 0, "cell-b")
	wantEvents(t, res, "changed rep/0 ORDINARY CLAIMED -> ORDINARY RUNNING", "removed rep/0 SUSPECT RUNNING")
	if len(e.slot("rep", 0)) != 1 {
		t.Fatalf("slot = %v", e.slot("rep", 0))
	}
}
