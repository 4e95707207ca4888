package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/anvilpaas/anvil/internal/pgserver"
)

var dbSeq atomic.Int64

// Postgres returns the DSN of a new, empty database in the test binary's
// shared cluster, connecting as a superuser. The database is dropped when
// the test ends. The package's TestMain must call Main.
func Postgres(t testing.TB) string {
	t.Helper()
	if !requireMain(t, mainCalled.Load()) {
		return ""
	}
	srv, err := sharedPostgres()
	if err != nil {
		startFailed(t, err)
		return ""
	}
	name := dbName(t.Name(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("testenv: %v", err)
		return ""
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropDatabase(ctx, srv.DSN("postgres"), name); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	return srv.DSN(name)
}

// requireMain fails t unless the package's TestMain went through Main.
func requireMain(t testing.TB, called bool) bool {
	t.Helper()
	if called {
		return true
	}
	t.Fatalf("testenv.Postgres needs the package's TestMain to call testenv.Main, so the shared cluster is stopped after the last test; add:\n\n\tfunc TestMain(m *testing.M) { testenv.Main(m) }")
	return false
}

// startFailed skips the test if Postgres is simply not installed on a
// developer machine, and fails it otherwise, and always in CI.
func startFailed(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, pgserver.ErrBinariesNotFound) && os.Getenv("CI") == "" {
		t.Skipf("testenv: skipping, needs Postgres: %v (in CI this is a failure)", err)
		return
	}
	t.Fatalf("testenv: start postgres: %v", err)
}

// dbName makes a database name from a test name: lowercase, [a-z0-9_],
// at most 63 bytes, unique by seq.
func dbName(testName string, seq int64) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 44 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	fmt.Fprintf(&b, "_%d", seq)
	return b.String()
}

func dropDatabase(ctx context.Context, adminDSN, name string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// RequirePostgresBinaries skips the test when initdb and postgres are not
// installed (PG_BIN, else the Debian path) on a developer machine, and
// fails it in CI, for tests that start Postgres themselves rather than
// through Postgres.
func RequirePostgresBinaries(t testing.TB) {
	t.Helper()
	dir := os.Getenv("PG_BIN")
	if dir == "" {
		dir = pgserver.DefaultBinDir
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
		startFailed(t, fmt.Errorf("%w: no postgres in %s", pgserver.ErrBinariesNotFound, dir))
	}
}
