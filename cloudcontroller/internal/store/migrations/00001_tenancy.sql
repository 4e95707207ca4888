-- +goose Up
CREATE TABLE organizations (
    guid        uuid PRIMARY KEY,
    name        text NOT NULL,
    suspended   boolean NOT NULL DEFAULT false,
    labels      jsonb NOT NULL DEFAULT '{}',
    annotations jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organizations_name ON organizations (name);

CREATE TABLE spaces (
    guid              uuid PRIMARY KEY,
    name              text NOT NULL,
    organization_guid uuid NOT NULL REFERENCES organizations (guid) ON DELETE CASCADE,
    allow_ssh         boolean NOT NULL DEFAULT true,
    labels            jsonb NOT NULL DEFAULT '{}',
    annotations       jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX spaces_org_name ON spaces (organization_guid, name);

-- users: the UAA id is the guid; username and origin are cached from UAA
-- (or the token) so that lists need no UAA round trip.
CREATE TABLE users (
    guid        text PRIMARY KEY,
    username    text,
    origin      text,
    labels      jsonb NOT NULL DEFAULT '{}',
    annotations jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_username ON users (username, origin);

CREATE TABLE roles (
    guid              uuid PRIMARY KEY,
    type              text NOT NULL,
    user_guid         text NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    organization_guid uuid REFERENCES organizations (guid) ON DELETE CASCADE,
    space_guid        uuid REFERENCES spaces (guid) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((organization_guid IS NULL) <> (space_guid IS NULL))
);
CREATE UNIQUE INDEX roles_org_unique ON roles (type, user_guid, organization_guid) WHERE organization_guid IS NOT NULL;
CREATE UNIQUE INDEX roles_space_unique ON roles (type, user_guid, space_guid) WHERE space_guid IS NOT NULL;
CREATE INDEX roles_user ON roles (user_guid);
CREATE INDEX roles_space ON roles (space_guid);
CREATE INDEX roles_org ON roles (organization_guid);

-- +goose Down
DROP TABLE roles;
DROP TABLE users;
DROP TABLE spaces;
DROP TABLE organizations;
