// Package tasks is the BBS's task store: the tasks table in Postgres, every
// task state change the BBS API offers, and task convergence. It follows
// Diego's BBS (db/sqldb/task_db.go, task_convergence.go and the task
// controller), written again in the house style.
//
// # States
//
// A task moves through
//
//	      reject below the limit (also from PENDING)
//	   +<----------------------------+
//	   v                             |
//	PENDING --------start--------> RUNNING
//	   |                             |
//	   | cancel, fail,               | complete, cancel, fail,
//	   | reject at the limit,        | reject at the limit,
//	   | expired (convergence)       | cell disappeared (convergence)
//	   v                             |
//	COMPLETED <----------------------+
//	   |   ^
//	   |   | stuck for KickInterval (convergence)
//	   v   |
//	RESOLVING --delete--> (gone)
//
// and convergence deletes COMPLETED and RESOLVING tasks that completed more
// than Options.ExpireCompletedAfter ago. The complete table, with the error
// every other request gets:
//
//	request        allowed from            to                      otherwise
//	DesireTask     (no row)                PENDING                 RESOURCE_EXISTS
//	StartTask      PENDING                 RUNNING on the cell     INVALID_STATE_TRANSITION
//	               RUNNING, same cell      unchanged, should_start false
//	               RUNNING, other cell     -                       RUNNING_ON_DIFFERENT_CELL
//	CancelTask     PENDING, RUNNING        COMPLETED failed        INVALID_STATE_TRANSITION
//	FailTask       PENDING, RUNNING        COMPLETED failed        INVALID_STATE_TRANSITION
//	RejectTask     PENDING, RUNNING        PENDING, or COMPLETED   INVALID_STATE_TRANSITION
//	                                       failed at the limit
//	CompleteTask   RUNNING, same cell      COMPLETED               INVALID_STATE_TRANSITION
//	               RUNNING, other cell     -                       RUNNING_ON_DIFFERENT_CELL
//	ResolvingTask  COMPLETED               RESOLVING               INVALID_STATE_TRANSITION
//	DeleteTask     RESOLVING               deleted                 INVALID_STATE_TRANSITION
//
// Every request on a task that does not exist fails with RESOURCE_NOT_FOUND,
// and a malformed request (bad definition, empty cell id) with
// INVALID_REQUEST; all of these are bbsv1.NewError errors. Database failures
// are returned wrapped (%w) and carry no BBS error type.
//
// Completing clears cell_id and sets first_completed_at, from which the
// completed task's lifetime is measured. Failure and rejection reasons are
// cut to 1 KiB and results to models.MaxResultBytes, at a UTF-8 boundary and
// without NUL bytes (Postgres text cannot hold them).
//
// Rejections: RejectTask counts every rejection in rejection_count. A task
// is placed again (PENDING, a TaskAuction in the Result) while the count is
// at most Options.MaxRetries, and fails with the rejection reason once it
// exceeds it, as Diego's tasks.max_retries does: with the default of 3, the
// fourth rejection fails the task.
//
// FailTask and CancelTask on a RUNNING task also ask its cell to stop it
// (Result.TaskCancels). Diego lets FailTask complete a RUNNING task too; it
// is kept for that reason, although the auctioneer only fails PENDING ones.
//
// # Results
//
// Every mutating method returns a models.Result describing what the
// committed change must set off, for the caller to act on after it
// returns: a TaskCreated, TaskChanged (before and after) or TaskRemoved
// event; a TaskAuction for a task to place (DesireTask, a rejection below the
// limit, a convergence kick); a TaskCancel for a cell to stop a task; and a
// Callback for every task that reaches COMPLETED and has a
// completion_callback_url. Callbacks never holds a task without a callback
// URL; clients resolve those themselves (ResolvingTask, DeleteTask) or
// convergence deletes them. The tasks in a Result are shared between its
// fields and must be treated as read-only.
//
// # Convergence
//
// Converge runs Diego's task convergence once, at ConvergeInput.Now, in this
// order:
//
//  1. PENDING created more than ExpirePendingAfter ago: COMPLETED, failed,
//     "not started within time limit".
//  2. PENDING not changed for KickInterval: auctioned again (TaskAuctions;
//     the row is not touched, so the next pass kicks it again).
//  3. RUNNING on a cell missing from ConvergeInput.Cells: COMPLETED, failed,
//     "cell disappeared before completion". An empty Cells fails every
//     RUNNING task, as in Diego: call Converge only with a cell list that was
//     actually read.
//  4. RESOLVING that completed more than ExpireCompletedAfter ago: deleted.
//  5. RESOLVING not changed for KickInterval (its callback delivery died):
//     back to COMPLETED, and its callback is due again.
//  6. COMPLETED that completed more than ExpireCompletedAfter ago: deleted.
//  7. COMPLETED with a callback URL, not changed for KickInterval: its
//     callback is due again (Callbacks; the row is not touched).
//
// Tasks completed in steps 1, 3 and 5 are in Callbacks at once. A row whose
// definition cannot be decoded is deleted (counted as pruned, logged).
//
// # Concurrency
//
// Each change is one transaction that locks the task's row (SELECT … FOR
// UPDATE), checks the transition on what it read and writes the new row, so
// concurrent requests on one task are serialised and the loser sees the
// winner's state. Convergence selects candidates without locks, then
// changes each in its own transaction after checking again that the rule
// still applies, so it may run beside the API (and beside another
// convergence) without undoing their work. A Store is safe for concurrent
// use.
//
// # Usage
//
//	store := tasks.New(pool, tasks.Options{Logger: logger})
//	r, err := store.DesireTask(ctx, guid, domain, def)
//	if err != nil {
//		return err // typed BBS error, or a database error
//	}
//	act(r) // publish events, request auctions, submit callbacks
//
//	// in the convergence loop, every few seconds:
//	r, stats, err := store.Converge(ctx, tasks.ConvergeInput{Cells: cells})
//	act(r) // even when err != nil: r holds what was committed
package tasks
