package routeemitter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/routeemitter/internal/table"
	"github.com/anvilpaas/anvil/diego/routeemitter/internal/watcher"
	"github.com/anvilpaas/anvil/internal/bbsclient"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/registrar"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/runner"
)

// bbsBackoff is the pause before a listing's second try; it doubles after.
const bbsBackoff = 250 * time.Millisecond

// Deps are what the emitter is given besides its configuration.
type Deps struct {
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// Registry receives the metrics and is served on /metrics; nil means a
	// fresh ops.NewRegistry().
	Registry *prometheus.Registry
}

// Emitter is the daemon.
type Emitter struct {
	cfg       Config
	logger    *slog.Logger
	bbsRPC    rpc.ClientConfig // TLS material loaded
	table     *table.Table
	metrics   *watcher.Metrics
	published *prometheus.CounterVec
	ops       *ops.Server
	synced    chan struct{}
	ready     chan struct{}
	started   atomic.Bool
}

// New checks cfg, loads the BBS client certificates and registers the
// metrics. It makes no connection: Run does.
func New(cfg Config, deps Deps) (*Emitter, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("route_emitter: %w", err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registry
	if reg == nil {
		reg = ops.NewRegistry()
	}
	e := &Emitter{
		cfg:    cfg,
		logger: logger,
		table:  table.New(table.Options{RegisterTLSPorts: cfg.Emit.RegisterTLSPorts}, logger),
		synced: make(chan struct{}),
		ready:  make(chan struct{}),
	}
	var err error
	if e.bbsRPC, err = rpc.LoadClientTLS(cfg.BBS.ClientConfig); err != nil {
		return nil, fmt.Errorf("route_emitter: bbs: %w", err)
	}
	if e.metrics, err = watcher.NewMetrics(reg); err != nil {
		return nil, fmt.Errorf("route_emitter: %w", err)
	}
	e.published = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "route_emitter_messages_total",
		Help: "Messages published to the routers, by subject (router.register, router.unregister).",
	}, []string{"subject"})
	routes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "route_emitter_routes",
		Help: "Registrations in the routing table (one per routable instance and URI).",
	}, func() float64 { return float64(e.table.Len()) })
	for _, c := range []prometheus.Collector{e.published, routes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("route_emitter: register metrics: %w", err)
		}
	}
	e.ops = ops.New(cfg.Ops, logger, reg)
	e.ops.AddCheck("bbs_sync", ops.ReadyCheck(e.synced))
	return e, nil
}

// Ready is closed once the ops listener is bound and the first full sync
// with the BBS is done (its registrations published).
func (e *Emitter) Ready() <-chan struct{} { return e.ready }

// OpsAddr is the ops listener's bound address ("" before it is bound).
func (e *Emitter) OpsAddr() string {
	if a := e.ops.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// Run emits until ctx is cancelled, then returns nil. It may be called
// once.
func (e *Emitter) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("route_emitter: run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for _, ch := range []<-chan struct{}{e.ops.Ready(), e.synced} {
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
		}
		e.logger.Info("route_emitter ready", "routes", e.table.Len())
		close(e.ready)
	}()
	err := runner.Group(ctx,
		runner.Named{Name: "ops", Runner: e.ops},
		runner.Named{Name: "emitter", Runner: runner.Func(e.emit)},
	)
	if err != nil {
		return fmt.Errorf("route_emitter: %w", err)
	}
	return nil
}

// emit connects to NATS and the BBS and runs the registrar and the
// watcher.
func (e *Emitter) emit(ctx context.Context) error {
	ncfg, err := e.cfg.NATS.Config("route_emitter")
	if err != nil {
		return err
	}
	nc, err := natsconn.Connect(ctx, ncfg, e.logger)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer nc.Close()
	conn, err := bbsclient.Dial(ctx, bbsclient.Config{
		RPC:            e.bbsRPC,
		RequestTimeout: e.cfg.BBS.RequestTimeout,
		Attempts:       e.cfg.BBS.Attempts,
		Backoff:        bbsBackoff,
	})
	if err != nil {
		return err
	}
	defer conn.Close()

	reg, err := registrar.New(registrar.Config{Interval: e.cfg.Emit.RegisterInterval}, registrar.Deps{
		Conn: nc, Logger: e.logger, Source: e.table, Published: e.published,
	})
	if err != nil {
		return err
	}
	w := watcher.New(watcher.Config{
		SyncInterval: e.cfg.Emit.syncInterval(),
		IdleTimeout:  e.cfg.BBS.EventIdleTimeout,
	}, watcher.Deps{
		BBS:       bbsv1.NewBBSServiceClient(conn),
		Table:     e.table,
		Publisher: reg,
		Metrics:   e.metrics,
		Logger:    e.logger,
	})
	go func() {
		select {
		case <-w.Synced():
			close(e.synced)
		case <-ctx.Done():
		}
	}()
	err = runner.Group(ctx,
		runner.Named{Name: "registrar", Runner: reg},
		runner.Named{Name: "watcher", Runner: w},
	)
	if ferr := nc.Flush(); ferr != nil && err == nil && ctx.Err() == nil {
		e.logger.Warn("nats flush at shutdown", "err", ferr)
	}
	return err
}
