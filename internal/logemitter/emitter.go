package logemitter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/internal/rpc"
)

// Backoff between reconnection attempts.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// flushTimeout bounds the final flush when Run's ctx is cancelled.
	flushTimeout = 2 * time.Second
)

// Deps are the Emitter's collaborators; the zero value works.
type Deps struct {
	// Logger receives connection problems; nil discards them.
	Logger *slog.Logger
	// Registerer receives the emitter's metrics; nil records none.
	Registerer prometheus.Registerer
}

// Emitter sends envelopes to loggregator. See the package comment.
type Emitter struct {
	cfg     Config
	enabled bool
	logger  *slog.Logger
	ring    *diode
	started atomic.Bool
	sent    atomic.Uint64

	mDropped prometheus.Counter
	mSent    prometheus.Counter
	mErrors  prometheus.Counter
}

// New returns an Emitter for cfg (after Defaults and Validate). It does not
// connect: Run does.
func New(cfg Config, deps Deps) (*Emitter, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("logemitter: %w", err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Emitter{
		cfg: cfg, enabled: cfg.Enabled(), logger: logger,
		mDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logemitter_dropped_envelopes_total",
			Help: "Envelopes dropped because the send buffer was full (or a batch could not be sent).",
		}),
		mSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logemitter_sent_envelopes_total",
			Help: "Envelopes handed to the loggregator ingress stream.",
		}),
		mErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logemitter_send_errors_total",
			Help: "Failed sends to the loggregator ingress (each followed by a reconnect).",
		}),
	}
	if e.enabled {
		e.ring = newDiode(cfg.BufferSize)
	}
	if deps.Registerer != nil {
		for _, c := range []prometheus.Collector{e.mDropped, e.mSent, e.mErrors} {
			if err := deps.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("logemitter: register metrics: %w", err)
			}
		}
	}
	return e, nil
}

// Enabled reports whether envelopes are sent anywhere.
func (e *Emitter) Enabled() bool { return e.enabled }

// Dropped returns how many envelopes were dropped.
func (e *Emitter) Dropped() uint64 {
	if !e.enabled {
		return 0
	}
	return e.ring.droppedCount()
}

// Sent returns how many envelopes were handed to the ingress stream.
func (e *Emitter) Sent() uint64 { return e.sent.Load() }

// Buffered returns how many envelopes wait to be sent.
func (e *Emitter) Buffered() int {
	if !e.enabled {
		return 0
	}
	return e.ring.len()
}

// Emit queues env, giving it the configured origin and tags it lacks (in
// a new map: env.Tags itself is not written). env must not be modified
// afterwards. It never blocks.
func (e *Emitter) Emit(env *loggregator_v2.Envelope) {
	if !e.enabled || env == nil {
		return
	}
	if env.Timestamp == 0 {
		env.Timestamp = time.Now().UnixNano()
	}
	if e.needsTags(env.Tags) {
		// Copy: callers often share one tags map between envelopes.
		tags := make(map[string]string, len(env.Tags)+len(e.cfg.Tags)+1)
		for k, v := range e.cfg.Tags {
			tags[k] = v
		}
		if e.cfg.Origin != "" {
			tags[TagOrigin] = e.cfg.Origin
		}
		for k, v := range env.Tags {
			tags[k] = v
		}
		env.Tags = tags
	}
	if e.ring.push(env) {
		e.mDropped.Inc()
	}
}

// needsTags reports whether tags lacks a configured tag or the origin.
func (e *Emitter) needsTags(tags map[string]string) bool {
	if _, ok := tags[TagOrigin]; !ok && e.cfg.Origin != "" {
		return true
	}
	for k := range e.cfg.Tags {
		if _, ok := tags[k]; !ok {
			return true
		}
	}
	return false
}

// Run sends queued envelopes until ctx is cancelled, reconnecting with
// backoff after failures; then it tries for up to 2s to send what is
// still queued, and returns nil. A disabled Emitter's Run only waits.
func (e *Emitter) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("logemitter: run called twice")
	}
	if !e.enabled {
		<-ctx.Done()
		return nil
	}
	conn, err := rpc.Dial(ctx, e.cfg.ClientConfig)
	if err != nil {
		return fmt.Errorf("logemitter: %w", err)
	}
	defer conn.Close()
	s := &sender{e: e, client: loggregator_v2.NewIngressClient(conn)}
	// Streams outlive ctx by flushTimeout, for the final flush; a send
	// blocked on a stalled server is cut off then too.
	streamCtx, cancelStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStreams()
	// (A timer still pending when Run returns only cancels again.)
	context.AfterFunc(ctx, func() { time.AfterFunc(flushTimeout, cancelStreams) })
	s.ctx = streamCtx

	tick := time.NewTicker(e.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			e.flush(s)
			return nil
		case <-e.ring.notify:
			// Wait a little for a batch to fill, unless it already has.
			if e.ring.len() < e.cfg.BatchSize {
				select {
				case <-tick.C:
				case <-ctx.Done():
					continue
				}
			}
		case <-tick.C:
		}
		s.sendAll(ctx)
	}
}

// flush sends what is queued until the streams' context ends (flushTimeout
// after Run's), then closes the stream.
func (e *Emitter) flush(s *sender) {
	s.sendAll(s.ctx)
	if s.stream != nil {
		_, _ = s.stream.CloseAndRecv()
	}
	if n := e.ring.len(); n > 0 {
		e.logger.Warn("loggregator: envelopes left unsent at shutdown", "count", n)
	}
}

// sender owns the stream; only Run's goroutine uses it.
type sender struct {
	e       *Emitter
	ctx     context.Context // the streams' context
	client  loggregator_v2.IngressClient
	stream  loggregator_v2.Ingress_BatchSenderClient
	batch   []*loggregator_v2.Envelope
	pending []*loggregator_v2.Envelope // a failed batch to retry
	backoff time.Duration
	failing bool
}

// sendAll sends batches until the ring is empty or a send fails (then it
// waits out the backoff, bounded by stop).
func (s *sender) sendAll(stop context.Context) {
	for {
		b := s.pending
		if b == nil {
			s.batch = s.e.ring.take(s.batch, s.e.cfg.BatchSize)
			if len(s.batch) == 0 {
				return
			}
			b = s.batch
		}
		if err := s.send(b); err != nil {
			s.e.mErrors.Inc()
			if s.pending != nil {
				// Second failure of this batch: give it up.
				s.e.mDropped.Add(float64(len(b)))
				s.pending = nil
			} else {
				s.pending = append([]*loggregator_v2.Envelope(nil), b...)
			}
			if !s.failing {
				s.e.logger.Warn("loggregator: send failed; reconnecting", "err", err)
				s.failing = true
			}
			s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
			wait := s.backoff/2 + rand.N(s.backoff/2+1)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-stop.Done():
				t.Stop()
				return
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		s.pending = nil
		s.backoff = 0
		if s.failing {
			s.e.logger.Info("loggregator: sending again")
			s.failing = false
		}
		s.e.sent.Add(uint64(len(b)))
		s.e.mSent.Add(float64(len(b)))
	}
}

func (s *sender) send(b []*loggregator_v2.Envelope) error {
	if s.stream == nil {
		st, err := s.client.BatchSender(s.ctx)
		if err != nil {
			return fmt.Errorf("open stream: %w", err)
		}
		s.stream = st
	}
	if err := s.stream.Send(&loggregator_v2.EnvelopeBatch{Batch: b}); err != nil {
		_, rerr := s.stream.CloseAndRecv()
		s.stream = nil
		if rerr != nil {
			err = rerr
		}
		return fmt.Errorf("send: %w", err)
	}
	return nil
}
