package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
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
