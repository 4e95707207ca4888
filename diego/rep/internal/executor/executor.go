package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/download"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// Capacity is what the cell offers.
type Capacity struct {
	MemoryMB   int32
	DiskMB     int32
	Containers int32
}

// Config is the executor's part of the rep's configuration. Every
// duration must be positive (the rep fills the defaults).
type Config struct {
	CellID string
	Zone   string
	// Stacks are the root filesystems the cell runs ("cflinuxfs4"),
	// already given to Runtime.EnsureStack.
	Stacks                []string
	PlacementTags         []string
	OptionalPlacementTags []string
	Capacity              Capacity
	// LifecycleDir, when set, is bind-mounted read-only at /tmp/lifecycle
	// in every container.
	LifecycleDir string
	// GracePeriod is how long a stopped process has between SIGTERM and
	// SIGKILL.
	GracePeriod time.Duration
	// StartupInterval is the pause between startup health checks.
	StartupInterval time.Duration
	// LivenessInterval is the pause between liveness (and readiness)
	// checks of a healthy instance whose check sets no interval.
	LivenessInterval time.Duration
	// StartTimeout is how long an instance may take to become healthy
	// when its LRP sets no start timeout.
	StartTimeout time.Duration
	// BulkSyncInterval is the pause between bulk syncs with the BBS.
	BulkSyncInterval time.Duration
	// MetricsInterval is the pause between container metrics reports.
	MetricsInterval time.Duration
	// EvacuationTimeout bounds how long evacuation waits for replacements
	// before stopping everything.
	EvacuationTimeout time.Duration
	// EvacuationPollInterval is the pause between evacuation rounds.
	EvacuationPollInterval time.Duration
	// MaxUploadBytes bounds a file a task uploads.
	MaxUploadBytes int64
}

// BBS is the part of the BBS API the executor calls, with the generated
// client's signatures so that bbsv1.BBSServiceClient satisfies it. It is
// larger than a role interface should be because it is the subset of one
// generated client; tests use fakebbs.Client.
type BBS interface {
	GetDesiredLRP(ctx context.Context, in *bbsv1.GetDesiredLRPRequest, opts ...grpc.CallOption) (*bbsv1.GetDesiredLRPResponse, error)
	ListActualLRPs(ctx context.Context, in *bbsv1.ListActualLRPsRequest, opts ...grpc.CallOption) (*bbsv1.ListActualLRPsResponse, error)
	ClaimActualLRP(ctx context.Context, in *bbsv1.ClaimActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.ClaimActualLRPResponse, error)
	StartActualLRP(ctx context.Context, in *bbsv1.StartActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.StartActualLRPResponse, error)
	CrashActualLRP(ctx context.Context, in *bbsv1.CrashActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.CrashActualLRPResponse, error)
	RemoveActualLRP(ctx context.Context, in *bbsv1.RemoveActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.RemoveActualLRPResponse, error)
	EvacuateClaimedActualLRP(ctx context.Context, in *bbsv1.EvacuateClaimedActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.EvacuateClaimedActualLRPResponse, error)
	EvacuateRunningActualLRP(ctx context.Context, in *bbsv1.EvacuateRunningActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.EvacuateRunningActualLRPResponse, error)
	EvacuateStoppedActualLRP(ctx context.Context, in *bbsv1.EvacuateStoppedActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.EvacuateStoppedActualLRPResponse, error)
	EvacuateCrashedActualLRP(ctx context.Context, in *bbsv1.EvacuateCrashedActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.EvacuateCrashedActualLRPResponse, error)
	RemoveEvacuatingActualLRP(ctx context.Context, in *bbsv1.RemoveEvacuatingActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.RemoveEvacuatingActualLRPResponse, error)
	StartTask(ctx context.Context, in *bbsv1.StartTaskRequest, opts ...grpc.CallOption) (*bbsv1.StartTaskResponse, error)
	CompleteTask(ctx context.Context, in *bbsv1.CompleteTaskRequest, opts ...grpc.CallOption) (*bbsv1.CompleteTaskResponse, error)
	RejectTask(ctx context.Context, in *bbsv1.RejectTaskRequest, opts ...grpc.CallOption) (*bbsv1.RejectTaskResponse, error)
	ListTasks(ctx context.Context, in *bbsv1.ListTasksRequest, opts ...grpc.CallOption) (*bbsv1.ListTasksResponse, error)
}

