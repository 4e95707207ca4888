package tasks_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
)

func TestDesireTask(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newPool(t), tasks.Options{})
	ctx := t.Context()

	def := definition(callbackURL)
	r, err := s.DesireTask(ctx, "t-1", "cf-apps", def)
	checkErr(t, err, noError)
	if len(r.Events) != 1 || r.Events[0].GetTaskCreated() == nil {
		t.Fatalf("events = %v, want one TaskCreated", r.Events)
	}
	if got := guids(r.TaskAuctions); !slices.Equal(got, []string{"t-1"}) {
		t.Errorf("auctions = %v, want [t-1]", got)
	}
	if len(r.Callbacks)+len(r.TaskCancels) != 0 {
		t.Errorf("result = %s, want only the event and the auction", describe(r))
	}
	want := &bbsv1.Task{TaskGuid: "t-1", Domain: "cf-apps", Definition: def, State: pending,
		CreatedAt: t0.UnixNano(), UpdatedAt: t0.UnixNano()}
	if got := r.Events[0].GetTaskCreated().GetTask(); !proto.Equal(got, want) {
		t.Errorf("created = %v, want %v", got, want)
	}
	if got := get(t, s, "t-1"); !proto.Equal(got, want) {
		t.Errorf("stored = %v, want %v", got, want)
	}

	_, err = s.DesireTask(ctx, "t-1", "cf-apps", definition(""))
	checkErr(t, err, exists)

	for _, tt := range []struct {
		name, guid, domain string
		def                *bbsv1.TaskDefinition
	}{
		{"no guid", "", "cf-apps", definition("")},
		{"bad guid", "t/1", "cf-apps", definition("")},
		{"no domain", "t-2", "", definition("")},
		{"no definition", "t-2", "cf-apps", nil},
		{"no action", "t-2", "cf-apps", &bbsv1.TaskDefinition{RootFs: "preloaded:cflinuxfs4"}},
		{"bad callback", "t-2", "cf-apps", func() *bbsv1.TaskDefinition {
			d := definition("ftp://cc.example/cb")
			return d
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.DesireTask(ctx, tt.guid, tt.domain, tt.def)
			checkErr(t, err, invalid)
		})
	}
}

