-- +goose Up
-- Admin buildpacks, environment variable groups and deployments
-- (Cloud Controller II, part C2).

-- buildpacks: CF's admin buildpacks. position is 1-based and dense
-- (store.CreateBuildpack/UpdateBuildpack shift the others); stack NULL is
-- "any stack". The uploaded zip is buildpacks/<blob_key>; staging uses its
-- gzipped tarball buildpacks/<tarball_key> (the rep extracts tarballs).
CREATE TABLE buildpacks (
    guid            uuid PRIMARY KEY,
    name            text NOT NULL,
    stack           text,
    position        integer NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    locked          boolean NOT NULL DEFAULT false,
    state           text NOT NULL DEFAULT 'AWAITING_UPLOAD' CHECK (state IN ('AWAITING_UPLOAD', 'PROCESSING_UPLOAD', 'READY', 'FAILED')),
    filename        text,
    sha256          text NOT NULL DEFAULT '',
    blob_key        text NOT NULL DEFAULT '',
    tarball_key     text NOT NULL DEFAULT '',
    tarball_sha256  text NOT NULL DEFAULT '',
    labels          jsonb NOT NULL DEFAULT '{}',
    annotations     jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- CF: "Buildpack with name 'x' and stack 'y' already exists" (a NULL
-- stack is one value here).
CREATE UNIQUE INDEX buildpacks_name_stack ON buildpacks (name, coalesce(stack, ''));
CREATE INDEX buildpacks_position ON buildpacks (position);

-- environment_variable_groups: the running and staging groups, one row each.
CREATE TABLE environment_variable_groups (
    name        text PRIMARY KEY CHECK (name IN ('running', 'staging')),
    variables   jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO environment_variable_groups (name) VALUES ('running'), ('staging');

-- deployments: rolling deployments of an app's web process. status_value
-- ACTIVE/FINALIZED with status_reason DEPLOYING/DEPLOYED/CANCELING/CANCELED/
-- SUPERSEDED; state is CF's deprecated field. One ACTIVE deployment per app.
CREATE TABLE deployments (
    guid                   uuid PRIMARY KEY,
    app_guid               uuid NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    state                  text NOT NULL DEFAULT 'DEPLOYING',
    status_value           text NOT NULL DEFAULT 'ACTIVE' CHECK (status_value IN ('ACTIVE', 'FINALIZED')),
    status_reason          text NOT NULL DEFAULT 'DEPLOYING',
    strategy               text NOT NULL DEFAULT 'rolling',
    max_in_flight          integer NOT NULL DEFAULT 1,
    droplet_guid           uuid NOT NULL,
    previous_droplet_guid  uuid,
    process_guid           uuid,
    web_instances          integer NOT NULL DEFAULT 1,
    last_status_change     timestamptz NOT NULL DEFAULT now(),
    labels                 jsonb NOT NULL DEFAULT '{}',
    annotations            jsonb NOT NULL DEFAULT '{}',
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_app ON deployments (app_guid, created_at);
CREATE UNIQUE INDEX deployments_one_active ON deployments (app_guid) WHERE status_value = 'ACTIVE';

-- +goose Down
DROP TABLE deployments;
DROP TABLE environment_variable_groups;
DROP TABLE buildpacks;
