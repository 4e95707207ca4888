package pg_test

import (
	"context"
	"embed"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3/lock"
	"golang.org/x/sync/errgroup"

	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
)

//go:embed testdata/migrations/*.sql testdata/broken/*.sql
var testdata embed.FS

func sub(t *testing.T, dir string) fs.FS {
	t.Helper()
	f, err := fs.Sub(testdata, "testdata/"+dir)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func connect(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pg.Connect(t.Context(), pg.Config{DSN: dsn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	pool := connect(t, testenv.Postgres(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	for run, wantApplied := range []int{2, 0} {
		rec := testenv.NewLogRecorder(t)
		if err := pg.Migrate(ctx, pool, sub(t, "migrations"), rec.Logger()); err != nil {
			t.Fatalf("run %d: Migrate: %v", run+1, err)
		}
		if got := rec.Count("applied migration"); got != wantApplied {
			t.Errorf("run %d applied %d migrations, want %d:\n%s", run+1, got, wantApplied, rec.String())
		}
	}

	var table *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('widgets')::text").Scan(&table); err != nil || table == nil {
		t.Fatalf("widgets table missing: %v", err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO widgets (name) VALUES ('sprocket')"); err != nil {
		t.Fatal(err)
	}
	var color string
	if err := pool.QueryRow(ctx, "SELECT color FROM widgets").Scan(&color); err != nil || color != "red" {
		t.Fatalf("color = %q, %v: second migration not applied", color, err)
	}
	// The pool is still usable after Migrate closed its database/sql view.
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("pool unusable after Migrate: %v", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// Three instances of a component starting at once, each with its pool.
	var g errgroup.Group
	for range 3 {
		pool := connect(t, dsn)
		g.Go(func() error { return pg.Migrate(ctx, pool, sub(t, "migrations"), nil) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent Migrate: %v", err)
	}
	var version int64
	if err := connect(t, dsn).QueryRow(ctx, "SELECT max(version_id) FROM goose_db_version").Scan(&version); err != nil || version != 2 {
		t.Fatalf("version = %d, %v; want 2", version, err)
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	t.Parallel()
	pool := connect(t, testenv.Postgres(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := pg.Migrate(ctx, pool, sub(t, "broken"), nil)
	if err == nil || !strings.Contains(err.Error(), "00002_broken.sql") {
		t.Fatalf("err = %v, want a failure naming 00002_broken.sql", err)
	}
	var ok, half *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('gadgets')::text, to_regclass('half_done')::text").Scan(&ok, &half); err != nil {
		t.Fatal(err)
	}
	if ok == nil {
		t.Error("00001 was not applied")
	}
	if half != nil {
		t.Error("the failed migration left half_done behind: not run in a transaction")
	}
}

func TestMigrateEmpty(t *testing.T) {
	t.Parallel()
	pool := connect(t, testenv.Postgres(t))
	if err := pg.Migrate(t.Context(), pool, sub(t, "nonexistent"), nil); err == nil {
		t.Fatal("Migrate with no migrations succeeded; a wrong fs.Sub path should be an error")
	}
}

func TestMigrateWaitsForLock(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	pool := connect(t, dsn)
	ctx := t.Context()

	// Another instance is migrating: it holds goose's advisory lock.
	holder, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", lock.DefaultLockID); err != nil {
		t.Fatal(err)
	}
	shortCtx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if err := pg.Migrate(shortCtx, pool, sub(t, "migrations"), nil); err == nil {
		t.Fatal("Migrate ran while another instance held the migration lock")
	}
	var table *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('widgets')::text").Scan(&table); err != nil || table != nil {
		t.Fatalf("widgets created while the lock was held (%v)", err)
	}

	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", lock.DefaultLockID); err != nil {
		t.Fatal(err)
	}
	holder.Release()
	if err := pg.Migrate(ctx, pool, sub(t, "migrations"), nil); err != nil {
		t.Fatalf("Migrate after the lock was released: %v", err)
	}
}
