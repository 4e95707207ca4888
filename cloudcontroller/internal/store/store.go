// Package store is the Cloud Controller's Postgres state: one table per
// resource, migrations embedded and applied at start.
//
// Methods take ctx first and return concrete types; not-found, uniqueness
// and foreign-key failures come back as the sentinels in errors.go so that
// handlers can map them to CF errors. Lists take a Filter built by the
// handler and return the page with the total count from one query.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anvilpaas/anvil/internal/pg"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the Cloud Controller database.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Migrate applies the embedded migrations.
func (s *Store) Migrate(ctx context.Context, logger *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return pg.Migrate(ctx, s.pool, sub, logger)
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Sentinel errors.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict is a uniqueness violation.
	ErrConflict = errors.New("already exists")
	// ErrReferenced is a foreign-key violation: a referenced row is missing,
	// or a row is still referenced.
	ErrReferenced = errors.New("referenced row missing or still in use")
)

// wrap maps pgx errors to the sentinels.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return fmt.Errorf("%s: %w (%s)", op, ErrConflict, pe.ConstraintName)
		case "23503":
			return fmt.Errorf("%s: %w (%s)", op, ErrReferenced, pe.ConstraintName)
		case "22P02": // invalid text representation: a malformed uuid
			return fmt.Errorf("%s: %w", op, ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
