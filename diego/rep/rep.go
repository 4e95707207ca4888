package rep

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/anvilpaas/anvil/internal/logemitter"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/capacity"
	"github.com/anvilpaas/anvil/diego/rep/internal/containerd"
	"github.com/anvilpaas/anvil/diego/rep/internal/download"
	"github.com/anvilpaas/anvil/diego/rep/internal/executor"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/diego/rep/internal/server"
	"github.com/anvilpaas/anvil/internal/bbsclient"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/rpc"
)

// bbsBackoff is the pause before a BBS call's second try; it doubles for
// each further try.
const bbsBackoff = 250 * time.Millisecond

// The sinks for app logs and container metrics, to be implemented by the
// loggregator client. Deps defaults both to sinks that drop everything.
type (
	// LogSink receives app output line by line, and the cell's own
	// messages about instances.
	LogSink = logstream.Sink
	// LogLine is one log message.
	LogLine = logstream.Line
	// LogStream tells stdout from stderr.
	LogStream = logstream.Stream
	// MetricSink receives container metrics every metrics_interval.
	MetricSink = executor.MetricSink
	// ContainerMetrics is one container's usage.
	ContainerMetrics = executor.ContainerMetrics
)

// The streams of a LogLine.
const (
	Stdout = logstream.Stdout
	Stderr = logstream.Stderr
)

// Clock tells the time, for log and metric timestamps and log rate
// limits.
type Clock interface {
	Now() time.Time
}

// Deps are what the rep is given besides its configuration.
type Deps struct {
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// Registry receives the metrics and is served on the ops listener's
	// /metrics; nil means a fresh ops.NewRegistry().
	Registry *prometheus.Registry
	// Runtime runs the containers; nil means containerd, configured by
	// Config.Containerd.
	Runtime runtime.Runtime
	// LogSink receives app logs; nil drops them.
	LogSink LogSink
	// MetricSink receives container metrics; nil drops them.
	MetricSink MetricSink
	// Clock is the wall clock when nil.
	Clock Clock
}

// Rep is the daemon.
type Rep struct {
	cfg      Config
	logger   *slog.Logger
	reg      *prometheus.Registry
	deps     Deps
	rt       runtime.Runtime // nil until Run when containerd is used
	metrics  *executor.Metrics
	capacity executor.Capacity
	registry *cellregistry.Registry
	rpc      *rpc.Server
	ops      *ops.Server
	http     *http.Client
	emitter  *logemitter.Emitter // nil unless logs go to Config.Loggregator
	ready    chan struct{}
	started  atomic.Bool
	// drain is closed by POST /evacuate on the ops listener.
	drain     chan struct{}
	drainOnce sync.Once
}

// New checks cfg, works out the capacity, loads the certificates and
// registers the metrics. It makes no connection and touches no container:
// Run does.
func New(cfg Config, deps Deps) (*Rep, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rep: %w", err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registry
	if reg == nil {
		reg = ops.NewRegistry()
	}
	r := &Rep{cfg: cfg, logger: logger, reg: reg, deps: deps, rt: deps.Runtime, ready: make(chan struct{}), drain: make(chan struct{})}
	var err error
	if r.capacity, err = resolveCapacity(cfg); err != nil {
		return nil, fmt.Errorf("rep: %w", err)
	}
	if r.http, err = httpClient(cfg.Download); err != nil {
		return nil, fmt.Errorf("rep: %w", err)
	}
	if r.metrics, err = executor.NewMetrics(reg); err != nil {
		return nil, fmt.Errorf("rep: %w", err)
	}
	if r.registry, err = cellregistry.New(cfg.Registry, cellregistry.Member{Cell: r.presence("")},
		cellregistry.Deps{Logger: logger, Registerer: reg}); err != nil {
		return nil, fmt.Errorf("rep: %w", err)
	}
	if r.rpc, err = rpc.NewServer(cfg.RPC, logger, reg); err != nil {
		return nil, fmt.Errorf("rep: %w", err)
	}
	if cfg.Loggregator.Enabled() && (deps.LogSink == nil || deps.MetricSink == nil) {
		if r.emitter, err = logemitter.New(cfg.Loggregator, logemitter.Deps{Logger: logger, Registerer: reg}); err != nil {
			return nil, fmt.Errorf("rep: %w", err)
		}
		if r.deps.LogSink == nil {
			r.deps.LogSink = newEmitterLogSink(r.emitter)
		}
		if r.deps.MetricSink == nil {
			r.deps.MetricSink = emitterMetricSink{r.emitter}
		}
	}
	r.ops = ops.New(cfg.Ops, logger, reg)
	r.ops.AddCheck("rpc", ops.ReadyCheck(r.rpc.Ready()))
	r.ops.AddCheck("registry", ops.ReadyCheck(r.registry.Ready()))
	// Diego's drain: evacuate, then stop, as on SIGTERM. The ops listener
	// is for the cell's own operators (loopback by default).
	r.ops.Handle("POST /evacuate", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.drainOnce.Do(func() { close(r.drain) })
		w.WriteHeader(http.StatusAccepted)
	}))
	return r, nil
}

