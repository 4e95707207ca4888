package tasks

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

const (
	pending   = bbsv1.TaskState_TASK_STATE_PENDING
	running   = bbsv1.TaskState_TASK_STATE_RUNNING
	completed = bbsv1.TaskState_TASK_STATE_COMPLETED
	resolving = bbsv1.TaskState_TASK_STATE_RESOLVING
)

// Failure reasons the BBS itself writes.
const (
	ReasonCancelled       = "task was cancelled"
	ReasonExpired         = "not started within time limit"
	ReasonCellDisappeared = "cell disappeared before completion"
)

// DesireTask creates a PENDING task and asks for its placement. The Result
// holds TaskCreated and a TaskAuction.
func (s *Store) DesireTask(ctx context.Context, guid, domain string, def *bbsv1.TaskDefinition) (models.Result, error) {
	if err := models.ValidateTask(guid, domain, def); err != nil {
		return models.Result{}, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST, "invalid task: %v", err)
	}
	def = proto.CloneOf(def)
	data, err := proto.Marshal(def)
	if err != nil {
		return models.Result{}, fmt.Errorf("desire task %s: %w", guid, err)
	}
	now := s.opts.Clock().UnixNano()
	tag, err := s.pool.Exec(ctx, `INSERT INTO tasks (guid, domain, state, definition, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (guid) DO NOTHING`,
		guid, domain, int16(pending), data, now)
	if err != nil {
		return models.Result{}, fmt.Errorf("desire task %s: %w", guid, err)
	}
	if tag.RowsAffected() == 0 {
		return models.Result{}, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_EXISTS, "task %s already exists", guid)
	}
	t := &bbsv1.Task{TaskGuid: guid, Domain: domain, Definition: def, State: pending, CreatedAt: now, UpdatedAt: now}
	return models.Result{Events: []*bbsv1.SubscribeToEventsResponse{models.TaskCreated(t)}, TaskAuctions: []*bbsv1.Task{t}}, nil
}

// StartTask moves a PENDING task to RUNNING on cellID. shouldStart is false,
// with no error and an empty Result, when the task already runs on cellID;
// a task running on another cell fails with RUNNING_ON_DIFFERENT_CELL.
func (s *Store) StartTask(ctx context.Context, guid, cellID string) (shouldStart bool, r models.Result, err error) {
	if cellID == "" {
		return false, r, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST, "start task %s: cell_id is required", guid)
	}
	now := s.opts.Clock().UnixNano()
	before, after, c, err := s.transition(ctx, "start", guid, func(t *bbsv1.Task) (change, error) {
		switch t.State {
		case pending:
			t.State, t.CellId, t.UpdatedAt = running, cellID, now
			return updated, nil
		case running:
			if t.CellId == cellID {
				return unchanged, nil
			}
			return unchanged, onOtherCell(t, cellID)
		}
		return unchanged, invalidTransition(t, running)
	})
	if err != nil || c == unchanged {
		return false, r, err
	}
	return true, changed(before, after), nil
}

// CancelTask completes a PENDING or RUNNING task as failed with "task was
// cancelled". A RUNNING task's cell is asked to stop it (TaskCancels).
func (s *Store) CancelTask(ctx context.Context, guid string) (models.Result, error) {
	return s.failActive(ctx, "cancel", guid, ReasonCancelled)
}

// FailTask completes a PENDING task (one the auctioneer could not place) or
// a RUNNING one as failed with reason. A RUNNING task's cell is asked to
// stop it (TaskCancels).
func (s *Store) FailTask(ctx context.Context, guid, reason string) (models.Result, error) {
	return s.failActive(ctx, "fail", guid, reason)
}

func (s *Store) failActive(ctx context.Context, op, guid, reason string) (models.Result, error) {
	now := s.opts.Clock().UnixNano()
	before, after, _, err := s.transition(ctx, op, guid, func(t *bbsv1.Task) (change, error) {
		if t.State != pending && t.State != running {
			return unchanged, invalidTransition(t, completed)
		}
		complete(t, now, true, reason, "")
		return updated, nil
	})
	if err != nil {
		return models.Result{}, err
	}
	r := completion(before, after)
	if before.State == running && before.CellId != "" {
		r.TaskCancels = append(r.TaskCancels, models.CancelTask{TaskGUID: guid, CellID: before.CellId})
	}
	return r, nil
}

