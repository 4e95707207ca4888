package callbacks_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/callbacks"
	"github.com/anvilpaas/anvil/diego/bbs/internal/db"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// The task store is what the pool is built for.
var _ callbacks.Store = (*tasks.Store)(nil)

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

// TestWithTaskStore runs a task to completion against the real store: the
// callback is delivered and the task deleted, and a callback that fails is
// left RESOLVING, handed back by convergence and delivered then.
func TestWithTaskStore(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pg.Migrate(t.Context(), pool, db.Migrations(), testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	store := tasks.New(pool, tasks.Options{Clock: clk.Now})
	rcv := newReceiver(t, 200)

	var events eventLog
	p, reg := testPool(t, callbacks.Config{Workers: 2, Retries: 1}, store, events.apply)
	testenv.Start(t, p)

	complete := func(guid string) models.Result {
		t.Helper()
		ctx := t.Context()
		def := &bbsv1.TaskDefinition{RootFs: "preloaded:cflinuxfs4", Action: &bbsv1.RunAction{Path: "/bin/stage"},
			CompletionCallbackUrl: rcv.URL + "/staging/" + guid, Annotation: "a-" + guid}
		if _, err := store.DesireTask(ctx, guid, "cf-apps", def); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.StartTask(ctx, guid, "cell-a"); err != nil {
			t.Fatal(err)
		}
		r, err := store.CompleteTask(ctx, tasks.CompleteRequest{GUID: guid, CellID: "cell-a", Result: "droplet-" + guid})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	waitState := func(guid string, want bbsv1.TaskState) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() error {
			task, err := store.Task(t.Context(), guid)
			got := task.GetState()
			if bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND) {
				got = bbsv1.TaskState_TASK_STATE_UNSPECIFIED
			} else if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s is %v, want %v", guid, got, want)
			}
			return nil
		})
	}

	// Delivered at once: RESOLVING, POST, deleted.
	for _, cb := range complete("ok").Callbacks {
		p.Submit(cb)
	}
	waitState("ok", bbsv1.TaskState_TASK_STATE_UNSPECIFIED)
	bodies, _ := rcv.posts()
	if len(bodies) != 1 || bodies[0]["task_guid"] != "ok" || bodies[0]["result"] != "droplet-ok" || bodies[0]["annotation"] != "a-ok" {
		t.Fatalf("receiver got %v", bodies)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if got, want := events.kinds(), []string{"ok: COMPLETED→RESOLVING", "ok: removed"}; !slices.Equal(got, want) {
			return fmt.Errorf("applied events %v, want %v", got, want)
		}
		return nil
	})

	// The receiver fails: the task stays RESOLVING.
	rcv.setCodes(503)
	for _, cb := range complete("retry").Callbacks {
		p.Submit(cb)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := metric(t, reg, "bbs_task_callbacks_total", "outcome=failed"); n != 1 {
			return fmt.Errorf("failed = %v", n)
		}
		return nil
	})
	if bodies, _ := rcv.posts(); len(bodies) != 3 {
		t.Errorf("%d POSTs, want 3 (1 for ok, 2 attempts for retry)", len(bodies))
	}
	waitState("retry", bbsv1.TaskState_TASK_STATE_RESOLVING)

	// Convergence hands it back after the kick interval, and it is
	// delivered once the receiver recovers.
	rcv.setCodes(200)
	clk.Advance(tasks.DefaultKickInterval + time.Second)
	r, _, err := store.Converge(t.Context(), tasks.ConvergeInput{Cells: map[string]bool{"cell-a": true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Callbacks) != 1 || r.Callbacks[0].GetTaskGuid() != "retry" {
		t.Fatalf("convergence callbacks = %v, want [retry]", r.Callbacks)
	}
	for _, cb := range r.Callbacks {
		p.Submit(cb)
	}
	waitState("retry", bbsv1.TaskState_TASK_STATE_UNSPECIFIED)
}

// eventLog records applied task events as "guid: BEFORE→AFTER" or
// "guid: removed".
type eventLog struct {
	mu  sync.Mutex
	log []string
}

func (e *eventLog) apply(r models.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range r.Events {
		switch {
		case ev.GetTaskChanged() != nil:
			c := ev.GetTaskChanged()
			e.log = append(e.log, fmt.Sprintf("%s: %s→%s", c.GetAfter().GetTaskGuid(),
				c.GetBefore().GetState().String()[11:], c.GetAfter().GetState().String()[11:]))
		case ev.GetTaskRemoved() != nil:
			e.log = append(e.log, ev.GetTaskRemoved().GetTask().GetTaskGuid()+": removed")
		}
	}
}

func (e *eventLog) kinds() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}
