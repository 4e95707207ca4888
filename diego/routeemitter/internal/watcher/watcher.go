package watcher

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/diego/routeemitter/internal/table"
)

// resyncEpoch is the epoch a subscription without a position names: no BBS
// has it, so the stream starts with a Resync.
const resyncEpoch = "route-emitter-no-position"

// BBS is the part of the BBS API the watcher uses.
type BBS interface {
	SubscribeToEvents(ctx context.Context, in *bbsv1.SubscribeToEventsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[bbsv1.SubscribeToEventsResponse], error)
	ListDesiredLRPSchedulingInfos(ctx context.Context, in *bbsv1.ListDesiredLRPSchedulingInfosRequest, opts ...grpc.CallOption) (*bbsv1.ListDesiredLRPSchedulingInfosResponse, error)
	ListActualLRPs(ctx context.Context, in *bbsv1.ListActualLRPsRequest, opts ...grpc.CallOption) (*bbsv1.ListActualLRPsResponse, error)
}

// Publisher publishes registry messages; *registrar.Registrar is one.
type Publisher interface {
	Publish(subject string, msgs []router.RegistryMessage)
}

// Config tunes the watcher.
type Config struct {
	// SyncInterval is the time between full syncs besides those the BBS
	// asks for; 0 disables them.
	SyncInterval time.Duration
	// IdleTimeout drops a stream that delivered nothing (not even a
	// heartbeat) for this long; 0 disables it.
	IdleTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between subscriptions.
	RetryMin, RetryMax time.Duration
}

// Deps are the watcher's collaborators.
type Deps struct {
	BBS       BBS
	Table     *table.Table
	Publisher Publisher
	Metrics   *Metrics
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Metrics are the watcher's Prometheus metrics.
type Metrics struct {
	SyncDuration prometheus.Histogram
	Syncs        *prometheus.CounterVec // by result: ok, error
	Events       prometheus.Counter
}

// NewMetrics registers the watcher's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		SyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "route_emitter_sync_duration_seconds",
			Help:    "Time a full sync (listing desired and actual LRPs from the BBS) took.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		Syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "route_emitter_syncs_total", Help: "Full syncs with the BBS, by result.",
		}, []string{"result"}),
		Events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "route_emitter_bbs_events_total", Help: "BBS events received (heartbeats included).",
		}),
	}
	for _, c := range []prometheus.Collector{m.SyncDuration, m.Syncs, m.Events} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// Watcher follows the BBS. Create it with New.
type Watcher struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger

	synced     chan struct{}
	syncedOnce sync.Once

	// position of the last event applied; epoch "" when unknown.
	epoch string
	seq   uint64
}

// New returns a watcher.
func New(cfg Config, deps Deps) *Watcher {
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 50 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(cfg.RetryMin, 5*time.Second)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg, deps: deps, logger: logger, synced: make(chan struct{})}
}

// Synced is closed after the first full sync.
func (w *Watcher) Synced() <-chan struct{} { return w.synced }

// Run follows the BBS until ctx is cancelled, then returns nil.
func (w *Watcher) Run(ctx context.Context) error {
	backoff := w.cfg.RetryMin
	for {
		progressed, err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			backoff = w.cfg.RetryMin
		}
		w.logger.Warn("bbs event stream ended; resubscribing", "err", err, "retry_in", backoff, "epoch", w.epoch, "sequence", w.seq)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, w.cfg.RetryMax)
	}
}

// session runs one subscription until it fails. progressed reports
// whether it received anything.
func (w *Watcher) session(ctx context.Context) (progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var reader sync.WaitGroup
	defer reader.Wait()
	defer cancel()

	req := &bbsv1.SubscribeToEventsRequest{Epoch: w.epoch, AfterSequence: w.seq}
	if w.epoch == "" {
		req = &bbsv1.SubscribeToEventsRequest{Epoch: resyncEpoch}
	}
	stream, err := w.deps.BBS.SubscribeToEvents(ctx, req)
	if err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	q := newQueue()
	reader.Go(func() {
		for {
			ev, err := stream.Recv()
			q.push(ev, err)
			if err != nil {
				return
			}
		}
	})

	var syncC, idleC <-chan time.Time
	if w.cfg.SyncInterval > 0 {
		t := time.NewTicker(w.cfg.SyncInterval)
		defer t.Stop()
		syncC = t.C
	}
	var idle *time.Timer
	if w.cfg.IdleTimeout > 0 {
		idle = time.NewTimer(w.cfg.IdleTimeout)
		defer idle.Stop()
		idleC = idle.C
	}
	for {
		select {
		case <-ctx.Done():
			return progressed, ctx.Err()
		case <-idleC:
			return progressed, fmt.Errorf("no event or heartbeat for %v", w.cfg.IdleTimeout)
		case <-syncC:
			if err := w.sync(ctx, "interval"); err != nil {
				return progressed, err
			}
		case <-q.ready:
			evs, err := q.drain()
			for _, ev := range evs {
				if err := w.handle(ctx, ev); err != nil {
					return progressed, err
				}
				progressed = true
			}
			if err != nil {
				return progressed, fmt.Errorf("receive: %w", err)
			}
			if idle != nil && len(evs) > 0 {
				idle.Reset(w.cfg.IdleTimeout)
			}
		}
	}
}

