-- +goose Up

-- feature_flags holds only the flags an admin has set; a flag without a row
-- has CF's default (store.DefaultFeatureFlags).
CREATE TABLE feature_flags (
    name          text PRIMARY KEY,
    enabled       boolean NOT NULL,
    error_message text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Quota limits: NULL means unlimited (CF's -1, shown as null in v3).
CREATE TABLE organization_quotas (
    guid                     uuid PRIMARY KEY,
    name                     text NOT NULL,
    total_memory_in_mb       bigint,
    per_process_memory_in_mb bigint,
    total_instances          bigint,
    per_app_tasks            bigint,
    log_rate_limit           bigint,
    paid_services_allowed    boolean NOT NULL DEFAULT true,
    total_service_instances  bigint,
    total_service_keys       bigint,
    total_routes             bigint,
    total_reserved_ports     bigint,
    total_domains            bigint,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organization_quotas_name ON organization_quotas (name);

-- An organization's quota; a quota in use cannot be deleted (NO ACTION).
ALTER TABLE organizations ADD COLUMN quota_guid uuid REFERENCES organization_quotas (guid);
CREATE INDEX organizations_quota ON organizations (quota_guid);

CREATE TABLE space_quotas (
    guid                     uuid PRIMARY KEY,
    name                     text NOT NULL,
    organization_guid        uuid NOT NULL REFERENCES organizations (guid) ON DELETE CASCADE,
    total_memory_in_mb       bigint,
    per_process_memory_in_mb bigint,
    total_instances          bigint,
    per_app_tasks            bigint,
    log_rate_limit           bigint,
    paid_services_allowed    boolean NOT NULL DEFAULT true,
    total_service_instances  bigint,
    total_service_keys       bigint,
    total_routes             bigint,
    total_reserved_ports     bigint,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX space_quotas_org_name ON space_quotas (organization_guid, name);

-- A space's quota, optional. NO ACTION (checked at the end of the
-- statement) lets an organization delete cascade to both tables.
ALTER TABLE spaces ADD COLUMN space_quota_guid uuid REFERENCES space_quotas (guid);
CREATE INDEX spaces_space_quota ON spaces (space_quota_guid);

-- audit_events outlive what they describe: no foreign keys.
CREATE TABLE audit_events (
    guid              uuid PRIMARY KEY,
    type              text NOT NULL,
    actor_guid        text NOT NULL,
    actor_type        text NOT NULL,
    actor_name        text NOT NULL DEFAULT '',
    target_guid       text NOT NULL,
    target_type       text NOT NULL,
    target_name       text NOT NULL DEFAULT '',
    space_guid        text,
    organization_guid text,
    data              jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_created_at ON audit_events (created_at, guid);
CREATE INDEX audit_events_target ON audit_events (target_guid);
CREATE INDEX audit_events_space ON audit_events (space_guid);
CREATE INDEX audit_events_org ON audit_events (organization_guid);

-- +goose Down
DROP TABLE audit_events;
ALTER TABLE spaces DROP COLUMN space_quota_guid;
DROP TABLE space_quotas;
ALTER TABLE organizations DROP COLUMN quota_guid;
DROP TABLE organization_quotas;
DROP TABLE feature_flags;
