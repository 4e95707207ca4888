package auctioneer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/auction"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/batch"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/bbsclient"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/repclient"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/server"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/runner"
)

// bbsBackoff is the pause before a BBS call's second round over the
// addresses; it doubles for each further round.
const bbsBackoff = 250 * time.Millisecond

// CellLister returns the cells currently registered, with their rep
// addresses. internal/cellregistry's Registry is one.
type CellLister interface {
	Cells() []*bbsv1.CellPresence
}

// Deps are what the auctioneer is given besides its configuration.
type Deps struct {
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// Registry receives the metrics and is served on the ops listener's
	// /metrics; nil means a fresh ops.NewRegistry().
	Registry *prometheus.Registry
	// Cells is the cell registry; nil means the auctioneer joins the one
	// Config.Registry describes.
	Cells CellLister
}

// Auctioneer is the daemon.
type Auctioneer struct {
	cfg    Config
	logger *slog.Logger
	cells  CellLister
	// registry is the auctioneer's own registry member, when Deps.Cells
	// was not given.
	registry *cellregistry.Registry
	bbsRPC   rpc.ClientConfig // TLS material loaded
	repRPC   rpc.ClientConfig // TLS material loaded
	queue    *batch.Queue
	metrics  *auction.Metrics
	rpc      *rpc.Server
	ops      *ops.Server
	ready    chan struct{}
	started  atomic.Bool
}

// New checks cfg, loads the certificates and registers the metrics. It
// makes no connection: Run does.
func New(cfg Config, deps Deps) (*Auctioneer, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auctioneer: %w", err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registry
	if reg == nil {
		reg = ops.NewRegistry()
	}
	a := &Auctioneer{cfg: cfg, logger: logger, cells: deps.Cells, ready: make(chan struct{})}
	var err error
	if a.cells == nil {
		if a.registry, err = cellregistry.New(cfg.Registry, cellregistry.Member{}, cellregistry.Deps{Logger: logger, Registerer: reg}); err != nil {
			return nil, fmt.Errorf("auctioneer: %w", err)
		}
		a.cells = a.registry
	}
	if a.bbsRPC, err = rpc.LoadClientTLS(cfg.BBS.ClientConfig); err != nil {
		return nil, fmt.Errorf("auctioneer: bbs: %w", err)
	}
	if a.repRPC, err = rpc.LoadClientTLS(cfg.Rep.ClientConfig); err != nil {
		return nil, fmt.Errorf("auctioneer: rep: %w", err)
	}
	if a.metrics, err = auction.NewMetrics(reg); err != nil {
		return nil, fmt.Errorf("auctioneer: %w", err)
	}
	a.queue = batch.New(batch.Config{
		Window:    cfg.Auction.BatchWindow,
		FlushSize: cfg.Auction.BatchFlushSize,
		MaxQueued: cfg.Auction.MaxQueued,
	})
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "auctioneer_queued_work", Help: "Instances and tasks waiting for an auction.",
	}, func() float64 { return float64(a.queue.Len()) })); err != nil {
		return nil, fmt.Errorf("auctioneer: register metrics: %w", err)
	}

	if a.rpc, err = rpc.NewServer(cfg.RPC, logger, reg); err != nil {
		return nil, fmt.Errorf("auctioneer: %w", err)
	}
	auctioneerv1.RegisterAuctioneerServiceServer(a.rpc.GRPC(), server.New(a.queue, logger))
	a.rpc.Health().SetServingStatus(auctioneerv1.AuctioneerService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	a.ops = ops.New(cfg.Ops, logger, reg)
	a.ops.AddCheck("rpc", ops.ReadyCheck(a.rpc.Ready()))
	return a, nil
}

// Ready is closed once the gRPC and ops listeners are bound.
func (a *Auctioneer) Ready() <-chan struct{} { return a.ready }

// Addr returns the gRPC listener's bound address ("" before Ready).
func (a *Auctioneer) Addr() string {
	if addr := a.rpc.Addr(); addr != nil {
		return addr.String()
	}
	return ""
}

// RegistryAddr returns the gossip address of the auctioneer's own cell
// registry member ("" when it was given Deps.Cells, or before Ready).
func (a *Auctioneer) RegistryAddr() string {
	if a.registry == nil {
		return ""
	}
	return a.registry.Addr()
}

// Run serves and auctions until ctx is cancelled, then stops the gRPC
// server gracefully (within rpc.shutdown_timeout) and returns nil. Work
// still queued is dropped; the BBS asks for it again. Run may be called
// once.
func (a *Auctioneer) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("auctioneer: run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // also ends the readiness watcher if a listener fails
	bbs, err := bbsclient.Dial(ctx, bbsclient.Config{
		RPC:            a.bbsRPC,
		RequestTimeout: a.cfg.BBS.RequestTimeout,
		Attempts:       a.cfg.BBS.Attempts,
		Backoff:        bbsBackoff,
	})
	if err != nil {
		return fmt.Errorf("auctioneer: %w", err)
	}
	defer bbs.Close()
	reps := repclient.New(a.repRPC)
	defer reps.Close()

	auctions := auction.New(auction.Config{
		StateTimeout:            a.cfg.Rep.StateTimeout,
		PerformTimeout:          a.cfg.Rep.PerformTimeout,
		MaxRetries:              a.cfg.Auction.maxRetries(),
		StartingContainerWeight: a.cfg.Auction.StartingContainerWeight,
		ReportConcurrency:       a.cfg.Auction.ReportConcurrency,
	}, auction.Deps{
		Cells:   a.cells,
		Reps:    reps,
		BBS:     bbs,
		Queue:   a.queue,
		Metrics: a.metrics,
		Logger:  a.logger,
	})

	go func() {
		waits := []<-chan struct{}{a.rpc.Ready(), a.ops.Ready()}
		if a.registry != nil {
			waits = append(waits, a.registry.Ready())
		}
		for _, ch := range waits {
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
		}
		a.logger.Info("auctioneer ready", "addr", a.Addr())
		close(a.ready)
	}()
	units := []runner.Named{
		{Name: "ops", Runner: a.ops},
		{Name: "rpc", Runner: a.rpc},
		{Name: "auctions", Runner: auctions},
	}
	if a.registry != nil {
		units = append(units, runner.Named{Name: "registry", Runner: a.registry})
	}
	err = runner.Group(ctx, units...)
	if err != nil {
		return fmt.Errorf("auctioneer: %w", err)
	}
	return nil
}
