package registrar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/api/router"
)

// DefaultInterval is how often registrations are published until a router
// announces its own interval (CF's default).
const DefaultInterval = 20 * time.Second

// Config is the registrar section of a system daemon's config file: the
// endpoint routers send traffic to and the URIs it serves.
type Config struct {
	// Host is the address routers reach the daemon on (IP or DNS name).
	Host string `yaml:"host"`
	// Port is the plain HTTP port; 0 when only TLSPort is served.
	Port int `yaml:"port"`
	// TLSPort is the HTTPS port routers use when set, checking the
	// certificate against ServerCertDomainSAN.
	TLSPort             int    `yaml:"tls_port"`
	ServerCertDomainSAN string `yaml:"server_cert_domain_san"`
	// URIs are the routes ("api.system.example.com", "uaa.example.com/x").
	URIs []string `yaml:"uris"`
	// Tags are added to the registration (component: the daemon's name).
	Tags map[string]string `yaml:"tags"`
	// Interval between registrations until a router announces one
	// (default 20s).
	Interval time.Duration `yaml:"interval"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
}

// Validate reports every problem with the static registration.
func (c *Config) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, errors.New("interval must be positive"))
	}
	if err := c.Message().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Message is the registration Config describes.
func (c *Config) Message() router.RegistryMessage {
	return router.RegistryMessage{
		Host: c.Host, Port: c.Port, TLSPort: c.TLSPort, ServerCertDomainSAN: c.ServerCertDomainSAN,
		URIs: c.URIs, Tags: c.Tags,
	}
}

// Source gives the registrations to publish at each emit.
type Source interface {
	Registrations() []router.RegistryMessage
}

// Deps are the registrar's collaborators.
type Deps struct {
	// Conn is the NATS connection (natsconn.Connect); the registrar does
	// not close it.
	Conn *nats.Conn
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Source, when set, replaces Config's static registration (whose
	// Host, Port, URIs… are then ignored and not validated), and nothing
	// is unregistered when Run ends.
	Source Source
	// Published, when set, counts the messages published by subject
	// (router.register, router.unregister); it needs one label.
	Published *prometheus.CounterVec
}

// Registrar publishes registrations. Create it with New.
type Registrar struct {
	cfg       Config
	conn      *nats.Conn
	logger    *slog.Logger
	source    Source
	static    bool
	published *prometheus.CounterVec

	now     chan struct{} // a full emit is wanted
	started atomic.Bool
	ready   chan struct{}

	// pubMu orders publishing: a full emit takes its snapshot of the
	// source and publishes it under pubMu, and Publish waits for it, so a
	// change published after a snapshot is never overtaken by it (an
	// unregister followed by a stale register).
	pubMu sync.Mutex

	mu        sync.Mutex
	intervals map[string]time.Duration // announced, by router id
	changed   chan struct{}            // the interval changed
}

// New checks cfg (the static registration, unless deps.Source is set).
func New(cfg Config, deps Deps) (*Registrar, error) {
	cfg.Defaults()
	if deps.Conn == nil {
		return nil, errors.New("registrar: no NATS connection")
	}
	r := &Registrar{
		cfg: cfg, conn: deps.Conn, logger: deps.Logger, source: deps.Source, published: deps.Published,
		now: make(chan struct{}, 1), ready: make(chan struct{}), intervals: map[string]time.Duration{},
		changed: make(chan struct{}, 1),
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.source == nil {
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("registrar: %w", err)
		}
		r.static = true
		r.source = staticSource{cfg.Message()}
	} else if cfg.Interval <= 0 {
		return nil, errors.New("registrar: interval must be positive")
	}
	return r, nil
}

type staticSource struct{ m router.RegistryMessage }

func (s staticSource) Registrations() []router.RegistryMessage { return []router.RegistryMessage{s.m} }

// Ready is closed once Run has subscribed to router.start and published
// the first registrations.
func (r *Registrar) Ready() <-chan struct{} { return r.ready }

// EmitNow asks Run to publish every registration now (coalesced with any
// request not yet served).
func (r *Registrar) EmitNow() {
	select {
	case r.now <- struct{}{}:
	default:
	}
}

// Interval is the interval in use: the smallest one announced by the
// routers seen, or Config.Interval.
func (r *Registrar) Interval() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var least time.Duration
	for _, d := range r.intervals {
		if least == 0 || d < least {
			least = d
		}
	}
	if least == 0 {
		return r.cfg.Interval
	}
	return least
}

// Run publishes until ctx is cancelled, then (static registration only)
// unregisters and returns nil. It fails only when it cannot subscribe.
func (r *Registrar) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("registrar: run called twice")
	}
	start, err := r.conn.Subscribe(router.SubjectStart, r.onStart)
	if err != nil {
		return fmt.Errorf("registrar: subscribe %s: %w", router.SubjectStart, err)
	}
	defer start.Unsubscribe()
	inbox := r.conn.NewRespInbox()
	greet, err := r.conn.Subscribe(inbox, r.onStart)
	if err != nil {
		return fmt.Errorf("registrar: subscribe greet inbox: %w", err)
	}
	defer greet.Unsubscribe()
	if err := r.conn.PublishRequest(router.SubjectGreet, inbox, nil); err != nil {
		r.logger.Warn("router.greet not sent", "err", err)
	}

	r.emitAll(router.SubjectRegister)
	close(r.ready)
	interval := r.Interval()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			if r.static {
				r.emitAll(router.SubjectUnregister)
				if err := r.conn.Flush(); err != nil {
					r.logger.Warn("router.unregister not flushed", "err", err)
				}
			}
			return nil
		case <-r.changed:
			if d := r.Interval(); d != interval {
				r.logger.Info("register interval changed", "from", interval, "to", d)
				interval = d
				ticker.Reset(d)
			}
		case <-r.now:
			r.emitAll(router.SubjectRegister)
			ticker.Reset(interval)
		case <-ticker.C:
			r.emitAll(router.SubjectRegister)
		}
	}
}

// onStart handles a router.start message or a router.greet answer: it
// records the router's interval and asks for a full emit.
func (r *Registrar) onStart(msg *nats.Msg) {
	if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
		// The server's "no responders" answer to router.greet: no router
		// is up yet. Each will announce itself with router.start.
		r.logger.Debug("no router answered router.greet")
		return
	}
	m, err := router.ParseStartMessage(msg.Data)
	if err != nil {
		r.logger.Warn("ignoring malformed router start message", "subject", msg.Subject, "err", err)
		return
	}
	r.logger.Debug("router announced itself", "router", m.ID, "interval_s", m.MinimumRegisterIntervalInSeconds)
	if m.MinimumRegisterIntervalInSeconds > 0 {
		d := time.Duration(m.MinimumRegisterIntervalInSeconds) * time.Second
		r.mu.Lock()
		changed := r.intervals[m.ID] != d
		r.intervals[m.ID] = d
		r.mu.Unlock()
		if changed {
			select {
			case r.changed <- struct{}{}:
			default:
			}
		}
	}
	r.EmitNow()
}

// Publish publishes messages on subject and counts them; a message that
// does not encode or publish is logged and skipped. The route emitter
// uses it for the changes of its table: call it after the change is made
// to the Source, so that a concurrent full emit either already includes
// the change or is published before it.
func (r *Registrar) Publish(subject string, msgs []router.RegistryMessage) {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	r.emit(subject, msgs)
}

// emitAll publishes every registration of the source on subject.
func (r *Registrar) emitAll(subject string) {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	r.emit(subject, r.source.Registrations())
}

func (r *Registrar) emit(subject string, msgs []router.RegistryMessage) {
	sent := 0
	for _, m := range msgs {
		data, err := m.Marshal()
		if err != nil {
			r.logger.Warn("registration not published", "subject", subject, "uris", m.URIs, "err", err)
			continue
		}
		if err := r.conn.Publish(subject, data); err != nil {
			r.logger.Warn("registration not published", "subject", subject, "uris", m.URIs, "err", err)
			continue
		}
		sent++
	}
	if r.published != nil && sent > 0 {
		r.published.WithLabelValues(subject).Add(float64(sent))
	}
}
