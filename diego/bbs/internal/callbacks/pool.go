package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/internal/config"
)

// Defaults for Config.
const (
	DefaultWorkers      = 100
	DefaultQueueSize    = 1000
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultRetries      = 2
	DefaultRetryBackoff = 500 * time.Millisecond
)

// Config tunes a Pool: the callbacks section of the BBS's configuration.
// The zero value gives the defaults.
type Config struct {
	// Workers deliver callbacks concurrently. Default 100.
	Workers int `yaml:"workers"`
	// QueueSize bounds the tasks waiting for a worker; beyond it Submit
	// drops them. Default 1000.
	QueueSize int `yaml:"queue_size"`
	// HTTPTimeout bounds each POST. Default 10s.
	HTTPTimeout time.Duration `yaml:"http_timeout"`
	// Retries is how many more times a POST that failed (transport error
	// or 5xx) is tried. Default 2, so 3 attempts as in Diego; negative
	// means none.
	Retries int `yaml:"retries"`
	// RetryBackoff is the wait before the first retry, doubling for each
	// next one. Default 500ms.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
}

// Validate reports every problem, joined. Call it after Defaults.
func (c *Config) Validate() error {
	var p config.Problems
	if c.Workers <= 0 {
		p.Addf("workers %d is not positive", c.Workers)
	}
	if c.QueueSize <= 0 {
		p.Addf("queue_size %d is not positive", c.QueueSize)
	}
	if c.HTTPTimeout <= 0 {
		p.Addf("http_timeout %v is not positive", c.HTTPTimeout)
	}
	if c.RetryBackoff <= 0 {
		p.Addf("retry_backoff %v is not positive", c.RetryBackoff)
	}
	return p.Err()
}

// normalized is c with defaults, and with values Validate would refuse
// replaced by defaults too, so that New works on any Config.
func (c Config) normalized() Config {
	c.Defaults()
	d := Config{}
	d.Defaults()
	if c.Workers < 0 {
		c.Workers = d.Workers
	}
	if c.QueueSize < 0 {
		c.QueueSize = d.QueueSize
	}
	if c.HTTPTimeout < 0 {
		c.HTTPTimeout = d.HTTPTimeout
	}
	if c.RetryBackoff < 0 {
		c.RetryBackoff = d.RetryBackoff
	}
	c.Retries = max(c.Retries, 0)
	return c
}

// Store moves tasks through resolution (the task store).
type Store interface {
	ResolvingTask(ctx context.Context, guid string) (models.Result, error)
	DeleteTask(ctx context.Context, guid string) (models.Result, error)
}

// Deps are what a Pool works with.
type Deps struct {
	// Logger; nil discards.
	Logger *slog.Logger
	// Client makes the POSTs; nil means a plain http.Client. Its own
	// Timeout, if any, applies on top of Config.HTTPTimeout.
	Client *http.Client
	// Store is required.
	Store Store
	// Apply acts on the Result of every committed ResolvingTask and
	// DeleteTask (publishes their events). nil drops them, for a Store
	// that acts on its Results itself.
	Apply func(models.Result)
	// Registerer gets the pool's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Pool delivers completion callbacks.
type Pool struct {
	cfg     Config
	deps    Deps
	logger  *slog.Logger
	queue   chan *bbsv1.Task
	ready   chan struct{}
	started atomic.Bool
	metrics metrics

	mu     sync.Mutex
	queued map[string]struct{} // guids queued or being delivered
}

// New returns a pool; Run must be running for callbacks to be delivered.
func New(cfg Config, deps Deps) (*Pool, error) {
	if deps.Store == nil {
		return nil, errors.New("callbacks: Deps.Store is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Client == nil {
		deps.Client = &http.Client{}
	}
	cfg = cfg.normalized()
	p := &Pool{
		cfg:    cfg,
		deps:   deps,
		logger: deps.Logger.With("component", "task-callbacks"),
		queue:  make(chan *bbsv1.Task, cfg.QueueSize),
		ready:  make(chan struct{}),
		queued: make(map[string]struct{}),
	}
	p.metrics = newMetrics(func() float64 { return float64(len(p.queue)) })
	if deps.Registerer != nil {
		if err := p.metrics.register(deps.Registerer); err != nil {
			return nil, fmt.Errorf("callbacks: %w", err)
		}
	}
	return p, nil
}

// Submit queues a completed task for delivery without blocking. A task
// without a callback URL is skipped, one already queued or being delivered
// is ignored, and when the queue is full the task is dropped (convergence
// submits it again).
func (p *Pool) Submit(task *bbsv1.Task) {
	guid := task.GetTaskGuid()
	if task.GetDefinition().GetCompletionCallbackUrl() == "" {
		p.metrics.outcome(outcomeSkipped)
		p.logger.Debug("task has no callback URL, not delivering", "task_guid", guid)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.queued[guid]; ok {
		return
	}
	select {
	case p.queue <- task:
		p.queued[guid] = struct{}{}
	default:
		p.metrics.dropped.Inc()
		p.logger.Warn("callback queue full, dropping task until convergence submits it again", "task_guid", guid)
	}
}

// Ready is closed once Run's workers are started.
func (p *Pool) Ready() <-chan struct{} { return p.ready }

// Run delivers queued callbacks until ctx is cancelled, then waits for the
// workers and returns nil. Deliveries in flight are abandoned (their tasks
// stay RESOLVING until convergence hands them back). Run may be called
// once.
func (p *Pool) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("callbacks: Run called twice")
	}
	var wg sync.WaitGroup
	for range p.cfg.Workers {
		wg.Go(func() { p.work(ctx) })
	}
	close(p.ready)
	p.logger.Info("delivering task callbacks", "workers", p.cfg.Workers)
	wg.Wait()
	return nil
}

func (p *Pool) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-p.queue:
			var outcome string
			if ctx.Err() == nil {
				outcome = p.deliver(ctx, t)
			}
			p.mu.Lock()
			delete(p.queued, t.GetTaskGuid())
			p.mu.Unlock()
			// Counted after the guid is released, so that once the count
			// shows, the task can be submitted again.
			if outcome != "" {
				p.metrics.outcome(outcome)
			}
		}
	}
}

