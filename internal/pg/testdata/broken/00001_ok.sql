-- +goose Up
CREATE TABLE gadgets (id int);

-- +goose Down
DROP TABLE gadgets;
