package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// This file holds the helpers the routing resources (stacks, isolation
// segments, domains, routes) share.

// listPage runs a list query whose select list ends with
// "count(*) OVER ()", scanning each row with scan, and returns the page and
// the total count. table names the listed table for the count fallback
// used when a page past the end returns no row.
func listPage[T any](ctx context.Context, s *Store, op, table, query string, f Filter, scan func(pgx.Row, ...any) (T, error)) ([]T, int, error) {
	rows, err := s.pool.Query(ctx, query, f.args...)
	if err != nil {
		return nil, 0, wrap(op, err)
	}
	defer rows.Close()
	var out []T
	total := 0
	for rows.Next() {
		v, err := scan(rows, &total)
		if err != nil {
			return nil, 0, wrap(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap(op, err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = s.count(ctx, table, f)
	}
	return out, total, err
}

// execOne runs a statement that must affect one row; none is ErrNotFound.
func (s *Store) execOne(ctx context.Context, op, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(op, pgx.ErrNoRows)
	}
	return nil
}

// tx runs f in a transaction.
func (s *Store) tx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, f)
}
