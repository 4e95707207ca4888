package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Task states (CF's).
const (
	TaskPending   = "PENDING"
	TaskRunning   = "RUNNING"
	TaskSucceeded = "SUCCEEDED"
	TaskFailed    = "FAILED"
	TaskCanceling = "CANCELING"
)

// Task is a one-off command of an app, run on Diego.
type Task struct {
	GUID         string
	AppGUID      string
	Name         string
	Command      string
	State        string
	MemoryMB     int
	DiskMB       int
	LogRateLimit int64
	DropletGUID  string
	SequenceID   int
	// FailureReason is set when FAILED.
	FailureReason string
	Metadata      Metadata
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// Read from the app.
	SpaceGUID string
}

// Terminal reports whether the task has finished.
func (t Task) Terminal() bool { return t.State == TaskSucceeded || t.State == TaskFailed }

const (
	taskFrom = ` FROM tasks t JOIN apps pa ON pa.guid = t.app_guid`
	taskCols = `t.guid::text, t.app_guid::text, t.name, t.command, t.state, t.memory_in_mb, t.disk_in_mb, t.log_rate_limit,
	t.droplet_guid::text, t.sequence_id, coalesce(t.failure_reason, ''), t.labels, t.annotations, t.created_at, t.updated_at, pa.space_guid::text`
	taskReturning = ` FROM t JOIN apps pa ON pa.guid = t.app_guid`
)

var taskOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at"}

func scanTask(row pgx.Row, extra ...any) (Task, error) {
	var t Task
	dest := append([]any{&t.GUID, &t.AppGUID, &t.Name, &t.Command, &t.State, &t.MemoryMB, &t.DiskMB, &t.LogRateLimit,
		&t.DropletGUID, &t.SequenceID, &t.FailureReason, &t.Metadata.Labels, &t.Metadata.Annotations,
		&t.CreatedAt, &t.UpdatedAt, &t.SpaceGUID}, extra...)
	err := row.Scan(dest...)
	t.Metadata.normalize()
	return t, err
}

// TaskUsage is what the active (PENDING, RUNNING, CANCELING) tasks use,
// for task quotas.
type TaskUsage struct {
	SpaceMemoryMB, SpaceLogRate int64
	OrgMemoryMB, OrgLogRate     int64
	// AppTasks is the number of active tasks of the app.
	AppTasks int64
}

// ActiveTaskUsage sums the memory and log rate of the active tasks in
// space and in its organization, and counts the app's active tasks.
func (s *Store) ActiveTaskUsage(ctx context.Context, space, app string) (TaskUsage, error) {
	var u TaskUsage
	err := s.pool.QueryRow(ctx, `SELECT
			coalesce(sum(k.memory_in_mb) FILTER (WHERE a.space_guid = $1::uuid), 0),
			coalesce(sum(greatest(k.log_rate_limit, 0)) FILTER (WHERE a.space_guid = $1::uuid), 0),
			coalesce(sum(k.memory_in_mb), 0),
			coalesce(sum(greatest(k.log_rate_limit, 0)), 0),
			count(*) FILTER (WHERE a.guid = $2::uuid)
		FROM tasks k JOIN apps a ON a.guid = k.app_guid JOIN spaces sp ON sp.guid = a.space_guid
		WHERE k.state IN ('PENDING', 'RUNNING', 'CANCELING')
		  AND sp.organization_guid = (SELECT organization_guid FROM spaces WHERE guid = $1::uuid)`, space, app).
		Scan(&u.SpaceMemoryMB, &u.SpaceLogRate, &u.OrgMemoryMB, &u.OrgLogRate, &u.AppTasks)
	return u, wrap("active task usage", err)
}

// CreateTask inserts a PENDING task with the app's next sequence id (the
// app row is locked so that concurrent creates number in turn). check, if
// not nil, runs in the transaction after the lock (quota checks); its
// error aborts the create and is returned as it is.
func (s *Store) CreateTask(ctx context.Context, t Task, check func(ctx context.Context) error) (Task, error) {
	if t.GUID == "" {
		t.GUID = uuid.NewString()
	}
	t.Metadata.normalize()
	var out Task
	var checkErr error
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM apps WHERE guid = $1 FOR UPDATE`, t.AppGUID); err != nil {
			return err
		}
		if check != nil {
			if checkErr = check(ctx); checkErr != nil {
				return checkErr
			}
		}
		var err error
		out, err = scanTask(tx.QueryRow(ctx, `WITH t AS (INSERT INTO tasks (guid, app_guid, name, command, state, memory_in_mb, disk_in_mb,
				log_rate_limit, droplet_guid, sequence_id, labels, annotations)
			VALUES ($1, $2, $3, $4, 'PENDING', $5, $6, $7, $8,
				(SELECT coalesce(max(sequence_id), 0) + 1 FROM tasks WHERE app_guid = $2), $9, $10) RETURNING *)
			SELECT `+taskCols+taskReturning,
			t.GUID, t.AppGUID, t.Name, t.Command, t.MemoryMB, t.DiskMB, t.LogRateLimit, t.DropletGUID,
			t.Metadata.Labels, t.Metadata.Annotations))
		return err
	})
	if checkErr != nil {
		return out, checkErr
	}
	return out, wrap("create task", err)
}

// GetTask returns one task.
func (s *Store) GetTask(ctx context.Context, guid string) (Task, error) {
	out, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskCols+taskFrom+` WHERE t.guid = $1`, guid))
	return out, wrap("get task", err)
}

// ListTasks returns a page of tasks; filters may refer to t (tasks) and
// pa (the app).
func (s *Store) ListTasks(ctx context.Context, f Filter) ([]Task, int, error) {
	return listPage(ctx, s, "list tasks", "tasks t JOIN apps pa ON pa.guid = t.app_guid",
		`SELECT `+taskCols+`, count(*) OVER ()`+taskFrom+f.clause(taskOrder), f, scanTask)
}

// ErrTaskState is returned by SetTaskState when the task is not in one of
// the states the transition starts from.
var ErrTaskState = errors.New("task is not in a state for this transition")

// SetTaskState moves a task from one of from to state (reason is the
// failure reason, "" for none), returning the task before and after. A
// task in another state is ErrTaskState with the task as it is.
func (s *Store) SetTaskState(ctx context.Context, guid string, from []string, state, reason string) (before, after Task, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		before, err = scanTask(tx.QueryRow(ctx, `SELECT `+taskCols+taskFrom+` WHERE t.guid = $1 FOR UPDATE OF t`, guid))
		if err != nil {
			return err
		}
		ok := false
		for _, f := range from {
			ok = ok || before.State == f
		}
		if !ok {
			after = before
			return ErrTaskState
		}
		var r any
		if reason != "" {
			r = reason
		}
		after, err = scanTask(tx.QueryRow(ctx, `WITH t AS (UPDATE tasks SET state = $2, failure_reason = coalesce($3, failure_reason),
			updated_at = now() WHERE guid = $1 RETURNING *) SELECT `+taskCols+taskReturning, guid, state, r))
		return err
	})
	if errors.Is(err, ErrTaskState) {
		return before, after, err
	}
	return before, after, wrap("set task state", err)
}

// UpdateTaskMetadata writes labels and annotations.
func (s *Store) UpdateTaskMetadata(ctx context.Context, guid string, m Metadata) (Task, error) {
	m.normalize()
	out, err := scanTask(s.pool.QueryRow(ctx, `WITH t AS (UPDATE tasks SET labels = $2, annotations = $3, updated_at = now()
		WHERE guid = $1 RETURNING *) SELECT `+taskCols+taskReturning, guid, m.Labels, m.Annotations))
	return out, wrap("update task metadata", err)
}
