package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// ConvergeInput is what one convergence pass needs from outside the store.
type ConvergeInput struct {
	// Cells are the cells present now (cell id → true). RUNNING tasks on
	// any other cell fail.
	Cells map[string]bool
	// Now is the pass's time. Zero means Options.Clock().
	Now time.Time
}

// ConvergeStats counts what a convergence pass saw and did.
type ConvergeStats struct {
	// Pending, Running, Completed and Resolving count the tasks in each
	// state after the pass.
	Pending, Running, Completed, Resolving int
	// Kicked counts PENDING tasks sent for auction again and COMPLETED
	// tasks whose callback was due again (including demoted ones).
	Kicked int
	// Failed counts tasks the pass completed as failed: PENDING too long,
	// or RUNNING on a cell that disappeared.
	Failed int
	// Demoted counts RESOLVING tasks put back to COMPLETED.
	Demoted int
	// Pruned counts deleted tasks: completed too long ago, or with a
	// definition that does not decode.
	Pruned int
}

// Converge runs one task convergence pass (see the package documentation
// for its rules). Each change commits on its own; a failed change is
// reported in err and the pass goes on with the next, so r always holds
// the work of every change that was committed, and the caller must act on
// it even when err is not nil. The pass stops early only when ctx ends.
func (s *Store) Converge(ctx context.Context, in ConvergeInput) (r models.Result, stats ConvergeStats, err error) {
	now := in.Now
	if now.IsZero() {
		now = s.opts.Clock()
	}
	c := &convergence{s: s, in: in, now: now.UnixNano()}
	steps := []func(context.Context){
		c.expirePending,
		c.kickPending,
		c.failLostCells,
		c.pruneResolving,
		c.demoteResolving,
		c.pruneCompleted,
		c.kickCompleted,
		c.count,
	}
	for _, step := range steps {
		if ctx.Err() != nil {
			c.errs = append(c.errs, ctx.Err())
			break
		}
		step(ctx)
	}
	if len(c.errs) > 0 {
		err = fmt.Errorf("converge tasks: %w", errors.Join(c.errs...))
	}
	return c.r, c.stats, err
}

// convergence is one pass's state.
type convergence struct {
	s     *Store
	in    ConvergeInput
	now   int64
	r     models.Result
	stats ConvergeStats
	errs  []error
}

func (c *convergence) before(d time.Duration) int64 { return c.now - d.Nanoseconds() }

func (c *convergence) fail(err error) { c.errs = append(c.errs, err) }

// guids selects the guids of candidate rows, without locks.
func (c *convergence) guids(ctx context.Context, q string, args ...any) []string {
	rows, err := c.s.pool.Query(ctx, q, args...)
	if err != nil {
		c.fail(err)
		return nil
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		c.fail(err)
		return nil
	}
	return out
}

// apply runs decide on each guid in its own transaction and collects the
// Results. decide must check again that its rule applies, returning
// unchanged when it no longer does; then does the rest of the work for a
// committed change.
func (c *convergence) apply(ctx context.Context, op string, guids []string,
	decide func(t *bbsv1.Task) change, then func(before, after *bbsv1.Task, ch change)) {
	for _, guid := range guids {
		if ctx.Err() != nil {
			return
		}
		before, after, ch, err := c.s.transition(ctx, op, guid, func(t *bbsv1.Task) (change, error) {
			return decide(t), nil
		})
		switch {
		case errors.Is(err, errDefinition):
			c.prune(ctx, guid, err)
		case bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND):
			// deleted meanwhile
		case err != nil:
			c.fail(err)
		case ch != unchanged:
			then(before, after, ch)
		}
	}
}

// prune deletes a row whose definition does not decode, which no request
// can otherwise move or delete.
func (c *convergence) prune(ctx context.Context, guid string, cause error) {
	c.s.opts.Logger.Error("deleting task whose definition does not decode", "task_guid", guid, "err", cause)
	if _, err := c.s.pool.Exec(ctx, `DELETE FROM tasks WHERE guid = $1`, guid); err != nil {
		c.fail(fmt.Errorf("delete undecodable task %s: %w", guid, err))
		return
	}
	c.stats.Pruned++
}

// read selects whole rows, without locks, pruning those that do not decode.
func (c *convergence) read(ctx context.Context, q string, args ...any) []*bbsv1.Task {
	out, bad, err := c.s.query(ctx, q, args...)
	if err != nil {
		c.fail(err)
		return nil
	}
	for _, guid := range bad {
		c.prune(ctx, guid, errDefinition)
	}
	return out
}

func (c *convergence) completed(before, after *bbsv1.Task, _ change) {
	c.stats.Failed++
	c.r.Merge(completion(before, after))
}

func (c *convergence) removed(before, _ *bbsv1.Task, _ change) {
	c.stats.Pruned++
	c.r.Merge(removed(before))
}