// Ready is closed once the cell serves: the runtime checked, containers
// recovered, the gRPC, ops and registry listeners bound.
func (r *Rep) Ready() <-chan struct{} { return r.ready }

// Addr returns the gRPC listener's bound address ("" before Ready).
func (r *Rep) Addr() string {
	if addr := r.rpc.Addr(); addr != nil {
		return addr.String()
	}
	return ""
}

// RegistryAddr returns the cell registry member's gossip address ("" before
// Ready).
func (r *Rep) RegistryAddr() string { return r.registry.Addr() }

// Run checks the container runtime (and fails with its message when it
// cannot be used: the rep never runs apps without containers), imports the
// stacks, recovers the containers a previous rep left, then serves the
// RepService, joins the cell registry and keeps the cell in step with the
// BBS until ctx is cancelled. Then it evacuates (see the package doc),
// leaves the registry, stops the servers and returns nil. Run may be
// called once.
func (r *Rep) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("rep: run called twice")
	}
	if r.rt == nil {
		rt, err := containerd.New(r.cfg.Containerd, r.logger)
		if err != nil {
			return fmt.Errorf("rep: %w", err)
		}
		r.rt = rt
		defer rt.Close()
	}
	ex, closeAll, err := r.start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("rep: %w", err)
	}
	defer closeAll()

	// The servers run on their own context: they stay up while the cell
	// evacuates after ctx ends.
	inner, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	g, gctx := errgroup.WithContext(inner)
	g.Go(func() error { return wrap("ops", r.ops.Run(gctx)) })
	g.Go(func() error { return wrap("rpc", r.rpc.Run(gctx)) })
	g.Go(func() error {
		select {
		case <-r.rpc.Ready():
		case <-gctx.Done():
			return nil
		}
		if err := r.registry.UpdateCell(r.presence(r.cfg.advertise(r.rpc.Addr()))); err != nil {
			return wrap("registry", err)
		}
		return wrap("registry", r.registry.Run(gctx))
	})
	g.Go(func() error { return wrap("executor", ex.Run(gctx)) })
	if r.emitter != nil {
		g.Go(func() error { return wrap("loggregator", r.emitter.Run(gctx)) })
	}
	g.Go(func() error {
		for _, ch := range []<-chan struct{}{r.rpc.Ready(), r.ops.Ready(), r.registry.Ready()} {
			select {
			case <-ch:
			case <-gctx.Done():
				return nil
			}
		}
		r.logger.Info("rep ready", "cell_id", r.cfg.CellID, "addr", r.Addr(), "registry", r.registry.Addr())
		close(r.ready)
		return nil
	})
	g.Go(func() error {
		select {
		case <-gctx.Done(): // a unit failed: leave the containers for the next rep
			return nil
		case <-ctx.Done():
		case <-r.drain:
			r.logger.Info("evacuation requested on the ops listener")
		}
		ex.Evacuate(inner)
		stop()
		return nil
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("rep: %w", err)
	}
	r.logger.Info("rep stopped")
	return nil
}

