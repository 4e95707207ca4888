package lrps

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// DefaultStaleUnclaimedTimeout is how long an instance may stay UNCLAIMED
// before convergence asks for its placement again (Diego's
// StaleUnclaimedActualLRPDuration).
const DefaultStaleUnclaimedTimeout = 30 * time.Second

// maxMessageLength caps stored crash reasons and placement errors, as Diego
// truncates them.
const maxMessageLength = 1024

// Options tunes a Store. The zero value is Diego's behaviour on the wall
// clock.
type Options struct {
	// Clock is the time source for since, created_at, domain expiry and the
	// restart policy. Default time.Now.
	Clock func() time.Time
	// Restart decides when crashed instances start again. The zero value
	// means models.DefaultRestartPolicy().
	Restart models.RestartPolicy
	// StaleUnclaimedTimeout is how long an instance may stay UNCLAIMED
	// before convergence requests its placement again. Default 30s.
	StaleUnclaimedTimeout time.Duration
	// Logger receives convergence's summary and skipped changes. Nil
	// discards.
	Logger *slog.Logger
	// ReadPool, if set, serves the list and get queries, so that they never
	// wait for a session behind a storm of writes. Nil means the store's
	// pool.
	ReadPool *pgxpool.Pool
}

// Store is the BBS's desired and actual LRP state in Postgres. It is safe
// for concurrent use; see the package documentation for its transaction
// rules.
type Store struct {
	pool    *pgxpool.Pool
	read    *pgxpool.Pool // list and get queries
	now     func() time.Time
	restart models.RestartPolicy
	stale   time.Duration
	logger  *slog.Logger

	// converging serialises Converge: only one pass may plan and write at a
	// time (suspect records are only ever created by convergence).
	converging sync.Mutex
}

// New returns a store on pool, whose schema must be migrated
// (db.Migrations).
func New(pool *pgxpool.Pool, opts Options) *Store {
	s := &Store{
		pool:    pool,
		read:    opts.ReadPool,
		now:     opts.Clock,
		restart: opts.Restart,
		stale:   opts.StaleUnclaimedTimeout,
		logger:  opts.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.read == nil {
		s.read = pool
	}
	if s.restart == (models.RestartPolicy{}) {
		s.restart = models.DefaultRestartPolicy()
	}
	if s.stale <= 0 {
		s.stale = DefaultStaleUnclaimedTimeout
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// inTx runs f in a read-committed transaction, committing when it returns
// nil.
func (s *Store) inTx(ctx context.Context, op string, f func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, f)
	if err != nil && bbsv1.ErrorTypeOf(err) == bbsv1.ErrorType_ERROR_TYPE_UNSPECIFIED {
		return fmt.Errorf("%s: %w", op, err)
	}
	return err
}

// newTag is the modification tag of a new record.
func newTag() *bbsv1.ModificationTag {
	return &bbsv1.ModificationTag{Epoch: uuid.NewString(), Index: 0}
}

// bumped returns t with its index incremented.
func bumped(t *bbsv1.ModificationTag) *bbsv1.ModificationTag {
	return &bbsv1.ModificationTag{Epoch: t.GetEpoch(), Index: t.GetIndex() + 1}
}

func truncate(s string) string {
	if len(s) <= maxMessageLength {
		return s
	}
	return s[:maxMessageLength]
}

// Typed errors the store returns; callers turn them into gRPC statuses as
// they are.
func errNotFound(format string, args ...any) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, format, args...)
}

func errInvalidTransition(format string, args ...any) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION, format, args...)
}

func errInvalidRequest(format string, args ...any) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST, format, args...)
}

// timeOf converts Unix nanoseconds.
func timeOf(nanos int64) time.Time { return time.Unix(0, nanos) }