// expirePending fails PENDING tasks desired more than ExpirePendingAfter ago.
func (c *convergence) expirePending(ctx context.Context) {
	cutoff := c.before(c.s.opts.ExpirePendingAfter)
	guids := c.guids(ctx, `SELECT guid FROM tasks WHERE state = $1 AND created_at < $2`, int16(pending), cutoff)
	c.apply(ctx, "expire", guids, func(t *bbsv1.Task) change {
		if t.State != pending || t.CreatedAt >= cutoff {
			return unchanged
		}
		complete(t, c.now, true, ReasonExpired, "")
		return updated
	}, c.completed)
}

// kickPending auctions again PENDING tasks unchanged for KickInterval.
func (c *convergence) kickPending(ctx context.Context) {
	ts := c.read(ctx, `SELECT `+columns+` FROM tasks WHERE state = $1 AND updated_at < $2 AND created_at >= $3 ORDER BY created_at`,
		int16(pending), c.before(c.s.opts.KickInterval), c.before(c.s.opts.ExpirePendingAfter))
	c.r.TaskAuctions = append(c.r.TaskAuctions, ts...)
	c.stats.Kicked += len(ts)
}

// failLostCells fails RUNNING tasks whose cell is gone.
func (c *convergence) failLostCells(ctx context.Context) {
	rows, err := c.s.pool.Query(ctx, `SELECT guid, cell_id FROM tasks WHERE state = $1`, int16(running))
	if err != nil {
		c.fail(err)
		return
	}
	var lost []string
	var guid, cell string
	_, err = pgx.ForEachRow(rows, []any{&guid, &cell}, func() error {
		if !c.in.Cells[cell] {
			lost = append(lost, guid)
		}
		return nil
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.apply(ctx, "fail lost", lost, func(t *bbsv1.Task) change {
		if t.State != running || c.in.Cells[t.CellId] {
			return unchanged
		}
		complete(t, c.now, true, ReasonCellDisappeared, "")
		return updated
	}, c.completed)
}

// pruneResolving deletes RESOLVING tasks that completed too long ago.
func (c *convergence) pruneResolving(ctx context.Context) {
	c.pruneExpired(ctx, resolving)
}

// pruneCompleted deletes COMPLETED tasks that completed too long ago.
func (c *convergence) pruneCompleted(ctx context.Context) {
	c.pruneExpired(ctx, completed)
}

func (c *convergence) pruneExpired(ctx context.Context, state bbsv1.TaskState) {
	cutoff := c.before(c.s.opts.ExpireCompletedAfter)
	guids := c.guids(ctx, `SELECT guid FROM tasks WHERE state = $1 AND first_completed_at < $2`, int16(state), cutoff)
	c.apply(ctx, "prune", guids, func(t *bbsv1.Task) change {
		if t.State != state || t.FirstCompletedAt >= cutoff {
			return unchanged
		}
		return deleted
	}, c.removed)
}

// demoteResolving puts RESOLVING tasks unchanged for KickInterval back to
// COMPLETED: whoever was resolving them gave up or died.
func (c *convergence) demoteResolving(ctx context.Context) {
	cutoff := c.before(c.s.opts.KickInterval)
	guids := c.guids(ctx, `SELECT guid FROM tasks WHERE state = $1 AND updated_at < $2`, int16(resolving), cutoff)
	c.apply(ctx, "demote", guids, func(t *bbsv1.Task) change {
		if t.State != resolving || t.UpdatedAt >= cutoff {
			return unchanged
		}
		t.State, t.UpdatedAt = completed, c.now
		return updated
	}, func(before, after *bbsv1.Task, _ change) {
		c.stats.Demoted++
		r := completion(before, after)
		c.stats.Kicked += len(r.Callbacks)
		c.r.Merge(r)
	})
}

// kickCompleted makes the callbacks of COMPLETED tasks unchanged for
// KickInterval due again.
func (c *convergence) kickCompleted(ctx context.Context) {
	ts := c.read(ctx, `SELECT `+columns+` FROM tasks WHERE state = $1 AND updated_at < $2 ORDER BY first_completed_at`,
		int16(completed), c.before(c.s.opts.KickInterval))
	for _, t := range ts {
		if hasCallback(t) {
			c.r.Callbacks = append(c.r.Callbacks, t)
			c.stats.Kicked++
		}
	}
}

// count fills in the per-state counts.
func (c *convergence) count(ctx context.Context) {
	rows, err := c.s.pool.Query(ctx, `SELECT state, count(*) FROM tasks GROUP BY state`)
	if err != nil {
		c.fail(err)
		return
	}
	var state int16
	var n int
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		switch bbsv1.TaskState(state) {
		case pending:
			c.stats.Pending = n
		case running:
			c.stats.Running = n
		case completed:
			c.stats.Completed = n
		case resolving:
			c.stats.Resolving = n
		}
		return nil
	})
	if err != nil {
		c.fail(err)
	}
}
