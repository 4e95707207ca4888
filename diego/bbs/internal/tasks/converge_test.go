package tasks_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
)

// convergeEnv is one convergence test's database, store and clock.
type convergeEnv struct {
	s    *tasks.Store
	clk  *clock
	pool *pgxpool.Pool
}

// state returns a task's state, or UNSPECIFIED when it is gone.
func (e convergeEnv) state(t *testing.T, guid string) bbsv1.TaskState {
	t.Helper()
	task, err := e.s.Task(context.Background(), guid)
	if bbsv1.IsErrorType(err, notFound) {
		return bbsv1.TaskState_TASK_STATE_UNSPECIFIED
	}
	if err != nil {
		t.Fatal(err)
	}
	return task.GetState()
}

// transitions returns "guid: BEFORE→AFTER" for r's TaskChanged events.
func transitions(r models.Result) []string {
	var out []string
	for _, c := range changes(r) {
		out = append(out, c.GetAfter().GetTaskGuid()+": "+stateName(c.GetBefore().GetState())+"→"+stateName(c.GetAfter().GetState()))
	}
	return out
}

func stateName(s bbsv1.TaskState) string { return s.String()[len("TASK_STATE_"):] }

func TestConverge(t *testing.T) {
	t.Parallel()
	const kick, expirePending, expireCompleted = 30 * time.Second, 30 * time.Minute, 2 * time.Minute
	tests := []struct {
		name  string
		setup func(t *testing.T, e convergeEnv)
		cells map[string]bool // nil: cell-a only
		// now is ConvergeInput.Now as an offset from the clock; 0 leaves
		// it to the store's clock.
		now   time.Duration
		check func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats)
	}{
		{
			name: "pending past the time limit fails",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "old", callbackURL, pending)
				e.clk.Advance(expirePending + time.Second)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				task := get(t, e.s, "old")
				if task.GetState() != completed || !task.GetFailed() || task.GetFailureReason() != tasks.ReasonExpired ||
					task.GetFirstCompletedAt() != e.clk.Now().UnixNano() {
					t.Errorf("task = %v, want COMPLETED, failed %q, completed now", task, tasks.ReasonExpired)
				}
				if got := transitions(r); !slices.Equal(got, []string{"old: PENDING→COMPLETED"}) {
					t.Errorf("changes = %v", got)
				}
				if !slices.Equal(guids(r.Callbacks), []string{"old"}) || len(r.TaskAuctions) != 0 {
					t.Errorf("result = %s, want its callback and no auction", describe(r))
				}
				if st.Failed != 1 || st.Completed != 1 || st.Pending != 0 {
					t.Errorf("stats = %+v", st)
				}
			},
		},
		{
			name: "pending exactly at the time limit is kicked, not failed",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "p", "", pending)
				e.clk.Advance(expirePending)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				if e.state(t, "p") != pending || !slices.Equal(guids(r.TaskAuctions), []string{"p"}) || len(r.Events) != 0 {
					t.Errorf("state %v, result %s; want PENDING and auctioned", e.state(t, "p"), describe(r))
				}
			},
		},
		{
			name: "pending unchanged for the kick interval is auctioned again",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "stale", callbackURL, pending)
				e.clk.Advance(kick + time.Second)
				put(t, e.s, "fresh", callbackURL, pending)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				if !slices.Equal(guids(r.TaskAuctions), []string{"stale"}) {
					t.Errorf("auctions = %v, want [stale]", guids(r.TaskAuctions))
				}
				if len(r.Events)+len(r.Callbacks) != 0 {
					t.Errorf("result = %s, want auctions only", describe(r))
				}
				if st.Kicked != 1 || st.Pending != 2 {
					t.Errorf("stats = %+v", st)
				}
			},
		},
		{
			name: "running on a cell that disappeared fails",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "here", callbackURL, running) // on cell-a
				put(t, e.s, "gone", callbackURL, pending)
				if _, _, err := e.s.StartTask(t.Context(), "gone", "cell-b"); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				task := get(t, e.s, "gone")
				if task.GetState() != completed || task.GetFailureReason() != tasks.ReasonCellDisappeared || task.GetCellId() != "" {
					t.Errorf("gone = %v, want COMPLETED, %q", task, tasks.ReasonCellDisappeared)
				}
				if e.state(t, "here") != running {
					t.Errorf("here = %v, want RUNNING", e.state(t, "here"))
				}
				if got := transitions(r); !slices.Equal(got, []string{"gone: RUNNING→COMPLETED"}) {
					t.Errorf("changes = %v", got)
				}
				if !slices.Equal(guids(r.Callbacks), []string{"gone"}) || len(r.TaskCancels) != 0 {
					t.Errorf("result = %s, want the callback and no cancel (the cell is gone)", describe(r))
				}
				if st.Failed != 1 || st.Running != 1 {
					t.Errorf("stats = %+v", st)
				}
			},
		},
		{
			name:  "no cells fails every running task",
			cells: map[string]bool{},
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "a", "", running)
				put(t, e.s, "b", "", running)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				if st.Failed != 2 || st.Completed != 2 || len(r.Callbacks) != 0 {
					t.Errorf("stats = %+v, result %s; want both failed, no callbacks (no URL)", st, describe(r))
				}
			},
		},
		{
			name: "completed callback is due again after the kick interval",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "due", callbackURL, completed)
				put(t, e.s, "no-url", "", completed)
				e.clk.Advance(kick + time.Second)
				put(t, e.s, "fresh", callbackURL, completed)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				if !slices.Equal(guids(r.Callbacks), []string{"due"}) || len(r.Events) != 0 {
					t.Errorf("result = %s, want the callback of due only", describe(r))
				}
				if st.Kicked != 1 || st.Completed != 3 {
					t.Errorf("stats = %+v", st)
				}
				// The row is not touched: the next pass kicks it again.
				again, _, err := e.s.Converge(t.Context(), tasks.ConvergeInput{Cells: map[string]bool{"cell-a": true}})
				if err != nil || !slices.Equal(guids(again.Callbacks), []string{"due"}) {
					t.Errorf("second pass: %s, %v; want due again", describe(again), err)
				}
			},
		},
		{
			name: "completed past its lifetime is deleted",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "old", callbackURL, completed)
				put(t, e.s, "old-no-url", "", completed)
				e.clk.Advance(expireCompleted + time.Second)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				got := removals(r)
				slices.Sort(got)
				if !slices.Equal(got, []string{"old", "old-no-url"}) || len(r.Events) != 2 || len(r.Callbacks) != 0 {
					t.Errorf("removed %v, result %s; want both removed, nothing else", got, describe(r))
				}
				if e.state(t, "old") != 0 || st.Pruned != 2 || st.Completed != 0 {
					t.Errorf("old = %v, stats = %+v", e.state(t, "old"), st)
				}
			},
		},
		{
			name: "resolving stuck for the kick interval goes back to completed",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "stuck", callbackURL, resolving)
				put(t, e.s, "stuck-no-url", "", resolving)
				e.clk.Advance(kick + time.Second)
				put(t, e.s, "busy", callbackURL, resolving)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				got := transitions(r)
				slices.Sort(got)
				if want := []string{"stuck-no-url: RESOLVING→COMPLETED", "stuck: RESOLVING→COMPLETED"}; !slices.Equal(got, want) {
					t.Errorf("changes = %v, want %v", got, want)
				}
				if !slices.Equal(guids(r.Callbacks), []string{"stuck"}) {
					t.Errorf("callbacks = %v, want [stuck]", guids(r.Callbacks))
				}
				if task := get(t, e.s, "stuck"); task.GetUpdatedAt() != e.clk.Now().UnixNano() {
					t.Errorf("updated_at = %d, want now", task.GetUpdatedAt())
				}
				if e.state(t, "busy") != resolving {
					t.Errorf("busy = %v, want RESOLVING", e.state(t, "busy"))
				}
				if st.Demoted != 2 || st.Kicked != 1 || st.Completed != 2 || st.Resolving != 1 {
					t.Errorf("stats = %+v", st)
				}
			},
		},
		{
			name: "resolving past its lifetime is deleted",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "old", callbackURL, resolving)
				e.clk.Advance(expireCompleted + time.Second)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				if got := removals(r); !slices.Equal(got, []string{"old"}) || len(r.Events) != 1 || len(r.Callbacks) != 0 {
					t.Errorf("result = %s, want only TaskRemoved(old)", describe(r))
				}
				if st.Pruned != 1 || st.Demoted != 0 {
					t.Errorf("stats = %+v", st)
				}
			},
		},
		{
			name: "rows whose definition does not decode are pruned",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "good", "", pending)
				for _, row := range []struct {
					guid  string
					state bbsv1.TaskState
					cell  string
				}{{"bad-pending", pending, ""}, {"bad-running", running, "cell-z"}} {
					if _, err := e.pool.Exec(t.Context(), `INSERT INTO tasks (guid, domain, cell_id, state, definition, created_at, updated_at)
						VALUES ($1, 'cf-apps', $2, $3, '\xffff'::bytea, $4, $4)`, row.guid, row.cell, int16(row.state), t0.UnixNano()); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := e.s.Tasks(t.Context(), "", ""); err == nil {
					t.Fatal("Tasks read an undecodable row without an error")
				}
				e.clk.Advance(kick + time.Second)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				all, err := e.s.Tasks(t.Context(), "", "")
				if err != nil || !slices.Equal(guids(all), []string{"good"}) {
					t.Errorf("Tasks = %v, %v; want [good]", guids(all), err)
				}
				if st.Pruned != 2 || st.Pending != 1 {
					t.Errorf("stats = %+v", st)
				}
			},
		},
		{
			name: "counts by state",
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "p1", "", pending)
				put(t, e.s, "p2", "", pending)
				put(t, e.s, "r", "", running)
				put(t, e.s, "c", "", completed)
				put(t, e.s, "s", "", resolving)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				want := tasks.ConvergeStats{Pending: 2, Running: 1, Completed: 1, Resolving: 1}
				if st != want || !r.Empty() {
					t.Errorf("stats = %+v, result %s; want %+v and nothing to do", st, describe(r), want)
				}
			},
		},
		{
			name: "ConvergeInput.Now overrides the clock",
			now:  expirePending + time.Second,
			setup: func(t *testing.T, e convergeEnv) {
				put(t, e.s, "p", "", pending)
			},
			check: func(t *testing.T, e convergeEnv, r models.Result, st tasks.ConvergeStats) {
				task := get(t, e.s, "p")
				if task.GetFailureReason() != tasks.ReasonExpired || task.GetUpdatedAt() != t0.Add(expirePending+time.Second).UnixNano() {
					t.Errorf("task = %v, want expired at ConvergeInput.Now", task)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := newPool(t)
			s, clk := newStore(t, pool, tasks.Options{})
			e := convergeEnv{s: s, clk: clk, pool: pool}
			tt.setup(t, e)
			in := tasks.ConvergeInput{Cells: tt.cells}
			if in.Cells == nil {
				in.Cells = map[string]bool{"cell-a": true}
			}
			if tt.now != 0 {
				in.Now = clk.Now().Add(tt.now)
			}
			r, st, err := s.Converge(t.Context(), in)
			if err != nil {
				t.Fatalf("Converge: %v", err)
			}
			tt.check(t, e, r, st)
		})
	}
}

// TestConvergeCancelled returns what was committed and the context's error.
func TestConvergeCancelled(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, newPool(t), tasks.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r, _, err := s.Converge(ctx, tasks.ConvergeInput{})
	if err == nil || !r.Empty() {
		t.Fatalf("Converge on a cancelled context = %s, %v; want an error and nothing done", describe(r), err)
	}
}
