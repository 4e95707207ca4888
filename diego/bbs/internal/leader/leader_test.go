package leader

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// candidate runs one elector and records whether it leads.
type candidate struct {
	active atomic.Bool
	leads  atomic.Int32
	cancel context.CancelFunc
	done   chan error
}

func campaign(t *testing.T, pool *pgxpool.Pool, name string) *candidate {
	t.Helper()
	return campaignLogged(t, pool, testenv.Logger(t).With("candidate", name))
}

func campaignLogged(t *testing.T, pool *pgxpool.Pool, logger *slog.Logger) *candidate {
	t.Helper()
	c := &candidate{done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	e := New(pool, Options{RetryInterval: 50 * time.Millisecond, CheckInterval: 50 * time.Millisecond}, logger)
	go func() {
		c.done <- e.Run(ctx, func(ctx context.Context) error {
			c.leads.Add(1)
			c.active.Store(true)
			<-ctx.Done()
			c.active.Store(false)
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func (c *candidate) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		c.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func activeOne(a, b *candidate) error {
	switch {
	case a.active.Load() && b.active.Load():
		return errors.New("both active")
	case !a.active.Load() && !b.active.Load():
		return errors.New("none active")
	}
	return nil
}

func TestFailover(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	a := campaign(t, newPool(t, dsn), "a")
	testenv.Eventually(t, 10*time.Second, func() error {
		if !a.active.Load() {
			return errors.New("a not active")
		}
		return nil
	})
	logs := testenv.NewLogRecorder(t)
	b := campaignLogged(t, newPool(t, dsn), logs.Logger())
	// b tries, finds the lock taken, and stays passive.
	testenv.Eventually(t, 10*time.Second, func() error { return logs.Find("another BBS is active") })
	if err := activeOne(a, b); err != nil || b.active.Load() {
		t.Fatalf("a=%v b=%v", a.active.Load(), b.active.Load())
	}
	a.stop(t)
	testenv.Eventually(t, 5*time.Second, func() error {
		if !b.active.Load() {
			return errors.New("b has not taken over")
		}
		return nil
	})
}

func TestSessionLossStepsDown(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	pool := newPool(t, dsn)
	a := campaign(t, pool, "a")
	testenv.Eventually(t, 10*time.Second, func() error {
		if !a.active.Load() {
			return errors.New("a not active")
		}
		return nil
	})
	// Kill the session that holds the lock, as a network cut or a database
	// restart would.
	admin := newPool(t, dsn)
	if _, err := admin.Exec(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted`); err != nil {
		t.Fatal(err)
	}
	// a steps down, then takes the free lock again with a new session.
	testenv.Eventually(t, 10*time.Second, func() error {
		if a.leads.Load() < 2 || !a.active.Load() {
			return errors.New("a has not led a second time")
		}
		return nil
	})
}

func TestLeadErrorIsReturned(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testenv.Postgres(t))
	e := New(pool, Options{}, testenv.Logger(t))
	boom := errors.New("boom")
	err := e.Run(context.Background(), func(context.Context) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want boom", err)
	}
	// The lock was given up: a second elector gets it at once.
	got := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = New(pool, Options{}, testenv.Logger(t)).Run(ctx, func(ctx context.Context) error {
			close(got)
			<-ctx.Done()
			return nil
		})
	}()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("lock not released after lead failed")
	}
}
