-- +goose Up
CREATE TABLE half_done (id int);
CREATE TABEL oops (id int);

-- +goose Down
DROP TABLE half_done;
