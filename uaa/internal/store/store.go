package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anvilpaas/anvil/internal/pg"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxKeyLen bounds the text columns that are indexed (user names, emails,
// group names, client and token IDs), well inside Postgres's index row limit.
const maxKeyLen = 255

// Store is the uaa daemon's Postgres storage.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns a Store using pool, which the caller keeps and closes.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, now: time.Now}
}

// Migrate brings the schema up to date. A nil logger discards logs.
func (s *Store) Migrate(ctx context.Context, logger *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate uaa store: %w", err)
	}
	if err := pg.Migrate(ctx, s.pool, sub, logger); err != nil {
		return fmt.Errorf("migrate uaa store: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping uaa store: %w", err)
	}
	return nil
}

// timestamp is the current time as Postgres stores it, so values returned
// to callers equal what a later read returns.
func (s *Store) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs f in a read-committed transaction.
func (s *Store) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, f)
}

// inSnapshot runs f in a read-only repeatable-read transaction, so several
// queries see the same data.
func (s *Store) inSnapshot(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, f)
}

// wrap maps database errors to the package's sentinels and prefixes op.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s: %w (%s)", op, ErrConflict, pe.ConstraintName)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%s: %w (%s)", op, ErrNotFound, pe.ConstraintName)
		case "23514": // check_violation
			return fmt.Errorf("%s: %w (%s)", op, ErrInvalid, pe.ConstraintName)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// checkKey rejects an empty or overlong value for a unique or indexed
// column.
func checkKey(what, v string) error {
	if v == "" {
		return fmt.Errorf("%s is empty: %w", what, ErrInvalid)
	}
	if len(v) > maxKeyLen {
		return fmt.Errorf("%s is longer than %d bytes: %w", what, maxKeyLen, ErrInvalid)
	}
	return nil
}

// orEmpty makes nil slices empty, so text[] columns get '{}', not NULL.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
