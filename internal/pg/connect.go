package pg

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	defaultConnectTimeout = 5 * time.Second
	defaultMaxBackoff     = 5 * time.Second
	firstBackoff          = 100 * time.Millisecond
)

// Config describes a connection pool.
type Config struct {
	// DSN is a postgres:// URL or a key=value connection string.
	DSN string `yaml:"dsn"`
	// MaxConns caps the pool size. 0 means pgxpool's default
	// (the larger of 4 and the number of CPUs).
	MaxConns int32 `yaml:"max_conns"`
	// ConnectTimeout bounds each connection attempt. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxBackoff caps the wait between attempts while the database is
	// unreachable. Default 5s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Connect opens a pool and pings the database, retrying with capped
// exponential backoff until a ping succeeds or ctx is done. Only an invalid
// DSN fails at once: every other error (refused, unknown database, not yet
// accepting connections, bad password) is retried, because during start-up
// another component may still be creating it. A nil logger discards logs.
func Connect(ctx context.Context, cfg Config, logger *slog.Logger) (*pgxpool.Pool, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's parse errors do not echo the password.
		return nil, fmt.Errorf("pg connect: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	if pc.ConnConfig.ConnectTimeout <= 0 {
		pc.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	maxBackoff := cfg.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = defaultMaxBackoff
	}
	target := net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port))) + "/" + pc.ConnConfig.Database
	logger = logger.With("db", target)

	pool, err := pgxpool.NewWithConfig(ctx, pc) // connects lazily
	if err != nil {
		return nil, fmt.Errorf("pg connect %s: %w", target, err)
	}
	delay := firstBackoff
	for attempt := 1; ; attempt++ {
		err := pool.Ping(ctx)
		if err == nil {
			logger.Info("connected to postgres", "attempts", attempt)
			return pool, nil
		}
		if ctx.Err() != nil {
			pool.Close()
			return nil, fmt.Errorf("pg connect %s: gave up after %d attempts: %w (last error: %v)", target, attempt, ctx.Err(), err)
		}
		wait := jitter(delay)
		logger.Warn("postgres not reachable, retrying", "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			pool.Close()
			return nil, fmt.Errorf("pg connect %s: gave up after %d attempts: %w (last error: %v)", target, attempt, ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, maxBackoff)
	}
}

// jitter spreads d over [0.8d, 1.2d) so restarted components do not retry in
// lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
