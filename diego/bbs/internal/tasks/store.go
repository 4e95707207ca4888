package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// Defaults, from Diego's BOSH job spec.
const (
	DefaultMaxRetries           = 3
	DefaultExpirePendingAfter   = 30 * time.Minute
	DefaultKickInterval         = 30 * time.Second
	DefaultExpireCompletedAfter = 2 * time.Minute
)

// maxReasonBytes caps failure and rejection reasons, as Diego does.
const maxReasonBytes = 1024

// Options tune a Store. The zero value gives Diego's defaults.
type Options struct {
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
	// MaxRetries is how many rejections a task survives: it is placed again
	// while its rejection count is at most MaxRetries and fails on the
	// rejection after that (Diego's tasks.max_retries). 0 means the default,
	// 3; a negative value fails a task on its first rejection.
	MaxRetries int
	// ExpirePendingAfter fails tasks still PENDING this long after they were
	// desired. Default 30 minutes.
	ExpirePendingAfter time.Duration
	// KickInterval is how long a PENDING task waits before it is auctioned
	// again, a COMPLETED task before its callback is due again, and a
	// RESOLVING task before it goes back to COMPLETED. Default 30 seconds.
	KickInterval time.Duration
	// ExpireCompletedAfter deletes COMPLETED and RESOLVING tasks this long
	// after they completed. Default 2 minutes.
	ExpireCompletedAfter time.Duration
	// Logger receives convergence problems. nil discards them.
	Logger *slog.Logger
	// ReadPool, if set, serves Task and Tasks, so that they never wait for
	// a session behind a storm of writes. Nil means the store's pool.
	ReadPool *pgxpool.Pool
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.ExpirePendingAfter <= 0 {
		o.ExpirePendingAfter = DefaultExpirePendingAfter
	}
	if o.KickInterval <= 0 {
		o.KickInterval = DefaultKickInterval
	}
	if o.ExpireCompletedAfter <= 0 {
		o.ExpireCompletedAfter = DefaultExpireCompletedAfter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is the tasks table. The schema is migration 00002_tasks.sql in
// diego/bbs/internal/db.
type Store struct {
	pool *pgxpool.Pool
	read *pgxpool.Pool // Task and Tasks
	opts Options
}

// New returns a store on pool, which must have the BBS migrations applied.
func New(pool *pgxpool.Pool, opts Options) *Store {
	read := opts.ReadPool
	if read == nil {
		read = pool
	}
	return &Store{pool: pool, read: read, opts: opts.withDefaults()}
}

// Task returns one task.
func (s *Store) Task(ctx context.Context, guid string) (*bbsv1.Task, error) {
	t, err := scanTask(s.read.QueryRow(ctx, `SELECT `+columns+` FROM tasks WHERE guid = $1`, guid))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(guid)
	}
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", guid, err)
	}
	return t, nil
}

