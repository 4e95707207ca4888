package mbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/anvilpaas/anvil/api/router"
)

// Defaults for Config's zero fields.
const (
	DefaultMinimumRegisterInterval = 20 * time.Second
	DefaultPruneThreshold          = 120 * time.Second
	DefaultPruneInterval           = 30 * time.Second
	DefaultStatusCheckInterval     = time.Second
	DefaultMalformedLogInterval    = 10 * time.Second
)

// Config configures a Subscriber.
type Config struct {
	// ID identifies this router in router.start messages.
	ID string
	// Hosts are this router's addresses, announced in router.start.
	Hosts []string
	// MinimumRegisterInterval is how often clients are asked to
	// re-register. Default 20s.
	MinimumRegisterInterval time.Duration
	// PruneThreshold is how long an endpoint lives without a refresh.
	// Default 120s.
	PruneThreshold time.Duration
	// PruneInterval is how often the table is pruned. Default 30s.
	PruneInterval time.Duration
	// StatusCheckInterval is how often the connection status is re-read
	// besides the status events. Default 1s.
	StatusCheckInterval time.Duration
	// MalformedLogInterval is the least time between two log lines about
	// malformed messages. Default 10s.
	MalformedLogInterval time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.MinimumRegisterInterval, DefaultMinimumRegisterInterval)
	def(&c.PruneThreshold, DefaultPruneThreshold)
	def(&c.PruneInterval, DefaultPruneInterval)
	def(&c.StatusCheckInterval, DefaultStatusCheckInterval)
	def(&c.MalformedLogInterval, DefaultMalformedLogInterval)
	return c
}

// Registry is the route table the Subscriber feeds; *registry.Registry
// implements it.
type Registry interface {
	Register(msg router.RegistryMessage, now time.Time)
	Unregister(msg router.RegistryMessage)
	Prune(now time.Time, threshold time.Duration)
	SuspendPruning(suspend bool)
}

// Deps are the Subscriber's collaborators.
type Deps struct {
	// Conn is the NATS connection, e.g. from natsconn.Connect. The
	// Subscriber does not close it.
	Conn     *nats.Conn
	Registry Registry
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Clock defaults to time.Now.
	Clock func() time.Time
}

// Stats counts the messages a Subscriber has handled.
type Stats struct {
	Registered   uint64 // router.register messages applied
	Unregistered uint64 // router.unregister messages applied
	Malformed    uint64 // messages dropped because they did not parse
	Greeted      uint64 // router.greet requests answered
	Started      uint64 // router.start messages published
	Pruned       uint64 // Prune calls made
}

// Subscriber connects the route table to NATS. Run it once.
type Subscriber struct {
	cfg    Config
	nc     *nats.Conn
	reg    Registry
	logger *slog.Logger
	clock  func() time.Time
	start  []byte // the router.start / router.greet reply payload
	ready  chan struct{}

	registered, unregistered, malformed, greeted, started, pruned atomic.Uint64

	malMu         sync.Mutex
	malLastLog    time.Time // when the last malformed line was logged
	malSuppressed uint64    // malformed messages not logged since then
}

// New returns a Subscriber. It panics if deps.Conn or deps.Registry is nil.
func New(cfg Config, deps Deps) *Subscriber {
	if deps.Conn == nil || deps.Registry == nil {
		panic("mbus: New needs Deps.Conn and Deps.Registry")
	}
	cfg = cfg.withDefaults()
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	start, err := router.StartMessage{
		ID:                               cfg.ID,
		Hosts:                            cfg.Hosts,
		MinimumRegisterIntervalInSeconds: seconds(cfg.MinimumRegisterInterval),
		PruneThresholdInSeconds:          seconds(cfg.PruneThreshold),
	}.Marshal()
	if err != nil {
		panic(fmt.Sprintf("mbus: marshal start message: %v", err)) // plain struct: cannot fail
	}
	return &Subscriber{
		cfg:    cfg,
		nc:     deps.Conn,
		reg:    deps.Registry,
		logger: deps.Logger.With("component", "mbus"),
		clock:  deps.Clock,
		start:  start,
		ready:  make(chan struct{}),
	}
}

// Ready is closed once Run has subscribed (and, when connected, asked
// every emitter to register with router.start).
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// Stats returns the counters so far.
func (s *Subscriber) Stats() Stats {
	return Stats{
		Registered:   s.registered.Load(),
		Unregistered: s.unregistered.Load(),
		Malformed:    s.malformed.Load(),
		Greeted:      s.greeted.Load(),
		Started:      s.started.Load(),
		Pruned:       s.pruned.Load(),
	}
}

// ErrConnClosed is returned by Run when the NATS connection is closed
// under it.
var ErrConnClosed = errors.New("mbus: nats connection closed")