// TestTransitions runs every request against a task in every state.
func TestTransitions(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newPool(t), tasks.Options{})

	type op func(ctx context.Context, guid string) (models.Result, error)
	start := func(cell string) op {
		return func(ctx context.Context, guid string) (models.Result, error) {
			should, r, err := s.StartTask(ctx, guid, cell)
			if err == nil && should == r.Empty() {
				return r, fmt.Errorf("shouldStart = %v with result %s", should, describe(r))
			}
			return r, err
		}
	}
	cancel := func(ctx context.Context, guid string) (models.Result, error) { return s.CancelTask(ctx, guid) }
	fail := func(ctx context.Context, guid string) (models.Result, error) {
		return s.FailTask(ctx, guid, "no cell fits")
	}
	reject := func(ctx context.Context, guid string) (models.Result, error) { return s.RejectTask(ctx, guid, "full") }
	complete := func(cell string) op {
		return func(ctx context.Context, guid string) (models.Result, error) {
			return s.CompleteTask(ctx, tasks.CompleteRequest{GUID: guid, CellID: cell, Failed: true, FailureReason: "exit 1", Result: "out"})
		}
	}
	resolve := func(ctx context.Context, guid string) (models.Result, error) { return s.ResolvingTask(ctx, guid) }
	del := func(ctx context.Context, guid string) (models.Result, error) { return s.DeleteTask(ctx, guid) }

	const gone = bbsv1.TaskState_TASK_STATE_UNSPECIFIED
	tests := []struct {
		name string
		from bbsv1.TaskState // gone: no such task
		op   op
		err  bbsv1.ErrorType
		to   bbsv1.TaskState // gone: deleted
		// check looks at the Result and the task after a change.
		check func(t *testing.T, guid string, r models.Result, after *bbsv1.Task)
	}{
		{name: "start pending", from: pending, op: start("cell-a"), to: running,
			check: func(t *testing.T, _ string, _ models.Result, after *bbsv1.Task) {
				if after.GetCellId() != "cell-a" {
					t.Errorf("cell = %q, want cell-a", after.GetCellId())
				}
			}},
		{name: "start running on same cell", from: running, op: start("cell-a"), to: running},
		{name: "start running on other cell", from: running, op: start("cell-b"), err: otherCell},
		{name: "start without cell", from: pending, op: start(""), err: invalid},
		{name: "start completed", from: completed, op: start("cell-a"), err: badTransition},
		{name: "start resolving", from: resolving, op: start("cell-a"), err: badTransition},
		{name: "start missing", op: start("cell-a"), err: notFound},

		{name: "cancel pending", from: pending, op: cancel, to: completed, check: failedWith(tasks.ReasonCancelled, "")},
		{name: "cancel running", from: running, op: cancel, to: completed, check: failedWith(tasks.ReasonCancelled, "cell-a")},
		{name: "cancel completed", from: completed, op: cancel, err: badTransition},
		{name: "cancel resolving", from: resolving, op: cancel, err: badTransition},
		{name: "cancel missing", op: cancel, err: notFound},

		{name: "fail pending", from: pending, op: fail, to: completed, check: failedWith("no cell fits", "")},
		{name: "fail running", from: running, op: fail, to: completed, check: failedWith("no cell fits", "cell-a")},
		{name: "fail completed", from: completed, op: fail, err: badTransition},
		{name: "fail resolving", from: resolving, op: fail, err: badTransition},
		{name: "fail missing", op: fail, err: notFound},

		{name: "reject pending", from: pending, op: reject, to: pending, check: rejected},
		{name: "reject running", from: running, op: reject, to: pending, check: rejected},
		{name: "reject completed", from: completed, op: reject, err: badTransition},
		{name: "reject resolving", from: resolving, op: reject, err: badTransition},
		{name: "reject missing", op: reject, err: notFound},

		{name: "complete running", from: running, op: complete("cell-a"), to: completed,
			check: func(t *testing.T, guid string, r models.Result, after *bbsv1.Task) {
				if !after.GetFailed() || after.GetFailureReason() != "exit 1" || after.GetResult() != "out" {
					t.Errorf("after = %v, want failed, exit 1, out", after)
				}
				if after.GetCellId() != "" || after.GetFirstCompletedAt() != t0.UnixNano() {
					t.Errorf("cell %q first_completed_at %d, want none and t0", after.GetCellId(), after.GetFirstCompletedAt())
				}
				if !slices.Equal(guids(r.Callbacks), []string{guid}) || len(r.TaskCancels) != 0 {
					t.Errorf("result = %s, want the callback only", describe(r))
				}
			}},
		{name: "complete from other cell", from: running, op: complete("cell-b"), err: otherCell},
		{name: "complete without cell", from: running, op: complete(""), err: invalid},
		{name: "complete pending", from: pending, op: complete("cell-a"), err: badTransition},
		{name: "complete completed", from: completed, op: complete("cell-a"), err: badTransition},
		{name: "complete resolving", from: resolving, op: complete("cell-a"), err: badTransition},
		{name: "complete missing", op: complete("cell-a"), err: notFound},

		{name: "resolving completed", from: completed, op: resolve, to: resolving,
			check: func(t *testing.T, _ string, r models.Result, _ *bbsv1.Task) {
				if len(r.Callbacks) != 0 {
					t.Errorf("callbacks = %v, want none", guids(r.Callbacks))
				}
			}},
		{name: "resolving pending", from: pending, op: resolve, err: badTransition},
		{name: "resolving running", from: running, op: resolve, err: badTransition},
		{name: "resolving resolving", from: resolving, op: resolve, err: badTransition},
		{name: "resolving missing", op: resolve, err: notFound},

		{name: "delete resolving", from: resolving, op: del, to: gone,
			check: func(t *testing.T, guid string, r models.Result, _ *bbsv1.Task) {
				if got := removals(r); !slices.Equal(got, []string{guid}) || len(r.Events) != 1 {
					t.Errorf("events = %v, want TaskRemoved(%s)", r.Events, guid)
				}
			}},
		{name: "delete pending", from: pending, op: del, err: badTransition},
		{name: "delete running", from: running, op: del, err: badTransition},
		{name: "delete completed", from: completed, op: del, err: badTransition},
		{name: "delete missing", op: del, err: notFound},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			guid := fmt.Sprintf("task-%d", i)
			var before *bbsv1.Task
			if tt.from != gone {
				put(t, s, guid, callbackURL, tt.from)
				before = get(t, s, guid)
			}
			r, err := tt.op(ctx, guid)
			checkErr(t, err, tt.err)
			if tt.err != noError {
				if !r.Empty() {
					t.Errorf("failed request returned %s", describe(r))
				}
				if before != nil && !proto.Equal(get(t, s, guid), before) {
					t.Errorf("failed request changed the task:\nbefore %v\nafter  %v", before, get(t, s, guid))
				}
				return
			}
			var after *bbsv1.Task
			if tt.to == gone {
				_, err := s.Task(ctx, guid)
				checkErr(t, err, notFound)
			} else {
				after = get(t, s, guid)
				if after.GetState() != tt.to {
					t.Fatalf("state = %v, want %v", after.GetState(), tt.to)
				}
				switch cs := changes(r); {
				case proto.Equal(after, before):
					if !r.Empty() {
						t.Errorf("no-op returned %s", describe(r))
					}
				case len(cs) != 1 || len(r.Events) != 1:
					t.Errorf("events = %v, want one TaskChanged", r.Events)
				case !proto.Equal(cs[0].GetBefore(), before) || !proto.Equal(cs[0].GetAfter(), after):
					t.Errorf("TaskChanged\nbefore %v\nafter  %v\nwant\nbefore %v\nafter  %v",
						cs[0].GetBefore(), cs[0].GetAfter(), before, after)
				}
			}
			if tt.check != nil {
				tt.check(t, guid, r, after)
			}
		})
	}
}

