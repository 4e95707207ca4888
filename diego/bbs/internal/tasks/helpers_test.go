package tasks_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/db"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	pending   = bbsv1.TaskState_TASK_STATE_PENDING
	running   = bbsv1.TaskState_TASK_STATE_RUNNING
	completed = bbsv1.TaskState_TASK_STATE_COMPLETED
	resolving = bbsv1.TaskState_TASK_STATE_RESOLVING

	notFound      = bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND
	exists        = bbsv1.ErrorType_ERROR_TYPE_RESOURCE_EXISTS
	invalid       = bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST
	badTransition = bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION
	otherCell     = bbsv1.ErrorType_ERROR_TYPE_RUNNING_ON_DIFFERENT_CELL
	noError       = bbsv1.ErrorType_ERROR_TYPE_UNSPECIFIED

	callbackURL = "http://cc.example/internal/tasks/completed"
)

// t0 is when every test's clock starts.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newPool returns a pool on a new, migrated database.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pg.Migrate(t.Context(), pool, db.Migrations(), testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	return pool
}

// newStore returns a store on pool with a fake clock at t0.
func newStore(t *testing.T, pool *pgxpool.Pool, opts tasks.Options) (*tasks.Store, *clock) {
	t.Helper()
	clk := &clock{now: t0}
	opts.Clock = clk.Now
	opts.Logger = testenv.Logger(t)
	return tasks.New(pool, opts), clk
}

// definition returns a valid task definition; callback may be empty.
func definition(callback string) *bbsv1.TaskDefinition {
	return &bbsv1.TaskDefinition{
		RootFs:                "preloaded:cflinuxfs4",
		MemoryMb:              256,
		Action:                &bbsv1.RunAction{Path: "/bin/true", Args: []string{"-v"}},
		CompletionCallbackUrl: callback,
		Annotation:            "build-1",
		LogGuid:               "app-1",
	}
}

// put creates task guid and drives it to state through the API: started on
// and completed by cell-a.
func put(t *testing.T, s *tasks.Store, guid, callback string, state bbsv1.TaskState) {
	t.Helper()
	ctx := context.Background()
	steps := []struct {
		state bbsv1.TaskState
		do    func() error
	}{
		{pending, func() error {
			_, err := s.DesireTask(ctx, guid, "cf-apps", definition(callback))
			return err
		}},
		{running, func() error {
			_, _, err := s.StartTask(ctx, guid, "cell-a")
			return err
		}},
		{completed, func() error {
			_, err := s.CompleteTask(ctx, tasks.CompleteRequest{GUID: guid, CellID: "cell-a", Result: "ok"})
			return err
		}},
		{resolving, func() error {
			_, err := s.ResolvingTask(ctx, guid)
			return err
		}},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("put %s in %v: %v", guid, step.state, err)
		}
		if step.state == state {
			return
		}
	}
}

// get returns a task, failing the test if it cannot.
func get(t *testing.T, s *tasks.Store, guid string) *bbsv1.Task {
	t.Helper()
	task, err := s.Task(context.Background(), guid)
	if err != nil {
		t.Fatalf("Task(%s): %v", guid, err)
	}
	return task
}

// checkErr fails the test unless err carries the BBS error type want
// (noError: err is nil).
func checkErr(t *testing.T, err error, want bbsv1.ErrorType) {
	t.Helper()
	if want == noError {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if got := bbsv1.ErrorTypeOf(err); got != want {
		t.Fatalf("err = %v (type %v), want type %v", err, got, want)
	}
}

// changes returns r's TaskChanged events.
func changes(r models.Result) []*bbsv1.TaskChanged {
	var out []*bbsv1.TaskChanged
	for _, ev := range r.Events {
		if c := ev.GetTaskChanged(); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// removals returns the guids of r's TaskRemoved events.
func removals(r models.Result) []string {
	var out []string
	for _, ev := range r.Events {
		if rm := ev.GetTaskRemoved(); rm != nil {
			out = append(out, rm.GetTask().GetTaskGuid())
		}
	}
	return out
}

func guids(ts []*bbsv1.Task) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.GetTaskGuid())
	}
	return out
}

func describe(r models.Result) string {
	return fmt.Sprintf("events=%d auctions=%v cancels=%v callbacks=%v",
		len(r.Events), guids(r.TaskAuctions), r.TaskCancels, guids(r.Callbacks))
}
