-- +goose Up
-- Packages, builds and droplets (Cloud Controller II, part B1).
--
-- Every row belongs to an app and goes with it (ON DELETE CASCADE); the
-- app.delete job deletes the blobs first. apps.droplet_guid gets no
-- foreign key: deleting a droplet clears it in the same transaction
-- (store.DeleteDroplet), and the Diego sync's tests may set droplets of
-- their own.

-- packages: the app bits. type bits or docker; state AWAITING_UPLOAD,
-- PROCESSING_UPLOAD, READY, FAILED (CF also has COPYING and EXPIRED).
-- The blob is packages/<guid> in the blobstore, with its digests here.
CREATE TABLE packages (
    guid             uuid PRIMARY KEY,
    app_guid         uuid NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    type             text NOT NULL DEFAULT 'bits' CHECK (type IN ('bits', 'docker')),
    state            text NOT NULL DEFAULT 'AWAITING_UPLOAD'
                     CHECK (state IN ('AWAITING_UPLOAD', 'PROCESSING_UPLOAD', 'READY', 'FAILED', 'COPYING', 'EXPIRED')),
    error            text,
    sha256           text NOT NULL DEFAULT '',
    sha1             text NOT NULL DEFAULT '',
    size             bigint NOT NULL DEFAULT 0,
    docker_image     text NOT NULL DEFAULT '',
    labels           jsonb NOT NULL DEFAULT '{}',
    annotations      jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX packages_app ON packages (app_guid, created_at);

-- droplets: staged apps. state STAGING, STAGED, FAILED (CF's
-- AWAITING_UPLOAD, PROCESSING_UPLOAD, COPYING, EXPIRED come with droplet
-- upload and copy). The blob is droplets/<guid>; sha256 is its checksum.
-- process_types is {"web": "…"}; buildpacks is CF's
-- [{name, buildpack_name, detect_output, version}].
CREATE TABLE droplets (
    guid               uuid PRIMARY KEY,
    app_guid           uuid NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    package_guid       uuid,
    build_guid         uuid,
    state              text NOT NULL DEFAULT 'STAGING'
                       CHECK (state IN ('AWAITING_UPLOAD', 'PROCESSING_UPLOAD', 'STAGING', 'STAGED', 'FAILED', 'COPYING', 'EXPIRED')),
    error              text,
    lifecycle_type     text NOT NULL DEFAULT 'buildpack',
    stack              text NOT NULL DEFAULT '',
    process_types      jsonb NOT NULL DEFAULT '{}',
    buildpacks         jsonb NOT NULL DEFAULT '[]',
    execution_metadata text NOT NULL DEFAULT '',
    sha256             text NOT NULL DEFAULT '',
    size               bigint NOT NULL DEFAULT 0,
    labels             jsonb NOT NULL DEFAULT '{}',
    annotations        jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX droplets_app ON droplets (app_guid, created_at);
CREATE INDEX droplets_package ON droplets (package_guid);

-- builds: one staging of a package. state STAGING, STAGED, FAILED; error
-- is CF's "<id> - <message>". buildpacks/stack are what staging used
-- (the app's, or the request's lifecycle override). created_by is the
-- user who asked ({guid, name, email}).
CREATE TABLE builds (
    guid            uuid PRIMARY KEY,
    app_guid        uuid NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    package_guid    uuid NOT NULL,
    droplet_guid    uuid,
    state           text NOT NULL DEFAULT 'STAGING' CHECK (state IN ('STAGING', 'STAGED', 'FAILED')),
    error           text,
    lifecycle_type  text NOT NULL DEFAULT 'buildpack',
    buildpacks      text[] NOT NULL DEFAULT '{}',
    stack           text NOT NULL DEFAULT '',
    staging_memory_in_mb integer NOT NULL DEFAULT 0,
    staging_disk_in_mb   integer NOT NULL DEFAULT 0,
    created_by_guid  text NOT NULL DEFAULT '',
    created_by_name  text NOT NULL DEFAULT '',
    created_by_email text NOT NULL DEFAULT '',
    labels          jsonb NOT NULL DEFAULT '{}',
    annotations     jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX builds_app ON builds (app_guid, created_at);
-- CF: one STAGING build per app at a time.
CREATE UNIQUE INDEX builds_one_staging ON builds (app_guid) WHERE state = 'STAGING';

-- +goose Down
DROP TABLE builds;
DROP TABLE droplets;
DROP TABLE packages;
