package auction

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/batch"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/placement"
	"github.com/anvilpaas/anvil/internal/testenv"
)

type fixture struct {
	reps  *fakeReps
	bbs   *fakeBBS
	queue *fakeQueue
	r     *Runner
}

func newFixture(t *testing.T, maxRetries int, cells func(*fakeReps) cellList) *fixture {
	t.Helper()
	f := &fixture{reps: newFakeReps(), bbs: &fakeBBS{}, queue: &fakeQueue{}}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	f.r = New(Config{
		StateTimeout: time.Second, PerformTimeout: time.Second,
		MaxRetries: maxRetries, ReportConcurrency: 4,
	}, Deps{Cells: cells(f.reps), Reps: f.reps, BBS: f.bbs, Queue: f.queue, Metrics: m, Logger: testenv.Logger(t)})
	return f
}

func TestAuctionPlacesAndPerforms(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 5, func(r *fakeReps) cellList {
		return cellList{r.add("a", "z1", 4096, 4096, 10), r.add("b", "z2", 4096, 4096, 10)}
	})
	out := f.r.Auction(context.Background(), []batch.Item{lrpItem("p", 0, 256), lrpItem("p", 1, 256), taskItem("t", 256)})
	if want := (Outcome{Cells: 2, StartedLRPs: 2, StartedTasks: 1}); out != want {
		t.Errorf("outcome = %+v, want %+v", out, want)
	}
	// p/0 first, on the lower id (same load); then the task, on the cell
	// that is now emptier; then p/1 in the other zone.
	want := map[string][]string{"addr-a": {"lrp p 0"}, "addr-b": {"lrp p 1", "task t"}}
	if got := f.reps.placed(); !reflect.DeepEqual(got, want) {
		t.Errorf("placed = %v, want %v", got, want)
	}
	for addr, reqs := range f.reps.performed {
		if len(reqs) != 1 {
			t.Errorf("%s got %d Perform calls, want 1", addr, len(reqs))
		}
	}
	if got := f.bbs.reported(); len(got) != 0 {
		t.Errorf("reported %q", got)
	}
	if got := counter(t, f.r.deps.Metrics.lrpStarted); got != 2 {
		t.Errorf("lrp started = %v, want 2", got)
	}
	if got := counter(t, f.r.deps.Metrics.taskStarted); got != 1 {
		t.Errorf("task started = %v, want 1", got)
	}
	if !slices.Equal(f.reps.retained, []string{"addr-a", "addr-b"}) {
		t.Errorf("retained %q", f.reps.retained)
	}
}

func TestAuctionFailuresReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 5, func(r *fakeReps) cellList {
		return cellList{r.add("a", "z1", 1024, 4096, 10)}
	})
	tagged := lrpItem("tagged", 0, 64)
	tagged.LRP.PlacementTags = []string{"gpu"}
	docker := taskItem("docker", 64)
	docker.Task.Definition.RootFs = "docker:///busybox"
	out := f.r.Auction(context.Background(), []batch.Item{lrpItem("big", 0, 2048), taskItem("huge", 4096), tagged, docker, lrpItem("ok", 0, 512)})
	if out.StartedLRPs != 1 || out.FailedLRPs != 2 || out.FailedTasks != 2 || out.Retried != 0 {
		t.Errorf("outcome = %+v", out)
	}
	want := []string{
		"lrp big 0 cf-apps: insufficient resources: memory",
		`lrp tagged 0 cf-apps: found no compatible cell with placement tag "gpu"`,
		"task docker: found no compatible cell for required rootfs",
		"task huge: insufficient resources: memory",
	}
	if got := f.bbs.reported(); !slices.Equal(got, want) {
		t.Errorf("reported\n%q\nwant\n%q", got, want)
	}
	if got := counter(t, f.r.deps.Metrics.lrpFailed) + counter(t, f.r.deps.Metrics.taskFailed); got != 4 {
		t.Errorf("failed counters = %v, want 4", got)
	}
}

func TestRefusedWorkMovesElsewhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		rep        func(*rep)
		wantReason string
	}{
		{"refused", func(r *rep) { r.refuse = []string{"lrp p 0", "task t"} }, "claim failed"},
		{"perform failed", func(r *rep) { r.performErr = errDown }, placement.CellCommunication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 5, func(r *fakeReps) cellList {
				// "a" is much emptier, so it wins both in the first auction.
				return cellList{r.add("a", "z1", 65536, 65536, 100, tt.rep), r.add("b", "z1", 2048, 2048, 10)}
			})
			out := f.r.Auction(context.Background(), []batch.Item{lrpItem("p", 0, 256), taskItem("t", 256)})
			if out.Retried != 2 || out.StartedLRPs+out.StartedTasks != 0 {
				t.Fatalf("first auction: %+v", out)
			}
			retry := f.queue.take()
			for _, it := range retry {
				if it.Attempts != 1 || !slices.Equal(it.Avoid, []string{"a"}) {
					t.Errorf("%s: attempts %d avoid %q, want 1 and [a]", it.Key(), it.Attempts, it.Avoid)
				}
			}
			out = f.r.Auction(context.Background(), retry)
			if out.StartedLRPs != 1 || out.StartedTasks != 1 {
				t.Fatalf("second auction: %+v", out)
			}
			if got := f.reps.placed()["addr-b"]; len(got) != 2 {
				t.Errorf("cell b got %q, want both", got)
			}
			if got := counter(t, f.r.deps.Metrics.retried); got != 2 {
				t.Errorf("retried = %v", got)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cells func(*fakeReps) cellList
		want  []string
	}{
		{"refused everywhere", func(r *fakeReps) cellList {
			refuse := func(x *rep) { x.refuse = []string{"lrp p 0", "task t"} }
			return cellList{r.add("a", "z1", 8192, 8192, 10, refuse), r.add("b", "z1", 8192, 8192, 10, refuse)}
			// The last reason counts: the task went to b, a, then b again
			// (when every cell was avoided, the best of them).
		}, []string{"lrp p 0 cf-apps: claim failed", "task t: refused by cell b"}},
		{"cells unreachable", func(r *fakeReps) cellList {
			return cellList{r.add("a", "z1", 8192, 8192, 10, func(x *rep) { x.stateErr = errDown })}
		}, []string{"lrp p 0 cf-apps: unable to communicate to compatible cells", "task t: unable to communicate to compatible cells"}},
		{"no cells", func(*fakeReps) cellList { return nil },
			[]string{"lrp p 0 cf-apps: unable to communicate to compatible cells", "task t: unable to communicate to compatible cells"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const maxRetries = 2
			f := newFixture(t, maxRetries, tt.cells)
			items := []batch.Item{lrpItem("p", 0, 256), taskItem("t", 256)}
			auctions := 0
			for len(items) > 0 {
				auctions++
				f.r.Auction(context.Background(), items)
				items = f.queue.take()
				if auctions > 10 {
					t.Fatal("work retried forever")
				}
			}
			if auctions != maxRetries+1 {
				t.Errorf("%d auctions, want %d", auctions, maxRetries+1)
			}
			if got := f.bbs.reported(); !slices.Equal(got, tt.want) {
				t.Errorf("reported\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestCellsSkipped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 5, func(r *fakeReps) cellList {
		best := r.add("best", "z1", 65536, 65536, 100, func(x *rep) { x.stateErr = errDown })
		evac := r.add("evac", "z1", 65536, 65536, 100, func(x *rep) { x.state.Evacuating = true })
		liar := r.add("liar", "z1", 65536, 65536, 100, func(x *rep) { x.state.CellId = "someone-else" })
		ok := r.add("ok", "z1", 1024, 1024, 10)
		dup := &bbsv1.CellPresence{CellId: "ok", RepAddress: "addr-elsewhere"}
		noAddr := &bbsv1.CellPresence{CellId: "ghost"}
		return cellList{best, evac, liar, ok, dup, noAddr}
	})
	out := f.r.Auction(context.Background(), []batch.Item{lrpItem("p", 0, 256)})
	if out.Cells != 2 || out.StartedLRPs != 1 {
		t.Errorf("outcome = %+v, want 2 cells answering (evac and ok) and the instance started", out)
	}
	if got := f.reps.placed(); !reflect.DeepEqual(got, map[string][]string{"addr-ok": {"lrp p 0"}}) {
		t.Errorf("placed = %v", got)
	}
	if got := counter(t, f.r.deps.Metrics.stateFailures); got != 2 {
		t.Errorf("state fetch failures = %v, want 2", got)
	}
	if !slices.Equal(f.reps.retained, []string{"addr-best", "addr-evac", "addr-liar", "addr-ok"}) {
		t.Errorf("retained %q", f.reps.retained)
	}
}

func TestReportErrorsDoNotStopTheAuction(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 5, func(r *fakeReps) cellList { return cellList{r.add("a", "z1", 128, 128, 1)} })
	f.bbs.err = errors.New("bbs down")
	out := f.r.Auction(context.Background(), []batch.Item{lrpItem("p", 0, 64), lrpItem("q", 0, 256), taskItem("t", 64)})
	if out.StartedLRPs != 1 || out.FailedLRPs != 1 || out.FailedTasks != 1 {
		t.Errorf("outcome = %+v", out)
	}
	if got := len(f.bbs.reported()); got != 2 {
		t.Errorf("%d reports tried, want 2", got)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	reps := newFakeReps()
	cells := cellList{reps.add("a", "z1", 4096, 4096, 10)}
	q := batch.New(batch.Config{Window: time.Millisecond, FlushSize: 10, MaxQueued: 10})
	r := New(Config{StateTimeout: time.Second, PerformTimeout: time.Second}, Deps{Cells: cells, Reps: reps, BBS: &fakeBBS{}, Queue: q, Logger: testenv.Logger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if err := q.Add([]batch.Item{lrpItem("p", 0, 64)}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if len(reps.placed()["addr-a"]) != 1 {
			return errors.New("not performed yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
