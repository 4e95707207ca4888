package lrps_test

import (
	"fmt"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

func TestDesireLRP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := desiredLRP("web", 3)
	res := must(e.store.DesireLRP(t.Context(), d))(t)
	wantEvents(t, res, "desired_created web",
		"created web/0 ORDINARY UNCLAIMED", "created web/1 ORDINARY UNCLAIMED", "created web/2 ORDINARY UNCLAIMED")
	wantAuctions(t, res, "web:[0 1 2]")
	if a := res.LRPAuctions[0]; a.GetMemoryMb() != 256 || a.GetRootFs() != "preloaded:cflinuxfs4" || len(a.GetPlacementTags()) != 1 {
		t.Fatalf("auction = %v", a)
	}
	if d.GetModificationTag() != nil || d.GetCreatedAt() != 0 {
		t.Fatal("DesireLRP modified its argument")
	}

	got := must(e.store.DesiredLRP(t.Context(), "web"))(t)
	if got.GetModificationTag().GetEpoch() == "" || got.GetModificationTag().GetIndex() != 0 {
		t.Fatalf("modification tag = %v", got.GetModificationTag())
	}
	if got.GetCreatedAt() != e.clock.Now().UnixNano() {
		t.Fatalf("created_at = %d", got.GetCreatedAt())
	}
	want := proto.Clone(d).(*bbsv1.DesiredLRP)
	want.ModificationTag, want.CreatedAt = got.GetModificationTag(), got.GetCreatedAt()
	if !proto.Equal(got, want) {
		t.Fatalf("stored desired lrp:\n%v\nwant\n%v", got, want)
	}
	if ev := res.Events[0].GetDesiredLrpCreated().GetDesiredLrp(); !proto.Equal(ev, models.SchedulingInfo(got)) {
		t.Fatalf("event = %v", ev)
	}
	for i := range int32(3) {
		a := e.ord("web", i)
		if a.GetState() != unclaimed || a.GetSince() != e.clock.Now().UnixNano() || a.GetKey().GetDomain() != domain ||
			a.GetModificationTag().GetEpoch() == "" {
			t.Fatalf("instance %d = %v", i, a)
		}
	}

	_, err := e.store.DesireLRP(t.Context(), d)
	wantErr(t, err, errExists)

	bad := desiredLRP("bad guid!", 1)
	bad.RootFs = ""
	_, err = e.store.DesireLRP(t.Context(), bad)
	wantErr(t, err, errInvalid)
	_, err = e.store.DesireLRP(t.Context(), nil)
	wantErr(t, err, errInvalid)

	_, err = e.store.DesiredLRP(t.Context(), "nope")
	wantErr(t, err, errNotFound)
}

func TestDesiredLRPLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("a", 1)
	e.desire("b", 2)
	other := desiredLRP("c", 1)
	other.Domain = "other"
	must(e.store.DesireLRP(t.Context(), other))(t)

	tests := []struct {
		name   string
		filter *bbsv1.DesiredLRPFilter
		want   []string
	}{
		{"all", nil, []string{"a", "b", "c"}},
		{"domain", &bbsv1.DesiredLRPFilter{Domain: domain}, []string{"a", "b"}},
		{"guids", &bbsv1.DesiredLRPFilter{ProcessGuids: []string{"c", "a", "x"}}, []string{"a", "c"}},
		{"domain and guids", &bbsv1.DesiredLRPFilter{Domain: "other", ProcessGuids: []string{"a", "c"}}, []string{"c"}},
	}
	for _, tt := range tests {
		ds := must(e.store.DesiredLRPs(t.Context(), tt.filter))(t)
		infos := must(e.store.SchedulingInfos(t.Context(), tt.filter))(t)
		var got, gotInfos []string
		for _, d := range ds {
			got = append(got, d.GetProcessGuid())
		}
		for i, si := range infos {
			gotInfos = append(gotInfos, si.GetProcessGuid())
			if !proto.Equal(si, models.SchedulingInfo(ds[i])) {
				t.Errorf("%s: scheduling info\n%v\nwant\n%v", tt.name, si, models.SchedulingInfo(ds[i]))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || fmt.Sprint(gotInfos) != fmt.Sprint(tt.want) {
			t.Errorf("%s: desired %v, infos %v, want %v", tt.name, got, gotInfos, tt.want)
		}
	}
}

// TestSchedulingInfosSkipRunInfo shows that scheduling infos never read
// run_info: they still list when it is unreadable.
func TestSchedulingInfosSkipRunInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("a", 1)
	e.exec(`UPDATE desired_lrps SET run_info = '\xff'`)
	infos := must(e.store.SchedulingInfos(t.Context(), nil))(t)
	if len(infos) != 1 || string(infos[0].GetRoutes()["cf-router"]) == "" {
		t.Fatalf("infos = %v", infos)
	}
	if _, err := e.store.DesiredLRPs(t.Context(), nil); err == nil {
		t.Fatal("DesiredLRPs decoded a corrupt run_info")
	}
	if _, _, err := e.store.Converge(t.Context(), convergeAll()); err != nil {
		t.Fatalf("convergence read run_info: %v", err)
	}
}