// Downloader fetches setup archives (package download).
type Downloader interface {
	Fetch(ctx context.Context, req download.Request) (*download.File, error)
}

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// ContainerMetrics is one container's resource usage, as Diego reports it
// to loggregator (a ContainerMetric envelope).
type ContainerMetrics struct {
	// AppID is the LRP's or task's log_guid.
	AppID         string
	InstanceIndex int32
	// CPUPercentage is the CPU used since the previous report, in percent
	// of one core.
	CPUPercentage    float64
	MemoryBytes      uint64
	MemoryLimitBytes uint64
	DiskBytes        uint64
	DiskLimitBytes   uint64
	// Tags are the metric tags. Shared: do not modify.
	Tags      map[string]string
	Timestamp time.Time
}

// MetricSink receives container metrics.
type MetricSink interface {
	EmitMetrics(ctx context.Context, m ContainerMetrics)
}

type discardMetrics struct{}

func (discardMetrics) EmitMetrics(context.Context, ContainerMetrics) {}

// Deps are the executor's collaborators. Runtime, BBS and Downloader are
// required.
type Deps struct {
	Runtime    runtime.Runtime
	BBS        BBS
	Downloader Downloader
	// LogSink receives app output; nil drops it.
	LogSink logstream.Sink
	// MetricSink receives container metrics; nil drops them.
	MetricSink MetricSink
	// Clock is time.Now when nil.
	Clock Clock
	// HTTP uploads task files; nil means a client with a 10-minute
	// timeout.
	HTTP    *http.Client
	Logger  *slog.Logger
	Metrics *Metrics
}

// Executor runs a cell's instances and tasks. See the package doc.
type Executor struct {
	cfg     Config
	rt      runtime.Runtime
	bbs     BBS
	dl      Downloader
	logs    logstream.Sink
	sink    MetricSink
	clock   Clock
	http    *http.Client
	logger  *slog.Logger
	metrics *Metrics
	stacks  map[string]bool

	// base is the context of every instance goroutine; Close cancels it.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	instances  map[string]*instance
	evacuating bool
	closed     bool
}

// New returns an executor. It touches nothing: call Recover, then Run.
func New(cfg Config, deps Deps) (*Executor, error) {
	switch {
	case deps.Runtime == nil:
		return nil, errors.New("executor: no runtime")
	case deps.BBS == nil:
		return nil, errors.New("executor: no bbs client")
	case deps.Downloader == nil:
		return nil, errors.New("executor: no downloader")
	case cfg.CellID == "":
		return nil, errors.New("executor: no cell id")
	}
	for name, d := range map[string]time.Duration{
		"grace period": cfg.GracePeriod, "startup interval": cfg.StartupInterval, "liveness interval": cfg.LivenessInterval,
		"start timeout": cfg.StartTimeout, "bulk sync interval": cfg.BulkSyncInterval, "metrics interval": cfg.MetricsInterval,
		"evacuation timeout": cfg.EvacuationTimeout, "evacuation poll interval": cfg.EvacuationPollInterval,
	} {
		if d <= 0 {
			return nil, fmt.Errorf("executor: %s %v is not positive", name, d)
		}
	}
	e := &Executor{
		cfg:       cfg,
		rt:        deps.Runtime,
		bbs:       deps.BBS,
		dl:        deps.Downloader,
		logs:      deps.LogSink,
		sink:      deps.MetricSink,
		clock:     deps.Clock,
		http:      deps.HTTP,
		logger:    deps.Logger,
		metrics:   deps.Metrics,
		stacks:    map[string]bool{},
		instances: map[string]*instance{},
	}
	if e.logs == nil {
		e.logs = logstream.Discard{}
	}
	if e.sink == nil {
		e.sink = discardMetrics{}
	}
	if e.clock == nil {
		e.clock = realClock{}
	}
	if e.http == nil {
		e.http = &http.Client{Timeout: 10 * time.Minute}
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.metrics == nil {
		e.metrics, _ = NewMetrics(nil) // unregistered: cannot fail
	}
	e.metrics.observe(e)
	for _, s := range cfg.Stacks {
		e.stacks[s] = true
	}
	e.base, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Run bulk-syncs with the BBS and reports container metrics, every
// interval, until ctx ends; then it returns nil. The first bulk sync runs
// at once.
func (e *Executor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		every(ctx, e.cfg.BulkSyncInterval, true, func() {
			if err := e.Sync(ctx); err != nil && ctx.Err() == nil {
				e.logger.Warn("bulk sync failed; retrying at the next interval", "err", err)
			}
		})
	})
	wg.Go(func() { every(ctx, e.cfg.MetricsInterval, false, func() { e.reportMetrics(ctx) }) })
	wg.Wait()
	return nil
}

// Close abandons what still runs, without stopping containers or telling
// the BBS (a restarted rep recovers them), and waits for the instance
// goroutines to return. The executor takes no work afterwards.
func (e *Executor) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
}

// every calls f every interval (at once first when now is true) until ctx
// ends.
func every(ctx context.Context, interval time.Duration, now bool, f func()) {
	if now {
		f()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// wait pauses for d, or until ctx ends (false).
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
