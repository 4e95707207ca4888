package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Job states.
const (
	JobProcessing = "PROCESSING"
	JobPolling    = "POLLING"
	JobComplete   = "COMPLETE"
	JobFailed     = "FAILED"
)

// Job is an asynchronous operation's record.
type Job struct {
	GUID      string
	Operation string
	State     string
	UserGUID  string
	Errors    json.RawMessage // a JSON array of CF errors
	Warnings  json.RawMessage // a JSON array of {"detail":…}
	CreatedAt time.Time
	UpdatedAt time.Time
}

const jobCols = "guid::text, operation, state, user_guid, errors, warnings, created_at, updated_at"

// CreateJob inserts a job.
func (s *Store) CreateJob(ctx context.Context, j Job) (Job, error) {
	if j.GUID == "" {
		j.GUID = uuid.NewString()
	}
	if j.Errors == nil {
		j.Errors = json.RawMessage("[]")
	}
	if j.Warnings == nil {
		j.Warnings = json.RawMessage("[]")
	}
	var out Job
	err := s.pool.QueryRow(ctx, `INSERT INTO jobs (guid, operation, state, user_guid, errors, warnings) VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+jobCols,
		j.GUID, j.Operation, j.State, j.UserGUID, j.Errors, j.Warnings).
		Scan(&out.GUID, &out.Operation, &out.State, &out.UserGUID, &out.Errors, &out.Warnings, &out.CreatedAt, &out.UpdatedAt)
	return out, wrap("create job", err)
}

// FinishJob sets a job's final state and errors.
func (s *Store) FinishJob(ctx context.Context, guid, state string, errs json.RawMessage) error {
	if errs == nil {
		errs = json.RawMessage("[]")
	}
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET state = $2, errors = $3, updated_at = now() WHERE guid = $1`, guid, state, errs)
	return wrap("finish job", err)
}

// GetJob returns one job.
func (s *Store) GetJob(ctx context.Context, guid string) (Job, error) {
	var out Job
	err := s.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE guid = $1`, guid).
		Scan(&out.GUID, &out.Operation, &out.State, &out.UserGUID, &out.Errors, &out.Warnings, &out.CreatedAt, &out.UpdatedAt)
	return out, wrap("get job", err)
}

// EnqueueJob inserts a queued job: PROCESSING, with a payload, waiting for
// a worker.
func (s *Store) EnqueueJob(ctx context.Context, j Job, payload json.RawMessage) (Job, error) {
	j.State = JobProcessing
	if j.GUID == "" {
		j.GUID = uuid.NewString()
	}
	var out Job
	err := s.pool.QueryRow(ctx, `INSERT INTO jobs (guid, operation, state, user_guid, payload) VALUES ($1, $2, $3, $4, $5) RETURNING `+jobCols,
		j.GUID, j.Operation, j.State, j.UserGUID, payload).
		Scan(&out.GUID, &out.Operation, &out.State, &out.UserGUID, &out.Errors, &out.Warnings, &out.CreatedAt, &out.UpdatedAt)
	return out, wrap("enqueue job", err)
}

// ClaimedJob is a queued job a worker holds under a lease.
type ClaimedJob struct {
	Job
	Payload  json.RawMessage
	Attempts int
}

// ClaimJob takes the oldest runnable job (queued, not leased or with an
// expired lease) and leases it for lease. ok is false when there is none.
// Concurrent workers never get the same job (SKIP LOCKED).
func (s *Store) ClaimJob(ctx context.Context, lease time.Duration) (ClaimedJob, bool, error) {
	var c ClaimedJob
	err := s.pool.QueryRow(ctx, `UPDATE jobs SET lease_until = now() + make_interval(secs => $1), attempts = attempts + 1, updated_at = now()
		WHERE guid = (
			SELECT guid FROM jobs
			WHERE state = 'PROCESSING' AND payload IS NOT NULL AND (lease_until IS NULL OR lease_until < now())
			ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
		RETURNING `+jobCols+`, payload, attempts`, lease.Seconds()).
		Scan(&c.GUID, &c.Operation, &c.State, &c.UserGUID, &c.Errors, &c.Warnings, &c.CreatedAt, &c.UpdatedAt, &c.Payload, &c.Attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, wrap("claim job", err)
	}
	return c, true, nil
}

// FailInterruptedJobs fails synchronous jobs (no payload) left PROCESSING
// for longer than age: the instance running them died mid-request.
func (s *Store) FailInterruptedJobs(ctx context.Context, age time.Duration, errs json.RawMessage) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET state = 'FAILED', errors = $2, updated_at = now()
		WHERE state = 'PROCESSING' AND payload IS NULL AND updated_at < now() - make_interval(secs => $1)`, age.Seconds(), errs)
	if err != nil {
		return 0, wrap("fail interrupted jobs", err)
	}
	return int(tag.RowsAffected()), nil
}