// failedWith checks a task completed as failed with reason, and that its
// cell, if any, is asked to stop it.
func failedWith(reason, cell string) func(t *testing.T, guid string, r models.Result, after *bbsv1.Task) {
	return func(t *testing.T, guid string, r models.Result, after *bbsv1.Task) {
		t.Helper()
		if !after.GetFailed() || after.GetFailureReason() != reason || after.GetCellId() != "" {
			t.Errorf("after = %v, want failed with %q and no cell", after, reason)
		}
		if !slices.Equal(guids(r.Callbacks), []string{guid}) {
			t.Errorf("callbacks = %v, want [%s]", guids(r.Callbacks), guid)
		}
		var want []models.CancelTask
		if cell != "" {
			want = []models.CancelTask{{TaskGUID: guid, CellID: cell}}
		}
		if !slices.Equal(r.TaskCancels, want) {
			t.Errorf("cancels = %v, want %v", r.TaskCancels, want)
		}
		if len(r.TaskAuctions) != 0 {
			t.Errorf("auctions = %v, want none", guids(r.TaskAuctions))
		}
	}
}

func rejected(t *testing.T, guid string, r models.Result, after *bbsv1.Task) {
	t.Helper()
	if after.GetRejectionCount() != 1 || after.GetRejectionReason() != "full" || after.GetCellId() != "" || after.GetFailed() {
		t.Errorf("after = %v, want one rejection, no cell", after)
	}
	if !slices.Equal(guids(r.TaskAuctions), []string{guid}) || len(r.Callbacks) != 0 {
		t.Errorf("result = %s, want an auction only", describe(r))
	}
}

func TestRejectTaskFailsAfterMaxRetries(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	tests := []struct {
		name       string
		maxRetries int
		// survives is how many rejections leave the task PENDING.
		survives int
	}{
		{"default is three retries", 0, 3},
		{"one retry", 1, 1},
		{"no retries", -1, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newStore(t, pool, tasks.Options{MaxRetries: tt.maxRetries})
			ctx := t.Context()
			guid := fmt.Sprintf("reject-%d", i)
			put(t, s, guid, callbackURL, pending)
			for n := 1; n <= tt.survives; n++ {
				if n%2 == 0 { // rejections come from PENDING and RUNNING
					if _, _, err := s.StartTask(ctx, guid, "cell-a"); err != nil {
						t.Fatal(err)
					}
				}
				r, err := s.RejectTask(ctx, guid, fmt.Sprintf("rejection %d", n))
				checkErr(t, err, noError)
				task := get(t, s, guid)
				if task.GetState() != pending || int(task.GetRejectionCount()) != n || len(r.TaskAuctions) != 1 {
					t.Fatalf("after rejection %d: %v, %s; want PENDING, auctioned", n, task, describe(r))
				}
			}
			last := fmt.Sprintf("rejection %d", tt.survives+1)
			r, err := s.RejectTask(ctx, guid, last)
			checkErr(t, err, noError)
			task := get(t, s, guid)
			if task.GetState() != completed || !task.GetFailed() || task.GetFailureReason() != last ||
				int(task.GetRejectionCount()) != tt.survives+1 || task.GetRejectionReason() != last {
				t.Fatalf("after the last rejection: %v; want COMPLETED, failed with %q", task, last)
			}
			if len(r.TaskAuctions) != 0 || !slices.Equal(guids(r.Callbacks), []string{guid}) || len(changes(r)) != 1 {
				t.Errorf("result = %s, want one change and the callback", describe(r))
			}
		})
	}
}

