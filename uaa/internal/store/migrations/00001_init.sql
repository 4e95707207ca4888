-- UAA storage: users, groups and memberships, OAuth clients, refresh
-- tokens and failed logins. There is one identity zone, "uaa", so no table
-- has a zone column. IDs are text: UUIDs for users and groups, free-form
-- for clients (cf, cloud_controller), random opaque strings for refresh
-- tokens. seq columns only break ties when sorting.

-- +goose Up
CREATE TABLE users (
    id                     text PRIMARY KEY,
    seq                    bigint GENERATED ALWAYS AS IDENTITY,
    username               text NOT NULL CHECK (username <> ''),
    origin                 text NOT NULL DEFAULT 'uaa',
    email                  text NOT NULL DEFAULT '',
    given_name             text NOT NULL DEFAULT '',
    family_name            text NOT NULL DEFAULT '',
    password_hash          bytea,
    active                 boolean NOT NULL DEFAULT true,
    verified               boolean NOT NULL DEFAULT false,
    version                integer NOT NULL DEFAULT 0,
    created                timestamptz NOT NULL,
    last_modified          timestamptz NOT NULL,
    password_last_modified timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_username_origin_key ON users (lower(username), origin);
CREATE INDEX users_lower_email_idx ON users (lower(email));
CREATE INDEX users_created_idx ON users (created, seq);

CREATE TABLE groups (
    id            text PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    display_name  text NOT NULL CHECK (display_name <> ''),
    description   text NOT NULL DEFAULT '',
    version       integer NOT NULL DEFAULT 0,
    created       timestamptz NOT NULL,
    last_modified timestamptz NOT NULL
);
CREATE UNIQUE INDEX groups_display_name_key ON groups (lower(display_name));

-- Direct memberships. Only users can be members (no nested groups); a
-- member's origin is its user's.
CREATE TABLE group_members (
    group_id    text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    member_type text NOT NULL DEFAULT 'USER' CHECK (member_type = 'USER'),
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member_id_idx ON group_members (member_id);

CREATE TABLE clients (
    id                     text PRIMARY KEY CHECK (id <> ''),
    secret_hash            bytea,
    name                   text NOT NULL DEFAULT '',
    scope                  text[] NOT NULL DEFAULT '{}',
    authorities            text[] NOT NULL DEFAULT '{}',
    grant_types            text[] NOT NULL DEFAULT '{}',
    redirect_uris          text[] NOT NULL DEFAULT '{}',
    autoapprove            text[] NOT NULL DEFAULT '{}',
    access_token_validity  integer NOT NULL DEFAULT 0,
    refresh_token_validity integer NOT NULL DEFAULT 0,
    last_modified          timestamptz NOT NULL
);

CREATE TABLE refresh_tokens (
    id         text PRIMARY KEY,
    client_id  text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL DEFAULT '{}',
    grant_type text NOT NULL DEFAULT '',
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_client_id_idx ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE login_failures (
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL
);
CREATE INDEX login_failures_user_id_at_idx ON login_failures (user_id, at);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE clients;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE users;
