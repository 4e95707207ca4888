// Package effects carries out what committed BBS changes set off
// (models.Result): it publishes their events, asks the auctioneer to place
// instances and tasks, asks cells to stop instances and tasks, and hands
// completed tasks to the callback workers.
//
// Events are published synchronously, in the caller's goroutine, so that a
// caller who serialises changes to one record also serialises their events.
// Everything else is queued and done by Run's workers: auctions are batched
// for a few milliseconds into one auctioneer call, stops and cancels go to
// their cells with bounded concurrency. None of it is retried here: what is
// lost (an auctioneer that is down, a cell that does not answer) is found
// again by convergence, which re-auctions stale UNCLAIMED instances and
// retires instances that should not run.
package effects

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// Publisher numbers and fans out events (the event hub).
type Publisher interface {
	Publish(evs ...*bbsv1.SubscribeToEventsResponse)
}

// Auctioneer places work (the auctioneer's gRPC client).
type Auctioneer interface {
	RequestLRPAuctions(ctx context.Context, in *auctioneerv1.RequestLRPAuctionsRequest) error
	RequestTaskAuctions(ctx context.Context, in *auctioneerv1.RequestTaskAuctionsRequest) error
}

// Cells finds a cell's rep (the cell registry plus a connection pool).
type Cells interface {
	// Rep returns a client for the cell's rep, and false when the cell is
	// not in the registry.
	Rep(cellID string) (repv1.RepServiceClient, bool)
}

// Remover deletes instance records whose cell is gone (the LRP store).
type Remover interface {
	RemoveActualLRP(ctx context.Context, guid string, index int32, ik *bbsv1.ActualLRPInstanceKey) (models.Result, error)
}

// Callbacks delivers completion callbacks (the callback workers).
type Callbacks interface {
	Submit(task *bbsv1.Task)
}

// Deps are what Effects works with.
type Deps struct {
	Events     Publisher
	Auctioneer Auctioneer
	Cells      Cells
	Remover    Remover
	Callbacks  Callbacks
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Options tunes Effects.
type Options struct {
	// BatchWindow is how long auctions are collected before one call.
	BatchWindow time.Duration
	// CallTimeout bounds each call to the auctioneer or a rep.
	CallTimeout time.Duration
	// Workers bounds concurrent calls to reps.
	Workers int
	// QueueSize bounds queued stops and cancels; beyond it they are dropped
	// (convergence retires the instances later).
	QueueSize int
}

// Effects carries out Results.
type Effects struct {
	deps Deps
	opts Options

	mu           sync.Mutex
	lrpAuctions  []*auctioneerv1.LRPStartRequest
	taskAuctions []*bbsv1.Task
	kick         chan struct{}

	calls   chan func(context.Context)
	metrics metrics
}

type metrics struct {
	auctionsRequested *prometheus.CounterVec
	failures          *prometheus.CounterVec
	dropped           prometheus.Counter
}

// New returns Effects; Run must be running for anything but events to
// happen.
func New(opts Options, deps Deps) (*Effects, error) {
	if opts.BatchWindow <= 0 {
		opts.BatchWindow = 10 * time.Millisecond
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 32
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10_000
	}
	e := &Effects{
		deps:  deps,
		opts:  opts,
		kick:  make(chan struct{}, 1),
		calls: make(chan func(context.Context), opts.QueueSize),
		metrics: metrics{
			auctionsRequested: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "bbs_auctions_requested_total", Help: "Instances and tasks sent to the auctioneer for placement.",
			}, []string{"kind"}),
			failures: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "bbs_effect_failures_total", Help: "Calls to the auctioneer or reps that failed (convergence retries them).",
			}, []string{"call"}),
			dropped: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "bbs_effects_dropped_total", Help: "Stops and cancels dropped because the queue was full.",
			}),
		},
	}
	if deps.Registerer != nil {
		for _, c := range []prometheus.Collector{e.metrics.auctionsRequested, e.metrics.failures, e.metrics.dropped} {
			if err := deps.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// Apply carries out r: events now, the rest by Run.
func (e *Effects) Apply(r models.Result) {
	if len(r.Events) > 0 {
		e.deps.Events.Publish(r.Events...)
	}
	if len(r.LRPAuctions) > 0 || len(r.TaskAuctions) > 0 {
		e.mu.Lock()
		e.lrpAuctions = append(e.lrpAuctions, r.LRPAuctions...)
		e.taskAuctions = append(e.taskAuctions, r.TaskAuctions...)
		e.mu.Unlock()
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
	for _, s := range r.Stops {
		e.enqueue(func(ctx context.Context) { e.stop(ctx, s) })
	}
	for _, c := range r.TaskCancels {
		e.enqueue(func(ctx context.Context) { e.cancelTask(ctx, c) })
	}
	if e.deps.Callbacks != nil {
		for _, t := range r.Callbacks {
			e.deps.Callbacks.Submit(t)
		}
	}
}

func (e *Effects) enqueue(f func(context.Context)) {
	select {
	case e.calls <- f:
	default:
		e.metrics.dropped.Inc()
	}
}

// Run does the queued work until ctx is cancelled.
func (e *Effects) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { e.auctionLoop(ctx); return nil })
	for range e.opts.Workers {
		g.Go(func() error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case f := <-e.calls:
					f(ctx)
				}
			}
		})
	}
	return g.Wait()
}