// Run subscribes, publishes router.start and prunes until ctx is done,
// then unsubscribes and returns nil. It returns an error when subscribing
// fails or the connection is closed. A message callback already running
// may still finish after Run returns.
func (s *Subscriber) Run(ctx context.Context) (err error) {
	status := s.nc.StatusChanged() // before subscribing: no change is missed
	defer s.nc.RemoveStatusListener(status)

	var subs []*nats.Subscription
	defer func() {
		for _, sub := range subs {
			if uerr := sub.Unsubscribe(); uerr != nil && !errors.Is(uerr, nats.ErrConnectionClosed) && err == nil {
				err = fmt.Errorf("mbus: unsubscribe %s: %w", sub.Subject, uerr)
			}
		}
	}()
	// One subscription for every subject: NATS delivers each
	// subscription's messages on its own goroutine, so with one per
	// subject an unregister could overtake the register published just
	// before it. Greets are answered from the same loop; they are rare.
	sub, err := s.nc.Subscribe("router.*", s.onMessage)
	if err != nil {
		return fmt.Errorf("mbus: subscribe router.*: %w", err)
	}
	subs = append(subs, sub)

	// suspended mirrors what was last passed to SuspendPruning.
	suspended := false
	// reconcile applies status st. Events are applied by their own value,
	// not by re-reading Status, so that a quick disconnect and reconnect
	// still suspends, resumes and re-announces.
	reconcile := func(st nats.Status) error {
		switch {
		case st == nats.CLOSED:
			return ErrConnClosed
		case st != nats.CONNECTED && !suspended:
			suspended = true
			s.reg.SuspendPruning(true)
			s.logger.Warn("nats down: route pruning suspended", "nats_status", st.String())
		case st == nats.CONNECTED && suspended:
			suspended = false
			s.reg.SuspendPruning(false)
			s.logger.Info("nats back: route pruning resumed")
			s.publishStart()
		}
		return nil
	}

	// Flush so that the subscriptions are in place on the server before
	// router.start asks everyone to register.
	if s.nc.Status() == nats.CONNECTED {
		if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
			s.logger.Warn("nats flush failed", "err", err)
		}
	}
	if err := reconcile(s.nc.Status()); err != nil {
		return err
	}
	if !suspended {
		s.publishStart()
	} // else reconcile publishes it when the connection is back
	close(s.ready)

	prune := time.NewTicker(s.cfg.PruneInterval)
	defer prune.Stop()
	check := time.NewTicker(s.cfg.StatusCheckInterval)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case st, ok := <-status:
			if !ok { // closed by nats.go: rely on the periodic check
				status = nil
				continue
			}
			if err := reconcile(st); err != nil {
				return err
			}
		case <-check.C:
			if err := reconcile(s.nc.Status()); err != nil {
				return err
			}
		case <-prune.C:
			// While suspended the registry ignores Prune; it is still
			// called so that the registry stays the single authority.
			s.reg.Prune(s.clock(), s.cfg.PruneThreshold)
			s.pruned.Add(1)
		}
	}
}

func (s *Subscriber) publishStart() {
	if err := s.nc.Publish(router.SubjectStart, s.start); err != nil {
		s.logger.Warn("publish router.start failed", "err", err)
		return
	}
	s.started.Add(1)
	s.logger.Info("published router.start", "id", s.cfg.ID)
}

func (s *Subscriber) onRegister(m *nats.Msg) {
	msg, err := router.ParseRegistryMessage(m.Data)
	if err != nil {
		s.dropMalformed(m, err)
		return
	}
	s.reg.Register(msg, s.clock())
	s.registered.Add(1)
}

// onMessage dispatches by subject; router.start (ours and other routers')
// and unknown subjects are ignored.
func (s *Subscriber) onMessage(m *nats.Msg) {
	switch m.Subject {
	case router.SubjectRegister:
		s.onRegister(m)
	case router.SubjectUnregister:
		s.onUnregister(m)
	case router.SubjectGreet:
		s.onGreet(m)
	}
}

func (s *Subscriber) onUnregister(m *nats.Msg) {
	msg, err := router.ParseRegistryMessage(m.Data)
	if err != nil {
		s.dropMalformed(m, err)
		return
	}
	s.reg.Unregister(msg)
	s.unregistered.Add(1)
}

func (s *Subscriber) onGreet(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	if err := m.Respond(s.start); err != nil {
		s.logger.Warn("answer router.greet failed", "err", err)
		return
	}
	s.greeted.Add(1)
}

// dropMalformed counts a message that did not parse and logs it unless a
// line was logged less than MalformedLogInterval ago.
func (s *Subscriber) dropMalformed(m *nats.Msg, err error) {
	s.malformed.Add(1)
	now := s.clock()
	s.malMu.Lock()
	if !s.malLastLog.IsZero() && now.Sub(s.malLastLog) < s.cfg.MalformedLogInterval {
		s.malSuppressed++
		s.malMu.Unlock()
		return
	}
	suppressed := s.malSuppressed
	s.malSuppressed = 0
	s.malLastLog = now
	s.malMu.Unlock()
	s.logger.Warn("dropped malformed message", "subject", m.Subject, "bytes", len(m.Data),
		"err", truncate(err.Error(), 256), "dropped_since_last_log", suppressed)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