// deliver resolves one task: RESOLVING, POST, delete. It returns the
// outcome to count, "" when ctx ended.
func (p *Pool) deliver(ctx context.Context, t *bbsv1.Task) string {
	guid := t.GetTaskGuid()
	logger := p.logger.With("task_guid", guid)
	target, err := url.Parse(t.GetDefinition().GetCompletionCallbackUrl())
	if err != nil {
		// The store validates URLs; this is a task from elsewhere.
		logger.Error("invalid callback URL, not delivering", "err", err)
		return outcomeSkipped
	}
	logger = logger.With("callback_url", target.Redacted())

	r, err := p.deps.Store.ResolvingTask(ctx, guid)
	switch {
	case handledElsewhere(err):
		logger.Debug("task is being resolved elsewhere or is gone", "err", err)
		return outcomeSkipped
	case err != nil && ctx.Err() != nil:
		return ""
	case err != nil:
		logger.Warn("marking task resolving failed", "err", err)
		return outcomeStoreError
	}
	p.apply(r)

	body, err := json.Marshal(callbackBody{
		TaskGUID:      guid,
		Failed:        t.GetFailed(),
		FailureReason: t.GetFailureReason(),
		Result:        t.GetResult(),
		Annotation:    t.GetDefinition().GetAnnotation(),
		CreatedAt:     t.GetCreatedAt(),
	})
	if err != nil {
		logger.Error("encoding callback failed", "err", err)
		return outcomeFailed
	}
	code, attempts, err := p.post(ctx, target.String(), body)
	switch {
	case err != nil && ctx.Err() != nil:
		return ""
	case err != nil:
		logger.Warn("callback not delivered, left for convergence", "attempts", attempts, "err", err)
		return outcomeFailed
	}
	logger.Debug("callback delivered", "status", code, "attempts", attempts)

	r, err = p.deps.Store.DeleteTask(ctx, guid)
	switch {
	case handledElsewhere(err):
		// Convergence demoted or deleted it meanwhile.
		logger.Info("task changed while its callback was delivered", "err", err)
	case err != nil && ctx.Err() == nil:
		logger.Warn("deleting delivered task failed, left for convergence", "err", err)
	case err == nil:
		p.apply(r)
	}
	return outcomeDelivered
}

// post POSTs body to target until it gets a status below 500 or runs out
// of attempts, and returns that status.
func (p *Pool) post(ctx context.Context, target string, body []byte) (code, attempts int, err error) {
	backoff := p.cfg.RetryBackoff
	for attempts = 1; ; attempts++ {
		code, err = p.attempt(ctx, target, body)
		if err == nil && code < 500 {
			return code, attempts, nil
		}
		if err == nil {
			err = fmt.Errorf("status %d", code)
		}
		if attempts > p.cfg.Retries || ctx.Err() != nil {
			return code, attempts, err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return code, attempts, err
		case <-timer.C:
		}
		backoff *= 2
	}
}

// attempt is one POST.
func (p *Pool) attempt(ctx context.Context, target string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.deps.Client.Do(req)
	if err != nil {
		p.metrics.request("error")
		return 0, err
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	p.metrics.request(fmt.Sprintf("%dxx", resp.StatusCode/100))
	return resp.StatusCode, nil
}

func (p *Pool) apply(r models.Result) {
	if p.deps.Apply != nil && !r.Empty() {
		p.deps.Apply(r)
	}
}

// handledElsewhere reports whether a store error means another party
// resolved, demoted or deleted the task.
func handledElsewhere(err error) bool {
	return bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION) ||
		bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND)
}

// callbackBody is what the callback URL receives: Diego's
// TaskCallbackResponse.
type callbackBody struct {
	TaskGUID      string `json:"task_guid"`
	Failed        bool   `json:"failed"`
	FailureReason string `json:"failure_reason"`
	Result        string `json:"result"`
	Annotation    string `json:"annotation,omitempty"`
	CreatedAt     int64  `json:"created_at"`
}