// RejectTask records that a cell refused a PENDING or RUNNING task. The
// task goes back to PENDING and is auctioned again while its rejection
// count is at most Options.MaxRetries; the rejection after that completes
// it as failed with reason.
func (s *Store) RejectTask(ctx context.Context, guid, reason string) (models.Result, error) {
	now := s.opts.Clock().UnixNano()
	before, after, _, err := s.transition(ctx, "reject", guid, func(t *bbsv1.Task) (change, error) {
		if t.State != pending && t.State != running {
			return unchanged, invalidTransition(t, pending)
		}
		t.RejectionCount++
		t.RejectionReason = clean(reason, maxReasonBytes)
		if int(t.RejectionCount) > s.opts.MaxRetries {
			complete(t, now, true, reason, "")
			return updated, nil
		}
		t.State, t.CellId, t.UpdatedAt = pending, "", now
		return updated, nil
	})
	if err != nil {
		return models.Result{}, err
	}
	if after.State == completed {
		return completion(before, after), nil
	}
	r := changed(before, after)
	r.TaskAuctions = append(r.TaskAuctions, after)
	return r, nil
}

// CompleteRequest is a cell's report that a task's process exited.
type CompleteRequest struct {
	GUID          string
	CellID        string
	Failed        bool
	FailureReason string
	// Result is cut to models.MaxResultBytes.
	Result string
}

// CompleteTask moves a task RUNNING on req.CellID to COMPLETED. Its
// callback, if it has one, is due (Callbacks).
func (s *Store) CompleteTask(ctx context.Context, req CompleteRequest) (models.Result, error) {
	if req.CellID == "" {
		return models.Result{}, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST, "complete task %s: cell_id is required", req.GUID)
	}
	now := s.opts.Clock().UnixNano()
	before, after, _, err := s.transition(ctx, "complete", req.GUID, func(t *bbsv1.Task) (change, error) {
		if t.State != running {
			return unchanged, invalidTransition(t, completed)
		}
		if t.CellId != req.CellID {
			return unchanged, onOtherCell(t, req.CellID)
		}
		complete(t, now, req.Failed, req.FailureReason, req.Result)
		return updated, nil
	})
	if err != nil {
		return models.Result{}, err
	}
	return completion(before, after), nil
}

// ResolvingTask moves a COMPLETED task to RESOLVING: the caller (the
// callback worker, or a client) is handling it. A second caller fails with
// INVALID_STATE_TRANSITION, so only one handles each task.
func (s *Store) ResolvingTask(ctx context.Context, guid string) (models.Result, error) {
	now := s.opts.Clock().UnixNano()
	before, after, _, err := s.transition(ctx, "resolve", guid, func(t *bbsv1.Task) (change, error) {
		if t.State != completed {
			return unchanged, invalidTransition(t, resolving)
		}
		t.State, t.UpdatedAt = resolving, now
		return updated, nil
	})
	if err != nil {
		return models.Result{}, err
	}
	return changed(before, after), nil
}

// DeleteTask removes a RESOLVING task. As in Diego, a COMPLETED task must be
// marked RESOLVING first.
func (s *Store) DeleteTask(ctx context.Context, guid string) (models.Result, error) {
	before, _, _, err := s.transition(ctx, "delete", guid, func(t *bbsv1.Task) (change, error) {
		if t.State != resolving {
			return unchanged, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION,
				"task %s is %s: only a RESOLVING task can be deleted", t.TaskGuid, stateName(t.State))
		}
		return deleted, nil
	})
	if err != nil {
		return models.Result{}, err
	}
	return removed(before), nil
}

// complete sets t to COMPLETED at now.
func complete(t *bbsv1.Task, now int64, failed bool, reason, result string) {
	t.State = completed
	t.CellId = ""
	t.Failed = failed
	t.FailureReason = clean(reason, maxReasonBytes)
	t.Result = clean(result, models.MaxResultBytes)
	t.UpdatedAt = now
	t.FirstCompletedAt = now
}

func onOtherCell(t *bbsv1.Task, cellID string) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RUNNING_ON_DIFFERENT_CELL,
		"task %s is running on cell %s, not %s", t.GetTaskGuid(), t.GetCellId(), cellID)
}

func changed(before, after *bbsv1.Task) models.Result {
	return models.Result{Events: []*bbsv1.SubscribeToEventsResponse{models.TaskChanged(before, after)}}
}

func removed(t *bbsv1.Task) models.Result {
	return models.Result{Events: []*bbsv1.SubscribeToEventsResponse{models.TaskRemoved(t)}}
}

// completion is the Result of a change to COMPLETED: the event, and the
// callback when the task has a URL.
func completion(before, after *bbsv1.Task) models.Result {
	r := changed(before, after)
	if hasCallback(after) {
		r.Callbacks = append(r.Callbacks, after)
	}
	return r
}

func hasCallback(t *bbsv1.Task) bool {
	return t.GetDefinition().GetCompletionCallbackUrl() != ""
}
