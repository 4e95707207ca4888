// Package bbs is the bbs daemon: Diego's store of desired and actual state,
// its convergence, and its gRPC API.
//
// Lifecycle: New checks the config. Run starts the ops listener and the cell
// registry (memberlist, as an observer), connects to Postgres (retrying
// while it is unreachable), applies migrations, and campaigns for the
// active role with a Postgres advisory lock. Several BBS processes may run;
// only the one holding the lock opens its gRPC listener, converges and
// dispatches work. The others wait, and one takes over within about a
// second (Lock.RetryInterval) of the active one's database session ending.
// /readyz is ready only while this BBS is active and serving.
//
// Each term as the active BBS starts a new event epoch, so event
// subscribers that were connected to another BBS resync.
package bbs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/callbacks"
	"github.com/anvilpaas/anvil/diego/bbs/internal/converger"
	"github.com/anvilpaas/anvil/diego/bbs/internal/db"
	"github.com/anvilpaas/anvil/diego/bbs/internal/effects"
	"github.com/anvilpaas/anvil/diego/bbs/internal/events"
	"github.com/anvilpaas/anvil/diego/bbs/internal/leader"
	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/reps"
	"github.com/anvilpaas/anvil/diego/bbs/internal/server"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/runner"
)

// BBS is the daemon.
type BBS struct {
	cfg      Config
	logger   *slog.Logger
	reg      *prometheus.Registry
	ops      *ops.Server
	registry *cellregistry.Registry
	hub      *events.Hub

	active    atomic.Bool
	addr      atomic.Pointer[string]
	ready     chan struct{}
	readyOnce atomic.Bool
}

// New validates cfg.
func New(cfg Config, logger *slog.Logger) (*BBS, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bbs: %w", err)
	}
	b := &BBS{cfg: cfg, logger: logger, reg: ops.NewRegistry(), hub: events.New(events.Options{}), ready: make(chan struct{})}
	registry, err := cellregistry.New(cfg.Registry, cellregistry.Member{}, cellregistry.Deps{Logger: logger, Registerer: b.reg})
	if err != nil {
		return nil, fmt.Errorf("bbs: %w", err)
	}
	b.registry = registry
	b.ops = ops.New(cfg.Ops, logger, b.reg)
	b.ops.AddCheck("active", func(context.Context) error {
		if !b.active.Load() || b.Addr() == "" {
			return errors.New("not the active BBS")
		}
		return nil
	})
	return b, nil
}

// Ready is closed the first time this BBS serves as the active one.
func (b *BBS) Ready() <-chan struct{} { return b.ready }

// Addr returns the gRPC listener's address while active ("" otherwise).
func (b *BBS) Addr() string {
	if a := b.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// RegistryAddr returns the cell registry's gossip address.
func (b *BBS) RegistryAddr() string { return b.registry.Addr() }

// Run serves until ctx is cancelled.
func (b *BBS) Run(ctx context.Context) error {
	err := runner.Group(ctx,
		runner.Named{Name: "ops", Runner: b.ops},
		runner.Named{Name: "registry", Runner: b.registry},
		runner.Named{Name: "bbs", Runner: runner.Func(b.campaign)},
	)
	if err != nil {
		return fmt.Errorf("bbs: %w", err)
	}
	return nil
}

// campaign connects to the database and leads whenever it holds the lock.
func (b *BBS) campaign(ctx context.Context) error {
	pool, err := pg.Connect(ctx, b.cfg.Database, b.logger)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, db.Migrations(), b.logger); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	readCfg := b.cfg.Database
	readCfg.MaxConns = b.cfg.ReadConns
	readPool, err := pg.Connect(ctx, readCfg, b.logger)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer readPool.Close()
	parts, err := b.build(pool, readPool)
	if err != nil {
		return err
	}
	defer parts.reps.Close()
	elector := leader.New(pool, leader.Options{
		RetryInterval: b.cfg.Lock.RetryInterval,
		OnState:       b.active.Store,
	}, b.logger)
	return elector.Run(ctx, func(ctx context.Context) error { return b.lead(ctx, parts) })
}

// parts are built once per process; lead runs them for each term.
type parts struct {
	lrps      *lrps.Store
	tasks     *tasks.Store
	reps      *reps.Pool
	effects   *effects.Effects
	callbacks *callbacks.Pool
	converger *converger.Converger
	server    *server.Server
	auction   *auctioneerClient
}