// handle applies one event.
func (w *Watcher) handle(ctx context.Context, ev *bbsv1.SubscribeToEventsResponse) error {
	if m := w.deps.Metrics; m != nil {
		m.Events.Inc()
	}
	t := w.deps.Table
	var ch table.Changes
	switch e := ev.GetEvent().(type) {
	case *bbsv1.SubscribeToEventsResponse_Resync:
		// Until the listing succeeds the position is worthless: a new
		// subscription must resync again.
		w.epoch, w.seq = "", 0
		reason := e.Resync.GetReason()
		select {
		case <-w.synced:
		default:
			reason = "first sync"
		}
		if err := w.sync(ctx, reason); err != nil {
			return err
		}
	case *bbsv1.SubscribeToEventsResponse_DesiredLrpCreated:
		ch = t.SetDesired(e.DesiredLrpCreated.GetDesiredLrp())
	case *bbsv1.SubscribeToEventsResponse_DesiredLrpChanged:
		ch = t.SetDesired(e.DesiredLrpChanged.GetAfter())
	case *bbsv1.SubscribeToEventsResponse_DesiredLrpRemoved:
		ch = t.RemoveDesired(e.DesiredLrpRemoved.GetDesiredLrp())
	case *bbsv1.SubscribeToEventsResponse_ActualLrpCreated:
		ch = t.SetActual(e.ActualLrpCreated.GetActualLrp())
	case *bbsv1.SubscribeToEventsResponse_ActualLrpChanged:
		ch = t.SetActual(e.ActualLrpChanged.GetAfter())
	case *bbsv1.SubscribeToEventsResponse_ActualLrpRemoved:
		ch = t.RemoveActual(e.ActualLrpRemoved.GetActualLrp())
	}
	w.publish(ch)
	w.epoch, w.seq = ev.GetEpoch(), ev.GetSequence()
	return nil
}

// sync lists the BBS's state and makes it the table's.
func (w *Watcher) sync(ctx context.Context, reason string) (err error) {
	start := time.Now()
	defer func() {
		if m := w.deps.Metrics; m != nil {
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.Syncs.WithLabelValues(result).Inc()
			m.SyncDuration.Observe(time.Since(start).Seconds())
		}
	}()
	desired, err := w.deps.BBS.ListDesiredLRPSchedulingInfos(ctx, &bbsv1.ListDesiredLRPSchedulingInfosRequest{})
	if err != nil {
		return fmt.Errorf("sync: list desired LRPs: %w", err)
	}
	actuals, err := w.deps.BBS.ListActualLRPs(ctx, &bbsv1.ListActualLRPsRequest{})
	if err != nil {
		return fmt.Errorf("sync: list actual LRPs: %w", err)
	}
	ch := w.deps.Table.Replace(desired.GetSchedulingInfos(), actuals.GetActualLrps())
	w.publish(ch)
	w.logger.Info("synced with bbs", "reason", reason, "desired", len(desired.GetSchedulingInfos()),
		"actual", len(actuals.GetActualLrps()), "registrations", w.deps.Table.Len(),
		"registered", len(ch.Register), "unregistered", len(ch.Unregister), "took", time.Since(start))
	w.syncedOnce.Do(func() { close(w.synced) })
	return nil
}

func (w *Watcher) publish(ch table.Changes) {
	if len(ch.Unregister) > 0 {
		w.deps.Publisher.Publish(router.SubjectUnregister, ch.Unregister)
	}
	if len(ch.Register) > 0 {
		w.deps.Publisher.Publish(router.SubjectRegister, ch.Register)
	}
}

// queue is the unbounded hand-over from the stream reader to the session,
// so that the BBS never cuts the stream off while a listing runs.
type queue struct {
	mu    sync.Mutex
	evs   []*bbsv1.SubscribeToEventsResponse
	err   error
	ready chan struct{} // has a token while evs or err is pending
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) push(ev *bbsv1.SubscribeToEventsResponse, err error) {
	q.mu.Lock()
	if err != nil {
		q.err = err
	} else {
		q.evs = append(q.evs, ev)
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// drain takes everything queued, and the stream's error once all events
// before it were taken.
func (q *queue) drain() ([]*bbsv1.SubscribeToEventsResponse, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.evs
	q.evs = nil
	return evs, q.err
}