// Tasks lists tasks, oldest first, of one domain and on one cell when those
// are not empty.
func (s *Store) Tasks(ctx context.Context, domain, cellID string) ([]*bbsv1.Task, error) {
	var (
		where []string
		args  []any
	)
	if domain != "" {
		args = append(args, domain)
		where = append(where, fmt.Sprintf("domain = $%d", len(args)))
	}
	if cellID != "" {
		args = append(args, cellID)
		where = append(where, fmt.Sprintf("cell_id = $%d", len(args)))
	}
	q := `SELECT ` + columns + ` FROM tasks`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at, guid`
	out, bad, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("list tasks: %s: %w", strings.Join(bad, ", "), errDefinition)
	}
	return out, nil
}

// columns are the tasks table's columns in scanTask's order.
const columns = `guid, domain, cell_id, state, definition, failed, failure_reason, result,
	created_at, updated_at, first_completed_at, rejection_count, rejection_reason`

// errDefinition marks a row whose definition does not decode. Convergence
// deletes such rows.
var errDefinition = errors.New("task definition does not decode")

// scanTask reads one row of columns. A definition that does not decode
// gives the task with its guid set and an error wrapping errDefinition.
func scanTask(row pgx.Row) (*bbsv1.Task, error) {
	var (
		t     bbsv1.Task
		state int16
		def   []byte
	)
	if err := row.Scan(&t.TaskGuid, &t.Domain, &t.CellId, &state, &def, &t.Failed, &t.FailureReason, &t.Result,
		&t.CreatedAt, &t.UpdatedAt, &t.FirstCompletedAt, &t.RejectionCount, &t.RejectionReason); err != nil {
		return nil, err
	}
	t.State = bbsv1.TaskState(state)
	t.Definition = &bbsv1.TaskDefinition{}
	if err := proto.Unmarshal(def, t.Definition); err != nil {
		return &t, fmt.Errorf("task %s: %w: %v", t.TaskGuid, errDefinition, err)
	}
	return &t, nil
}

// query runs a SELECT of columns and returns the tasks that decode and the
// guids of those that do not.
func (s *Store) query(ctx context.Context, q string, args ...any) (out []*bbsv1.Task, bad []string, err error) {
	rows, err := s.read.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTask(rows)
		switch {
		case errors.Is(err, errDefinition):
			bad = append(bad, t.GetTaskGuid())
		case err != nil:
			return nil, nil, err
		default:
			out = append(out, t)
		}
	}
	return out, bad, rows.Err()
}

// change is what a transition does to the row it locked.
type change int

const (
	unchanged change = iota
	updated
	deleted
)

// transition runs one state change in one transaction: it locks the task's
// row, lets decide change a copy of the task (after) and writes the row back
// or deletes it as decide says. before is the row as it was locked. An
// error from decide rolls back and is returned as it is.
func (s *Store) transition(ctx context.Context, op, guid string, decide func(after *bbsv1.Task) (change, error)) (before, after *bbsv1.Task, c change, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b, err := scanTask(tx.QueryRow(ctx, `SELECT `+columns+` FROM tasks WHERE guid = $1 FOR UPDATE`, guid))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(guid)
		}
		if err != nil {
			return err
		}
		a := proto.CloneOf(b)
		c, err = decide(a)
		if err != nil {
			return err
		}
		switch c {
		case updated:
			_, err = tx.Exec(ctx, `UPDATE tasks SET cell_id = $2, state = $3, failed = $4, failure_reason = $5,
				result = $6, updated_at = $7, first_completed_at = $8, rejection_count = $9, rejection_reason = $10
				WHERE guid = $1`,
				guid, a.CellId, int16(a.State), a.Failed, a.FailureReason,
				a.Result, a.UpdatedAt, a.FirstCompletedAt, a.RejectionCount, a.RejectionReason)
		case deleted:
			_, err = tx.Exec(ctx, `DELETE FROM tasks WHERE guid = $1`, guid)
		}
		if err != nil {
			return err
		}
		before, after = b, a
		return nil
	})
	if err != nil {
		if bbsv1.ErrorTypeOf(err) != bbsv1.ErrorType_ERROR_TYPE_UNSPECIFIED {
			return nil, nil, unchanged, err
		}
		return nil, nil, unchanged, fmt.Errorf("%s task %s: %w", op, guid, err)
	}
	return before, after, c, nil
}

func notFound(guid string) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, "task %s not found", guid)
}

func invalidTransition(t *bbsv1.Task, to bbsv1.TaskState) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION,
		"task %s cannot go from %s to %s", t.GetTaskGuid(), stateName(t.GetState()), stateName(to))
}

func stateName(s bbsv1.TaskState) string {
	return strings.TrimPrefix(s.String(), "TASK_STATE_")
}

// clean makes s storable in a text column and at most max bytes long: NUL
// bytes are dropped, invalid UTF-8 is replaced, and the cut falls on a rune
// boundary.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
