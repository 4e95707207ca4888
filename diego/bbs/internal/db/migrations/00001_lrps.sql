-- The LRP store's tables (package diego/bbs/internal/lrps). Times are Unix
-- nanoseconds (bigint) as the BBS's clock gave them, except domains'
-- expires_at; enums are the bbs.v1 enum numbers; modification tag indices are
-- uint32 held in bigint.

-- +goose Up
CREATE TABLE domains (
    name       text PRIMARY KEY,
    -- NULL: fresh forever.
    expires_at timestamptz
);

CREATE TABLE desired_lrps (
    process_guid           text PRIMARY KEY,
    domain                 text    NOT NULL,
    instances              integer NOT NULL,
    -- Scheduling columns: what convergence, the auctioneer and routers need,
    -- readable without decoding run_info.
    root_fs                text    NOT NULL,
    memory_mb              integer NOT NULL,
    disk_mb                integer NOT NULL,
    max_pids               integer NOT NULL,
    placement_tags         text[]  NOT NULL DEFAULT '{}',
    -- routes: a bbs.v1.DesiredLRPSchedulingInfo with only routes set.
    routes                 bytea   NOT NULL,
    annotation             text    NOT NULL DEFAULT '',
    log_guid               text    NOT NULL DEFAULT '',
    modification_tag_epoch text    NOT NULL,
    modification_tag_index bigint  NOT NULL,
    created_at             bigint  NOT NULL,
    -- run_info: the whole bbs.v1.DesiredLRP, rewritten on every change.
    run_info               bytea   NOT NULL
);
CREATE INDEX desired_lrps_domain_idx ON desired_lrps (domain);

CREATE TABLE actual_lrps (
    process_guid           text     NOT NULL,
    instance_index         integer  NOT NULL,
    -- bbs.v1.Presence: 1 ordinary, 2 evacuating, 3 suspect.
    presence               smallint NOT NULL,
    domain                 text     NOT NULL,
    instance_guid          text     NOT NULL DEFAULT '',
    cell_id                text     NOT NULL DEFAULT '',
    -- bbs.v1.ActualLRPState: 1 unclaimed, 2 claimed, 3 running, 4 crashed.
    state                  smallint NOT NULL,
    -- net_info: a bbs.v1.ActualLRPNetInfo; NULL when it has none.
    net_info               bytea,
    crash_count            integer  NOT NULL DEFAULT 0,
    crash_reason           text     NOT NULL DEFAULT '',
    since                  bigint   NOT NULL,
    placement_error        text     NOT NULL DEFAULT '',
    modification_tag_epoch text     NOT NULL,
    modification_tag_index bigint   NOT NULL,
    routable               boolean  NOT NULL DEFAULT false,
    availability_zone      text     NOT NULL DEFAULT '',
    PRIMARY KEY (process_guid, instance_index, presence)
);
CREATE INDEX actual_lrps_cell_id_idx ON actual_lrps (cell_id);
CREATE INDEX actual_lrps_domain_idx ON actual_lrps (domain);

-- +goose Down
DROP TABLE actual_lrps;
DROP TABLE desired_lrps;
DROP TABLE domains;