func TestUpdateDesiredLRP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("web", 2)
	e.claim("web", 1, "cell-a")
	d := must(e.store.DesiredLRP(t.Context(), "web"))(t)
	tag := d.GetModificationTag()

	// Scale up, change routes and annotation.
	three := int32(4)
	note := "v2"
	after, res, err := e.store.UpdateDesiredLRP(t.Context(), "web", &bbsv1.DesiredLRPUpdate{
		Instances:     &three,
		Routes:        map[string][]byte{"tcp-router": []byte("[]")},
		SetRoutes:     true,
		Annotation:    &note,
		MetricTags:    map[string]string{"x": "y"},
		SetMetricTags: true,
	}, tag)
	wantErr(t, err, errNone)
	wantEvents(t, res, "desired_changed web", "created web/2 ORDINARY UNCLAIMED", "created web/3 ORDINARY UNCLAIMED")
	wantAuctions(t, res, "web:[2 3]")
	if after.GetInstances() != 4 || after.GetAnnotation() != "v2" || len(after.GetRoutes()) != 1 || after.GetMetricTags()["x"] != "y" ||
		after.GetModificationTag().GetIndex() != 1 || after.GetModificationTag().GetEpoch() != tag.GetEpoch() {
		t.Fatalf("after = %v", after)
	}
	if stored := must(e.store.DesiredLRP(t.Context(), "web"))(t); !proto.Equal(stored, after) {
		t.Fatalf("stored %v, returned %v", stored, after)
	}
	ch := res.Events[0].GetDesiredLrpChanged()
	if ch.GetBefore().GetInstances() != 2 || ch.GetAfter().GetInstances() != 4 {
		t.Fatalf("changed event = %v", ch)
	}

	// A stale tag is refused.
	_, _, err = e.store.UpdateDesiredLRP(t.Context(), "web", &bbsv1.DesiredLRPUpdate{Annotation: &note}, tag)
	wantErr(t, err, errConflict)
	_, _, err = e.store.UpdateDesiredLRP(t.Context(), "web", &bbsv1.DesiredLRPUpdate{Annotation: &note},
		&bbsv1.ModificationTag{Epoch: "other", Index: 1})
	wantErr(t, err, errConflict)

	// Scale down to 1 without a tag: index 1 is CLAIMED (stopped on its
	// cell), 2 and 3 are UNCLAIMED (deleted).
	one := int32(1)
	_, res, err = e.store.UpdateDesiredLRP(t.Context(), "web", &bbsv1.DesiredLRPUpdate{Instances: &one}, nil)
	wantErr(t, err, errNone)
	wantEvents(t, res, "desired_changed web", "removed web/2 ORDINARY UNCLAIMED", "removed web/3 ORDINARY UNCLAIMED")
	wantStops(t, res, "web/1@cell-a")
	wantAuctions(t, res)
	if recs := must(e.store.ActualLRPs(t.Context(), nil))(t); len(recs) != 2 {
		t.Fatalf("%d records left, want 2 (index 0 and the claimed index 1)", len(recs))
	}
	if got := must(e.store.DesiredLRP(t.Context(), "web"))(t).GetModificationTag().GetIndex(); got != 2 {
		t.Fatalf("tag index = %d", got)
	}

	_, _, err = e.store.UpdateDesiredLRP(t.Context(), "nope", &bbsv1.DesiredLRPUpdate{}, nil)
	wantErr(t, err, errNotFound)
	tooMany := int32(models.MaxInstances + 1)
	_, _, err = e.store.UpdateDesiredLRP(t.Context(), "web", &bbsv1.DesiredLRPUpdate{Instances: &tooMany}, nil)
	wantErr(t, err, errInvalid)
	_, _, err = e.store.UpdateDesiredLRP(t.Context(), "web", nil, nil)
	wantErr(t, err, errInvalid)
}

// TestUpdateDesiredLRPCompareAndSet runs concurrent updates with the same
// expected tag: exactly one wins.
func TestUpdateDesiredLRPCompareAndSet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("cas", 1)
	tag := must(e.store.DesiredLRP(t.Context(), "cas"))(t).GetModificationTag()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			note := fmt.Sprint(i)
			_, _, errs[i] = e.store.UpdateDesiredLRP(t.Context(), "cas", &bbsv1.DesiredLRPUpdate{Annotation: &note}, tag)
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
		case errConflict:
		default:
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d updates won", won)
	}
}

func TestRemoveDesiredLRP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("web", 3)
	e.claim("web", 1, "cell-a")
	e.claim("web", 2, "cell-b")
	e.start("web", 2, "cell-b")
	res := must(e.store.RemoveDesiredLRP(t.Context(), "web"))(t)
	wantEvents(t, res, "desired_removed web", "removed web/0 ORDINARY UNCLAIMED")
	wantStops(t, res, "web/1@cell-a", "web/2@cell-b")
	if _, err := e.store.DesiredLRP(t.Context(), "web"); bbsv1.ErrorTypeOf(err) != errNotFound {
		t.Fatalf("desired lrp still there: %v", err)
	}
	// The cells remove the stopped instances' records.
	must(e.store.RemoveActualLRP(t.Context(), "web", 1, ik("cell-a")))(t)
	must(e.store.RemoveActualLRP(t.Context(), "web", 2, ik("cell-b")))(t)
	if recs := must(e.store.ActualLRPs(t.Context(), nil))(t); len(recs) != 0 {
		t.Fatalf("records left: %v", recs)
	}
	_, err := e.store.RemoveDesiredLRP(t.Context(), "web")
	wantErr(t, err, errNotFound)
}
