-- +goose Up
-- Apps and their processes (Cloud Controller II, part A). Packages, builds,
-- droplets, tasks and deployments come in 00007 and later.

-- apps: CF's v3 app. lifecycle_type is buildpack or docker; buildpacks and
-- stack are the buildpack lifecycle's data (stack is the stack's name, as
-- CF stores it). droplet_guid is the current droplet; its foreign key to
-- droplets is added together with the droplets table.
CREATE TABLE apps (
    guid                  uuid PRIMARY KEY,
    name                  text NOT NULL,
    space_guid            uuid NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    state                 text NOT NULL DEFAULT 'STOPPED' CHECK (state IN ('STARTED', 'STOPPED')),
    lifecycle_type        text NOT NULL DEFAULT 'buildpack',
    buildpacks            text[] NOT NULL DEFAULT '{}',
    stack                 text NOT NULL DEFAULT '',
    environment_variables jsonb NOT NULL DEFAULT '{}',
    enable_ssh            boolean NOT NULL DEFAULT true,
    revisions_enabled     boolean NOT NULL DEFAULT true,
    droplet_guid          uuid,
    labels                jsonb NOT NULL DEFAULT '{}',
    annotations           jsonb NOT NULL DEFAULT '{}',
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
-- CF: "App with the name 'x' already exists." within a space.
CREATE UNIQUE INDEX apps_space_name ON apps (space_guid, name);
CREATE INDEX apps_name ON apps (name);

-- processes: one row per process type of an app ("web" is created with the
-- app). command NULL means the droplet's detected start command. Health
-- check data columns are NULL when unset (CF shows null).
CREATE TABLE processes (
    guid                                      uuid PRIMARY KEY,
    app_guid                                  uuid NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    type                                      text NOT NULL,
    command                                   text,
    instances                                 integer NOT NULL DEFAULT 1,
    memory_in_mb                              integer NOT NULL,
    disk_in_mb                                integer NOT NULL,
    log_rate_limit                            bigint NOT NULL DEFAULT -1,
    health_check_type                         text NOT NULL DEFAULT 'port',
    health_check_timeout                      integer,
    health_check_invocation_timeout           integer,
    health_check_interval                     integer,
    health_check_endpoint                     text,
    readiness_health_check_type               text NOT NULL DEFAULT 'process',
    readiness_health_check_invocation_timeout integer,
    readiness_health_check_interval           integer,
    readiness_health_check_endpoint           text,
    labels                                    jsonb NOT NULL DEFAULT '{}',
    annotations                               jsonb NOT NULL DEFAULT '{}',
    created_at                                timestamptz NOT NULL DEFAULT now(),
    updated_at                                timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX processes_app_type ON processes (app_guid, type);

-- +goose Down
DROP TABLE processes;
DROP TABLE apps;
