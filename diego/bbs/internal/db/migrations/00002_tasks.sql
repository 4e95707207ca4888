-- +goose Up
-- tasks: one row per task, owned by diego/bbs/internal/tasks. Times are Unix
-- nanoseconds, as in bbsv1.Task; state is the bbsv1.TaskState number;
-- definition is the marshalled bbsv1.TaskDefinition. cell_id is '' unless
-- the task is RUNNING.
CREATE TABLE tasks (
    guid               text PRIMARY KEY,
    domain             text NOT NULL,
    cell_id            text NOT NULL DEFAULT '',
    state              smallint NOT NULL CHECK (state BETWEEN 1 AND 4),
    definition         bytea NOT NULL,
    failed             boolean NOT NULL DEFAULT false,
    failure_reason     text NOT NULL DEFAULT '',
    result             text NOT NULL DEFAULT '',
    created_at         bigint NOT NULL,
    updated_at         bigint NOT NULL,
    first_completed_at bigint NOT NULL DEFAULT 0,
    rejection_count    integer NOT NULL DEFAULT 0,
    rejection_reason   text NOT NULL DEFAULT ''
);
CREATE INDEX tasks_domain ON tasks (domain);
CREATE INDEX tasks_cell_id ON tasks (cell_id);
CREATE INDEX tasks_state ON tasks (state);

-- +goose Down
DROP TABLE tasks;
