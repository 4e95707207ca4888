package pg_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestConnect(t *testing.T) {
	t.Parallel()
	rec := testenv.NewLogRecorder(t)
	pool, err := pg.Connect(t.Context(), pg.Config{DSN: testenv.Postgres(t), MaxConns: 3}, rec.Logger())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer pool.Close()
	if got := pool.Config().MaxConns; got != 3 {
		t.Errorf("MaxConns = %d, want 3", got)
	}
	var one int
	if err := pool.QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	if rec.Count("connected to postgres") != 1 {
		t.Errorf("no connect log line:\n%s", rec.String())
	}
}

// TestConnectWaitsForDatabase points Connect at a port where nothing listens
// yet, lets it fail a few times, then puts Postgres behind that port.
func TestConnectWaitsForDatabase(t *testing.T) {
	t.Parallel()
	real, err := url.Parse(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	dsn := *real
	dsn.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	rec := testenv.NewLogRecorder(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type result struct {
		pool *pgxpool.Pool
		err  error
	}
	done := make(chan result, 1)
	go func() {
		pool, err := pg.Connect(ctx, pg.Config{DSN: dsn.String(), MaxBackoff: 200 * time.Millisecond}, rec.Logger())
		done <- result{pool, err}
	}()

	testenv.Eventually(t, 10*time.Second, func() error {
		if n := rec.Count("postgres not reachable"); n < 2 {
			return errors.New("fewer than 2 failed attempts logged")
		}
		return nil
	})
	l, err := net.Listen("tcp", dsn.Host)
	if err != nil {
		t.Fatal(err)
	}
	forward(t, l, real.Host)

	r := <-done
	if r.err != nil {
		t.Fatalf("Connect: %v\nlog:\n%s", r.err, rec.String())
	}
	defer r.pool.Close()
	if err := r.pool.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.String(), "attempt=") {
		t.Errorf("failed attempts are not numbered in the log:\n%s", rec.String())
	}
}

func TestConnectGivesUp(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	dsn := "postgres://anvil:hunter2@127.0.0.1:" + strconv.Itoa(port) + "/nope?sslmode=disable"
	rec := testenv.NewLogRecorder(t)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	pool, err := pg.Connect(ctx, pg.Config{DSN: dsn}, rec.Logger())
	if err == nil {
		pool.Close()
		t.Fatal("Connect succeeded with nothing listening")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want it to carry the last connection error", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("Connect returned %v after its context ended", d)
	}
	if rec.Count("postgres not reachable") == 0 {
		t.Error("no failed attempt was logged")
	}
	if logs := rec.String() + err.Error(); strings.Contains(logs, "hunter2") {
		t.Errorf("password leaked:\n%s", logs)
	}
}

func TestConnectInvalidDSN(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	began := time.Now()
	if _, err := pg.Connect(ctx, pg.Config{DSN: "postgres://a b@/::"}, nil); err == nil {
		t.Fatal("Connect accepted an invalid DSN")
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("an invalid DSN took %v to fail: should not be retried", d)
	}
}