func (b *BBS) build(pool, readPool *pgxpool.Pool) (*parts, error) {
	cfg := b.cfg
	p := &parts{}
	p.lrps = lrps.New(pool, lrps.Options{
		StaleUnclaimedTimeout: cfg.Convergence.StaleUnclaimedAfter, Logger: b.logger.With("part", "lrps"), ReadPool: readPool,
	})
	p.tasks = tasks.New(pool, tasks.Options{
		ReadPool:             readPool,
		MaxRetries:           cfg.Tasks.MaxRetries,
		ExpirePendingAfter:   cfg.Tasks.ExpirePendingAfter,
		KickInterval:         cfg.Tasks.KickInterval,
		ExpireCompletedAfter: cfg.Tasks.ExpireCompletedAfter,
		Logger:               b.logger,
	})
	conn, err := rpc.Dial(context.Background(), cfg.Auctioneer)
	if err != nil {
		return nil, err
	}
	p.auction = &auctioneerClient{client: auctioneerv1.NewAuctioneerServiceClient(conn)}
	p.reps = reps.New(b.registry, func(ctx context.Context, addr string) (*grpc.ClientConn, error) {
		return rpc.Dial(ctx, cfg.repClient(addr))
	})

	// effects → callbacks → server → effects: the callback pool is handed
	// to effects once it exists.
	late := &lateCallbacks{}
	var remover lateRemover
	p.effects, err = effects.New(effects.Options{}, effects.Deps{
		Events: b.hub, Auctioneer: p.auction, Cells: p.reps, Remover: &remover,
		Callbacks: late, Logger: b.logger, Registerer: b.reg,
	})
	if err != nil {
		return nil, err
	}
	p.server = server.New(server.Options{}, server.Deps{
		LRPs: p.lrps, Tasks: p.tasks, Events: b.hub, Effects: p.effects, Cells: b.registry, Logger: b.logger,
	})
	remover.s = p.server.Remover()
	p.callbacks, err = callbacks.New(cfg.Callbacks, callbacks.Deps{
		Logger: b.logger, Client: &http.Client{}, Store: p.server.CallbackStore(), Registerer: b.reg,
	})
	if err != nil {
		return nil, err
	}
	late.pool.Store(p.callbacks)
	p.converger, err = converger.New(converger.Options{Interval: cfg.Convergence.Interval}, converger.Deps{
		LRPs: p.lrps, Tasks: p.tasks, Cells: b.registry, Effects: p.effects, Logger: b.logger, Registerer: b.reg,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// lateCallbacks forwards to the callback pool once it is built.
type lateCallbacks struct {
	pool atomic.Pointer[callbacks.Pool]
}

func (l *lateCallbacks) Submit(t *bbsv1.Task) {
	if p := l.pool.Load(); p != nil {
		p.Submit(t)
	}
}

// lateRemover forwards to the server's serialised remover once it is built.
type lateRemover struct{ s server.Remover }

func (l *lateRemover) RemoveActualLRP(ctx context.Context, guid string, index int32, ik *bbsv1.ActualLRPInstanceKey) (models.Result, error) {
	return l.s.RemoveActualLRP(ctx, guid, index, ik)
}

// lead serves as the active BBS until ctx is cancelled.
func (b *BBS) lead(ctx context.Context, p *parts) error {
	b.hub.Restart()
	defer b.hub.Close()

	srv, err := rpc.NewServer(b.cfg.GRPC, b.logger, b.reg)
	if err != nil {
		return err
	}
	bbsv1.RegisterBBSServiceServer(srv.GRPC(), p.server)
	go func() {
		select {
		case <-srv.Ready():
			addr := srv.Addr().String()
			b.addr.Store(&addr)
			if b.readyOnce.CompareAndSwap(false, true) {
				close(b.ready)
			}
		case <-ctx.Done():
		}
	}()
	defer b.addr.Store(nil)

	return runner.Group(ctx,
		runner.Named{Name: "grpc", Runner: srv},
		runner.Named{Name: "effects", Runner: runner.Func(p.effects.Run)},
		runner.Named{Name: "callbacks", Runner: runner.Func(p.callbacks.Run)},
		runner.Named{Name: "converger", Runner: runner.Func(func(ctx context.Context) error {
			// Convergence acts on missing cells: wait until the registry
			// has joined the cluster and so knows them.
			select {
			case <-b.registry.Joined():
			case <-ctx.Done():
				return nil
			}
			return p.converger.Run(ctx)
		})},
		runner.Named{Name: "cell-watch", Runner: runner.Func(func(ctx context.Context) error {
			return b.watchCells(ctx, p.converger)
		})},
	)
}

// watchCells triggers convergence when cells come or go.
func (b *BBS) watchCells(ctx context.Context, c *converger.Converger) error {
	ch, cancel := b.registry.Subscribe(cellregistry.DefaultSubscribeBuffer)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-ch:
			if !ok {
				return nil
			}
			if ev.Kind != cellregistry.Updated {
				c.Trigger()
			}
		}
	}
}

// auctioneerClient adapts the auctioneer's gRPC client to effects.
type auctioneerClient struct {
	client auctioneerv1.AuctioneerServiceClient
}

func (a *auctioneerClient) RequestLRPAuctions(ctx context.Context, in *auctioneerv1.RequestLRPAuctionsRequest) error {
	_, err := a.client.RequestLRPAuctions(ctx, in)
	return err
}

func (a *auctioneerClient) RequestTaskAuctions(ctx context.Context, in *auctioneerv1.RequestTaskAuctionsRequest) error {
	_, err := a.client.RequestTaskAuctions(ctx, in)
	return err
}