// start prepares the runtime and the executor, and returns the executor
// and what to close when Run ends.
func (r *Rep) start(ctx context.Context) (*executor.Executor, func(), error) {
	if err := r.rt.Available(ctx); err != nil {
		return nil, nil, fmt.Errorf("container runtime unavailable: %w", err)
	}
	for _, name := range r.cfg.StackNames() {
		if err := r.rt.EnsureStack(ctx, name, r.cfg.Stacks[name]); err != nil {
			return nil, nil, fmt.Errorf("stack %s: %w", name, err)
		}
	}
	if err := r.rt.Cleanup(ctx); err != nil {
		r.logger.Warn("container runtime cleanup failed", "err", err)
	}
	cacheBytes := r.cfg.Download.CacheMB << 20
	if r.cfg.Download.CacheMB < 0 {
		cacheBytes = 0
	}
	dl, err := download.New(download.Config{
		Dir: r.cfg.Download.Dir, CacheBytes: cacheBytes, MaxBytes: r.cfg.Download.MaxMB << 20, Client: r.http, Logger: r.logger,
	})
	if err != nil {
		return nil, nil, err
	}
	conn, err := bbsclient.Dial(ctx, bbsclient.Config{
		RPC: r.cfg.BBS.ClientConfig, RequestTimeout: r.cfg.BBS.RequestTimeout, Attempts: r.cfg.BBS.Attempts, Backoff: bbsBackoff,
	})
	if err != nil {
		return nil, nil, err
	}
	ex, err := executor.New(executor.Config{
		CellID:                 r.cfg.CellID,
		Zone:                   r.cfg.Zone,
		Stacks:                 r.cfg.StackNames(),
		PlacementTags:          r.cfg.PlacementTags,
		OptionalPlacementTags:  r.cfg.OptionalPlacementTags,
		Capacity:               r.capacity,
		LifecycleDir:           r.cfg.LifecycleDir,
		GracePeriod:            r.cfg.GracePeriod,
		StartupInterval:        r.cfg.HealthCheck.StartupInterval,
		LivenessInterval:       r.cfg.HealthCheck.LivenessInterval,
		StartTimeout:           r.cfg.HealthCheck.StartTimeout,
		BulkSyncInterval:       r.cfg.BulkSyncInterval,
		MetricsInterval:        r.cfg.MetricsInterval,
		EvacuationTimeout:      r.cfg.Evacuation.Timeout,
		EvacuationPollInterval: r.cfg.Evacuation.PollInterval,
		MaxUploadBytes:         r.cfg.MaxUploadMB << 20,
	}, executor.Deps{
		Runtime: r.rt, BBS: bbsv1.NewBBSServiceClient(conn), Downloader: dl,
		LogSink: r.deps.LogSink, MetricSink: r.deps.MetricSink, Clock: r.deps.Clock,
		HTTP: r.http, Logger: r.logger, Metrics: r.metrics,
	})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	closeAll := func() {
		ex.Close()
		conn.Close()
	}
	if err := ex.Recover(ctx); err != nil {
		closeAll()
		return nil, nil, err
	}
	repv1.RegisterRepServiceServer(r.rpc.GRPC(), server.New(ex, r.cfg.CellID, r.logger))
	r.rpc.Health().SetServingStatus(repv1.RepService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return ex, closeAll, nil
}

// presence is the cell as the registry publishes it.
func (r *Rep) presence(addr string) *bbsv1.CellPresence {
	return &bbsv1.CellPresence{
		CellId:     r.cfg.CellID,
		RepAddress: addr,
		Zone:       r.cfg.Zone,
		Capacity: &bbsv1.CellCapacity{
			MemoryMb: r.capacity.MemoryMB, DiskMb: r.capacity.DiskMB, Containers: r.capacity.Containers,
		},
		Stacks:                r.cfg.StackNames(),
		PlacementTags:         r.cfg.PlacementTags,
		OptionalPlacementTags: r.cfg.OptionalPlacementTags,
	}
}

// resolveCapacity fills the capacity the config leaves to the machine.
func resolveCapacity(cfg Config) (executor.Capacity, error) {
	c := executor.Capacity{MemoryMB: cfg.Capacity.MemoryMB, DiskMB: cfg.Capacity.DiskMB, Containers: cfg.Capacity.Containers}
	if c.MemoryMB == 0 {
		mem, err := capacity.MemoryMB()
		if err != nil {
			return c, fmt.Errorf("capacity.memory_mb: %w", err)
		}
		if c.MemoryMB = int32(min(mem-int64(cfg.Capacity.ReservedMemoryMB), 1<<31-1)); c.MemoryMB <= 0 {
			return c, fmt.Errorf("capacity.memory_mb: the machine's %d MB do not exceed the %d MB reserved", mem, cfg.Capacity.ReservedMemoryMB)
		}
	}
	if c.DiskMB == 0 {
		if err := os.MkdirAll(cfg.Download.Dir, 0o700); err != nil {
			return c, fmt.Errorf("capacity.disk_mb: %w", err)
		}
		disk, err := capacity.DiskMB(cfg.Download.Dir)
		if err != nil {
			return c, fmt.Errorf("capacity.disk_mb: %w", err)
		}
		if c.DiskMB = int32(min(disk-int64(cfg.Capacity.ReservedDiskMB), 1<<31-1)); c.DiskMB <= 0 {
			return c, fmt.Errorf("capacity.disk_mb: the %d MB filesystem of %s does not exceed the %d MB reserved", disk, cfg.Download.Dir, cfg.Capacity.ReservedDiskMB)
		}
	}
	return c, nil
}

// httpClient is the client for downloads and uploads, trusting the
// system's CAs and download.ca_file.
func httpClient(cfg DownloadConfig) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("download.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("download.ca_file %s: no PEM certificates", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: cfg.Timeout}, nil
}

func wrap(unit string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", unit, err)
}
