// Package leader elects the active BBS with a Postgres session advisory
// lock. Every BBS process runs Run; the one that takes the lock runs its
// lead function until it loses the lock or stops, the others retry every
// RetryInterval and take over when the lock comes free.
//
// The lock lives as long as one dedicated database session. When the active
// process dies its session ends and Postgres frees the lock at once, so a
// passive BBS takes over within one RetryInterval. The leader checks its
// session every CheckInterval and stops leading (cancelling lead's context)
// the moment the session is gone, because then another process may already
// hold the lock.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultKey is the advisory lock key of the BBS ("anvilbbs" as ASCII).
const DefaultKey int64 = 0x616e76696c626273

// Defaults for Options.
const (
	DefaultRetryInterval = time.Second
	DefaultCheckInterval = time.Second
)

// Options tunes an election.
type Options struct {
	Key           int64
	RetryInterval time.Duration
	CheckInterval time.Duration
	// OnState, if set, is told when this process becomes active (true) or
	// stops being active (false).
	OnState func(active bool)
}

// Elector runs one process's part of the election.
type Elector struct {
	pool   *pgxpool.Pool
	opts   Options
	logger *slog.Logger
}

// New returns an Elector taking its lock session from pool.
func New(pool *pgxpool.Pool, opts Options, logger *slog.Logger) *Elector {
	if opts.Key == 0 {
		opts.Key = DefaultKey
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = DefaultRetryInterval
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = DefaultCheckInterval
	}
	if opts.OnState == nil {
		opts.OnState = func(bool) {}
	}
	return &Elector{pool: pool, opts: opts, logger: logger}
}

// Run campaigns until ctx is cancelled, running lead while this process
// holds the lock. lead must return soon after its context is cancelled. Run
// returns nil when ctx is cancelled, and lead's error if lead fails (after
// giving the lock up).
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context) error) error {
	waiting := false
	for {
		conn, held, err := e.tryLock(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			e.logger.Warn("leader: cannot reach the lock", "error", err)
		case !held:
			if !waiting {
				e.logger.Info("leader: another BBS is active; waiting for the lock")
				waiting = true
			}
		default:
			waiting = false
			if err := e.lead(ctx, conn, lead); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(e.opts.RetryInterval):
		}
	}
}

// tryLock takes a session out of the pool and tries the lock on it. A held
// lock's session is returned; otherwise the session goes back to the pool.
func (e *Elector) tryLock(ctx context.Context) (*pgx.Conn, bool, error) {
	c, err := e.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("acquire session: %w", err)
	}
	var held bool
	if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", e.opts.Key).Scan(&held); err != nil {
		c.Release()
		return nil, false, fmt.Errorf("try lock: %w", err)
	}
	if !held {
		c.Release()
		return nil, false, nil
	}
	// The session is ours until it closes: the lock goes with it.
	return c.Hijack(), true, nil
}

func (e *Elector) lead(ctx context.Context, conn *pgx.Conn, lead func(context.Context) error) error {
	leadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.logger.Info("leader: this BBS is now active")
	e.opts.OnState(true)
	defer e.opts.OnState(false)

	done := make(chan error, 1)
	go func() { done <- lead(leadCtx) }()

	tick := time.NewTicker(e.opts.CheckInterval)
	defer tick.Stop()
	var leadErr error
loop:
	for {
		select {
		case leadErr = <-done:
			done = nil
			break loop
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if err := e.check(ctx, conn); err != nil {
				if ctx.Err() != nil {
					break loop
				}
				e.logger.Error("leader: lost the lock session; stepping down", "error", err)
				break loop
			}
		}
	}
	cancel()
	if done != nil {
		leadErr = <-done
	}
	e.release(conn)
	if leadErr != nil && !errors.Is(leadErr, context.Canceled) {
		return fmt.Errorf("leader: %w", leadErr)
	}
	return nil
}

func (e *Elector) check(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.CheckInterval)
	defer cancel()
	return conn.Ping(ctx)
}

// release closes the lock session, which frees the lock.
func (e *Elector) release(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", e.opts.Key); err != nil {
		e.logger.Debug("leader: unlock", "error", err)
	}
	if err := conn.Close(ctx); err != nil {
		e.logger.Debug("leader: close lock session", "error", err)
	}
	e.logger.Info("leader: this BBS is no longer active")
}
