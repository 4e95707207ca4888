-- +goose Up
-- Routing resources: stacks, isolation segments, domains, routes and their
-- destinations.

CREATE TABLE stacks (
    guid         uuid PRIMARY KEY,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    state        text NOT NULL DEFAULT 'ACTIVE',
    state_reason text NOT NULL DEFAULT '',
    -- is_default marks the stack apps get when they name none; bootstrap
    -- sets it from the configuration.
    is_default   boolean NOT NULL DEFAULT false,
    labels       jsonb NOT NULL DEFAULT '{}',
    annotations  jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX stacks_name ON stacks (name);
CREATE UNIQUE INDEX stacks_one_default ON stacks (is_default) WHERE is_default;

CREATE TABLE isolation_segments (
    guid        uuid PRIMARY KEY,
    name        text NOT NULL,
    labels      jsonb NOT NULL DEFAULT '{}',
    annotations jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- CF: "Isolation Segment names are case insensitive and must be unique".
CREATE UNIQUE INDEX isolation_segments_name ON isolation_segments (lower(name));
-- The shared segment has CF's fixed guid and always exists.
INSERT INTO isolation_segments (guid, name) VALUES ('933b4c58-120b-499a-b85d-4b6fc9e2903b', 'shared');

-- An organization's default isolation segment (no row = none).
CREATE TABLE organization_isolation_segments (
    organization_guid      uuid PRIMARY KEY REFERENCES organizations (guid) ON DELETE CASCADE,
    isolation_segment_guid uuid NOT NULL REFERENCES isolation_segments (guid)
);
CREATE INDEX organization_isolation_segments_segment ON organization_isolation_segments (isolation_segment_guid);

-- domains: organization_guid NULL is a shared domain, otherwise the owning
-- organization of a private domain. Names are stored in lowercase.
CREATE TABLE domains (
    guid              uuid PRIMARY KEY,
    name              text NOT NULL,
    internal          boolean NOT NULL DEFAULT false,
    organization_guid uuid REFERENCES organizations (guid) ON DELETE CASCADE,
    labels            jsonb NOT NULL DEFAULT '{}',
    annotations       jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX domains_name ON domains (name);
CREATE INDEX domains_org ON domains (organization_guid);

-- Private domains shared with other organizations.
CREATE TABLE domain_shared_organizations (
    domain_guid       uuid NOT NULL REFERENCES domains (guid) ON DELETE CASCADE,
    organization_guid uuid NOT NULL REFERENCES organizations (guid) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain_guid, organization_guid)
);
CREATE INDEX domain_shared_organizations_org ON domain_shared_organizations (organization_guid);

-- routes: host is stored in lowercase; path "" means none; port is NULL for
-- HTTP routes. Deleting a domain through the API is refused while it has
-- routes; deleting its organization takes them along (as in CF).
CREATE TABLE routes (
    guid        uuid PRIMARY KEY,
    host        text NOT NULL DEFAULT '',
    path        text NOT NULL DEFAULT '',
    port        integer,
    domain_guid uuid NOT NULL REFERENCES domains (guid) ON DELETE CASCADE,
    space_guid  uuid NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    options     jsonb NOT NULL DEFAULT '{}',
    labels      jsonb NOT NULL DEFAULT '{}',
    annotations jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX routes_http_unique ON routes (domain_guid, host, path) WHERE port IS NULL;
CREATE UNIQUE INDEX routes_port_unique ON routes (domain_guid, port) WHERE port IS NOT NULL;
CREATE INDEX routes_space ON routes (space_guid);

-- route_destinations: app_guid is kept as given; it becomes a reference to
-- apps once apps exist.
CREATE TABLE route_destinations (
    guid         uuid PRIMARY KEY,
    route_guid   uuid NOT NULL REFERENCES routes (guid) ON DELETE CASCADE,
    app_guid     text NOT NULL,
    process_type text NOT NULL DEFAULT 'web',
    port         integer NOT NULL DEFAULT 8080,
    protocol     text NOT NULL DEFAULT 'http1',
    weight       integer,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX route_destinations_unique ON route_destinations (route_guid, app_guid, process_type, port);
CREATE INDEX route_destinations_app ON route_destinations (app_guid);

-- +goose Down
DROP TABLE route_destinations;
DROP TABLE routes;
DROP TABLE domain_shared_organizations;
DROP TABLE domains;
DROP TABLE organization_isolation_segments;
DROP TABLE isolation_segments;
DROP TABLE stacks;