func (e *Effects) auctionLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
		}
		// Collect what arrives within the window into one call.
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.opts.BatchWindow):
		}
		e.mu.Lock()
		lrps, tasks := e.lrpAuctions, e.taskAuctions
		e.lrpAuctions, e.taskAuctions = nil, nil
		e.mu.Unlock()
		e.sendAuctions(ctx, lrps, tasks)
	}
}

func (e *Effects) sendAuctions(ctx context.Context, lrps []*auctioneerv1.LRPStartRequest, tasks []*bbsv1.Task) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.CallTimeout)
	defer cancel()
	if len(lrps) > 0 {
		if err := e.deps.Auctioneer.RequestLRPAuctions(ctx, &auctioneerv1.RequestLRPAuctionsRequest{Starts: lrps}); err != nil {
			e.metrics.failures.WithLabelValues("request_lrp_auctions").Inc()
			e.deps.Logger.Warn("auctioneer did not take instances; convergence will retry", "starts", len(lrps), "error", err)
		} else {
			n := 0
			for _, s := range lrps {
				n += len(s.GetIndices())
			}
			e.metrics.auctionsRequested.WithLabelValues("lrp").Add(float64(n))
		}
	}
	if len(tasks) > 0 {
		if err := e.deps.Auctioneer.RequestTaskAuctions(ctx, &auctioneerv1.RequestTaskAuctionsRequest{Tasks: tasks}); err != nil {
			e.metrics.failures.WithLabelValues("request_task_auctions").Inc()
			e.deps.Logger.Warn("auctioneer did not take tasks; convergence will retry", "tasks", len(tasks), "error", err)
		} else {
			e.metrics.auctionsRequested.WithLabelValues("task").Add(float64(len(tasks)))
		}
	}
}

func (e *Effects) stop(ctx context.Context, s models.StopInstance) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.CallTimeout)
	defer cancel()
	rep, ok := e.deps.Cells.Rep(s.InstanceKey.GetCellId())
	if !ok {
		// The cell is gone, and its instance with it: forget the record.
		r, err := e.deps.Remover.RemoveActualLRP(ctx, s.Key.GetProcessGuid(), s.Key.GetIndex(), s.InstanceKey)
		if err != nil {
			e.deps.Logger.Debug("remove instance of a missing cell", "process_guid", s.Key.GetProcessGuid(), "index", s.Key.GetIndex(), "error", err)
			return
		}
		e.Apply(r)
		return
	}
	if _, err := rep.StopLRPInstance(ctx, &repv1.StopLRPInstanceRequest{Key: s.Key, InstanceKey: s.InstanceKey}); err != nil {
		e.metrics.failures.WithLabelValues("stop_lrp_instance").Inc()
		e.deps.Logger.Warn("cell did not stop instance; convergence will retry", "cell_id", s.InstanceKey.GetCellId(),
			"process_guid", s.Key.GetProcessGuid(), "index", s.Key.GetIndex(), "error", err)
	}
}

func (e *Effects) cancelTask(ctx context.Context, c models.CancelTask) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.CallTimeout)
	defer cancel()
	rep, ok := e.deps.Cells.Rep(c.CellID)
	if !ok {
		return
	}
	if _, err := rep.CancelTask(ctx, &repv1.CancelTaskRequest{TaskGuid: c.TaskGUID}); err != nil {
		e.metrics.failures.WithLabelValues("cancel_task").Inc()
		e.deps.Logger.Warn("cell did not cancel task", "cell_id", c.CellID, "task_guid", c.TaskGUID, "error", err)
	}
}
