-- +goose Up
-- Durable job queue: a job with a payload is picked up by a worker (any
-- Cloud Controller instance) under a lease; a worker that dies leaves the
-- lease to expire and another one runs the job again.
ALTER TABLE jobs ADD COLUMN payload jsonb;
ALTER TABLE jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_until timestamptz;
CREATE INDEX jobs_runnable ON jobs (created_at) WHERE state = 'PROCESSING' AND payload IS NOT NULL;

-- +goose Down
DROP INDEX jobs_runnable;
ALTER TABLE jobs DROP COLUMN lease_until;
ALTER TABLE jobs DROP COLUMN attempts;
ALTER TABLE jobs DROP COLUMN payload;