func TestCompleteTaskCleansResultAndReason(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newPool(t), tasks.Options{})
	euro := "€" // 3 bytes
	tests := []struct {
		name, result, reason string
		wantResult           string
		wantReasonLen        int
	}{
		{name: "short", result: "droplet-guid", reason: "exit 1", wantResult: "droplet-guid", wantReasonLen: 6},
		{name: "exactly the limit", result: strings.Repeat("r", models.MaxResultBytes), wantResult: strings.Repeat("r", models.MaxResultBytes)},
		{name: "one byte over", result: strings.Repeat("r", models.MaxResultBytes+1), wantResult: strings.Repeat("r", models.MaxResultBytes)},
		{name: "cut inside a rune",
			// 10238 bytes, then a rune across the limit: it is dropped whole.
			result:     strings.Repeat("r", models.MaxResultBytes-2) + euro + "tail",
			wantResult: strings.Repeat("r", models.MaxResultBytes-2)},
		{name: "NUL bytes dropped", result: "a\x00b", wantResult: "ab"},
		{name: "long reason", reason: strings.Repeat("x", 5000), wantReasonLen: 1024},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			guid := fmt.Sprintf("complete-%d", i)
			put(t, s, guid, "", running)
			r, err := s.CompleteTask(t.Context(), tasks.CompleteRequest{GUID: guid, CellID: "cell-a",
				Failed: tt.reason != "", FailureReason: tt.reason, Result: tt.result})
			checkErr(t, err, noError)
			task := get(t, s, guid)
			if task.GetResult() != tt.wantResult {
				t.Errorf("result is %d bytes, want %d", len(task.GetResult()), len(tt.wantResult))
			}
			if !utf8.ValidString(task.GetResult()) {
				t.Errorf("result is not valid UTF-8")
			}
			if got := len(task.GetFailureReason()); got != tt.wantReasonLen {
				t.Errorf("failure reason is %d bytes, want %d", got, tt.wantReasonLen)
			}
			if after := changes(r)[0].GetAfter(); !proto.Equal(after, task) {
				t.Errorf("event after = %v, stored %v", after, task)
			}
			// No callback URL: nothing to deliver.
			if len(r.Callbacks) != 0 {
				t.Errorf("callbacks = %v for a task without a URL", guids(r.Callbacks))
			}
		})
	}
}

func TestTasksFilters(t *testing.T) {
	t.Parallel()
	s, clk := newStore(t, newPool(t), tasks.Options{})
	ctx := t.Context()
	for _, d := range []struct{ guid, domain, cell string }{
		{"a", "cf-apps", "cell-1"},
		{"b", "cf-apps", "cell-2"},
		{"c", "staging", "cell-1"},
		{"d", "staging", ""},
	} {
		clk.Advance(1) // created_at orders the list
		if _, err := s.DesireTask(ctx, d.guid, d.domain, definition("")); err != nil {
			t.Fatal(err)
		}
		if d.cell != "" {
			if _, _, err := s.StartTask(ctx, d.guid, d.cell); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		domain, cell string
		want         []string
	}{
		{"", "", []string{"a", "b", "c", "d"}},
		{"cf-apps", "", []string{"a", "b"}},
		{"", "cell-1", []string{"a", "c"}},
		{"staging", "cell-1", []string{"c"}},
		{"nope", "", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("domain=%q,cell=%q", tt.domain, tt.cell), func(t *testing.T) {
			t.Parallel()
			got, err := s.Tasks(ctx, tt.domain, tt.cell)
			checkErr(t, err, noError)
			if !slices.Equal(guids(got), tt.want) {
				t.Errorf("Tasks(%q, %q) = %v, want %v", tt.domain, tt.cell, guids(got), tt.want)
			}
		})
	}
}

// TestStartTaskRace starts one task from many cells at once: the row lock
// lets exactly one win, and every other sees RUNNING_ON_DIFFERENT_CELL.
func TestStartTaskRace(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newPool(t), tasks.Options{})
	put(t, s, "race", "", pending)
	const cells = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		errs    = map[bbsv1.ErrorType]int{}
	)
	for i := range cells {
		wg.Go(func() {
			cell := fmt.Sprintf("cell-%d", i)
			should, _, err := s.StartTask(context.Background(), "race", cell)
			mu.Lock()
			defer mu.Unlock()
			if should {
				winners = append(winners, cell)
			}
			if err != nil {
				errs[bbsv1.ErrorTypeOf(err)]++
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 || errs[otherCell] != cells-1 {
		t.Fatalf("winners %v, errors %v; want one winner and %d RUNNING_ON_DIFFERENT_CELL", winners, errs, cells-1)
	}
	if got := get(t, s, "race").GetCellId(); got != winners[0] {
		t.Errorf("cell = %s, want the winner %s", got, winners[0])
	}
}
