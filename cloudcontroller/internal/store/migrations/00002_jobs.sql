-- +goose Up
CREATE TABLE jobs (
    guid        uuid PRIMARY KEY,
    operation   text NOT NULL,
    state       text NOT NULL,
    user_guid   text NOT NULL,
    errors      jsonb NOT NULL DEFAULT '[]',
    warnings    jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE jobs;
