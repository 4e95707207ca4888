-- +goose Up
-- Tasks and app usage events (Cloud Controller II, part C1).

-- tasks: one-off commands run on Diego as BBS tasks (guid = task guid,
-- domain cf-tasks). state PENDING → RUNNING (desired in the BBS) →
-- SUCCEEDED/FAILED (completion callback); CANCELING while a cancel waits
-- for the BBS's callback. sequence_id counts per app from 1. The droplet
-- is the app's current droplet when the task was created (no foreign key:
-- a deleted droplet leaves the task's history alone).
CREATE TABLE tasks (
    guid            uuid PRIMARY KEY,
    app_guid        uuid NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    name            text NOT NULL,
    command         text NOT NULL,
    state           text NOT NULL DEFAULT 'PENDING'
                    CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELING')),
    memory_in_mb    integer NOT NULL,
    disk_in_mb      integer NOT NULL,
    log_rate_limit  bigint NOT NULL DEFAULT -1,
    droplet_guid    uuid NOT NULL,
    sequence_id     integer NOT NULL,
    failure_reason  text,
    labels          jsonb NOT NULL DEFAULT '{}',
    annotations     jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (app_guid, sequence_id)
);
CREATE INDEX tasks_app ON tasks (app_guid, created_at);
CREATE INDEX tasks_active ON tasks (app_guid) WHERE state IN ('PENDING', 'RUNNING', 'CANCELING');

-- app_usage_events: CF's billing feed. id orders the feed (after_guid
-- pages by it); nothing references apps, spaces or organizations, so
-- events outlive them. process_guid is CF's app_guid column (the process),
-- app_guid CF's parent_app_guid.
CREATE TABLE app_usage_events (
    id                      bigserial UNIQUE,
    guid                    uuid PRIMARY KEY,
    created_at              timestamptz NOT NULL DEFAULT now(),
    state                   text NOT NULL,
    previous_state          text,
    app_guid                text NOT NULL DEFAULT '',
    app_name                text NOT NULL DEFAULT '',
    process_guid            text,
    process_type            text,
    space_guid              text NOT NULL DEFAULT '',
    space_name              text NOT NULL DEFAULT '',
    organization_guid       text NOT NULL DEFAULT '',
    buildpack_guid          text,
    buildpack_name          text,
    task_guid               text,
    task_name               text,
    package_guid            text,
    memory_in_mb_per_instance          integer,
    previous_memory_in_mb_per_instance integer,
    instance_count          integer,
    previous_instance_count integer
);
CREATE INDEX app_usage_events_created ON app_usage_events (created_at);
CREATE INDEX app_usage_events_task ON app_usage_events (task_guid) WHERE task_guid IS NOT NULL;

-- +goose Down
DROP TABLE app_usage_events;
DROP TABLE tasks;
