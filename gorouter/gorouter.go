// Package gorouter is the platform's HTTP(S) front door. It learns routes
// from NATS router.register / router.unregister messages, exactly as Cloud
// Foundry's gorouter does, and proxies each request by host and path to an
// app instance. See docs/gorouter.md.
package gorouter

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/anvilpaas/anvil/gorouter/internal/accesslog"
	"github.com/anvilpaas/anvil/gorouter/internal/mbus"
	"github.com/anvilpaas/anvil/gorouter/internal/proxy"
	"github.com/anvilpaas/anvil/gorouter/internal/registry"
	"github.com/anvilpaas/anvil/internal/httpserver"
	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pki"
)

// AppLogs receives the RTR line of every request routed to an app, for the
// app's log stream (`cf logs` shows them as [RTR/<index>]).
type AppLogs interface {
	RouterLog(appID, routerIndex, line string)
}

// Deps are the router's collaborators; all are optional.
type Deps struct {
	Logger *slog.Logger
	// NATS is used instead of connecting to Config.NATS. The router does
	// not close it.
	NATS *nats.Conn
	// AppLogs receives RTR lines; nil sends them to Config.Loggregator
	// when it has an address, and nowhere otherwise.
	AppLogs AppLogs
}

// Router is the gorouter daemon.
type Router struct {
	cfg     Config
	logger  *slog.Logger
	deps    Deps
	reg     *registry.Registry
	proxy   *proxy.Proxy
	metrics *metrics
	alog    *accesslog.Writer
	emitter *logemitter.Emitter // nil unless RTR lines go to Config.Loggregator
	httpTLS *tls.Config

	draining atomic.Bool
	ready    chan struct{} // closed when routes may be served
	servers  []*httpserver.Server
	ops      *ops.Server

	lines sync.Pool // *[]byte buffers for access log lines
}

// New checks cfg and builds the router; Run starts it.
func New(cfg Config, deps Deps) (*Router, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gorouter: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{
		cfg:    cfg,
		logger: deps.Logger,
		deps:   deps,
		ready:  make(chan struct{}),
		reg: registry.New(registry.Config{
			DefaultLoadBalancing: cfg.Routing.DefaultLoadBalancing,
			EmptyPoolTTL:         cfg.Routing.EmptyPoolTTL,
		}),
	}
	r.lines.New = func() any { b := make([]byte, 0, 512); return &b }

	backendTLS, err := loadBackendTLS(cfg.Backends)
	if err != nil {
		return nil, err
	}
	r.proxy = proxy.New(proxy.Config{
		ResponseTimeout: cfg.Backends.EndpointTimeout,
		MaxTries:        cfg.Backends.MaxTries,
		DialTimeout:     cfg.Backends.DialTimeout,
		StickyCookies:   cfg.StickySessionCookies,
		SecureCookies:   cfg.SecureCookies,
		BackendTLS:      backendTLS,
	}, proxy.Deps{Registry: r.reg, Logger: deps.Logger, Done: r.done})

	if cfg.HTTPS.Listen != "" {
		cert, err := tls.LoadX509KeyPair(cfg.HTTPS.CertFile, cfg.HTTPS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("gorouter: https certificate: %w", err)
		}
		r.httpTLS = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
		}
	}
	if cfg.AccessLog != "" {
		if r.alog, err = accesslog.Open(cfg.AccessLog, deps.Logger); err != nil {
			return nil, fmt.Errorf("gorouter: %w", err)
		}
	}
	promReg := ops.NewRegistry()
	if deps.AppLogs == nil && cfg.Loggregator.Enabled() {
		if r.emitter, err = logemitter.New(cfg.Loggregator, logemitter.Deps{Logger: deps.Logger, Registerer: promReg}); err != nil {
			return nil, fmt.Errorf("gorouter: %w", err)
		}
		r.deps.AppLogs = rtrEmitter{r.emitter}
	}
	r.metrics = newMetrics(promReg, r)
	r.ops = ops.New(cfg.Status.Config, deps.Logger, promReg)
	r.ops.Handle("GET /health", http.HandlerFunc(r.serveHealth))
	if cfg.Status.User != "" {
		r.ops.Handle("GET /routes", http.HandlerFunc(r.serveRoutes))
	}
	r.ops.AddCheck("routing", func(context.Context) error { return r.healthy() })

	timeout := cfg.DrainTimeout
	if cfg.HTTP.Listen != "" {
		r.servers = append(r.servers, httpserver.New("http", httpserver.Config{
			Listen: cfg.HTTP.Listen, ShutdownTimeout: timeout,
		}, r.proxy, deps.Logger))
	}
	if cfg.HTTPS.Listen != "" {
		r.servers = append(r.servers, httpserver.New("https", httpserver.Config{
			Listen: cfg.HTTPS.Listen, TLS: r.httpTLS, ShutdownTimeout: timeout,
		}, r.proxy, deps.Logger))
	}
	return r, nil
}

func loadBackendTLS(c BackendsConfig) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := pki.LoadPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("gorouter: backends.ca_file: %w", err)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("gorouter: backends client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Addrs returns the bound addresses of the listeners by name ("http",
// "https", "status") once Ready is closed.
func (r *Router) Addrs() map[string]net.Addr {
	out := map[string]net.Addr{"status": r.ops.Addr()}
	i := 0
	if r.cfg.HTTP.Listen != "" {
		out["http"] = r.servers[i].Addr()
		i++
	}
	if r.cfg.HTTPS.Listen != "" {
		out["https"] = r.servers[i].Addr()
	}
	return out
}

// Ready is closed once the listeners are bound, the router has subscribed
// to NATS and the start response delay has passed.
func (r *Router) Ready() <-chan struct{} { return r.ready }

// Run serves until ctx is cancelled, then drains: /health fails for
// DrainWait while requests are still served, then the listeners stop
// accepting and requests in flight get up to DrainTimeout to finish.
func (r *Router) Run(ctx context.Context) error {
	nc := r.deps.NATS
	if nc == nil {
		ncfg, err := r.cfg.NATS.Config("gorouter")
		if err != nil {
			return fmt.Errorf("gorouter: %w", err)
		}
		if nc, err = natsconn.Connect(ctx, ncfg, r.logger); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("gorouter: %w", err)
		}
		defer nc.Close()
	}
	sub := mbus.New(mbus.Config{
		ID:                      r.cfg.ID,
		MinimumRegisterInterval: r.cfg.Routing.RegisterInterval,
		PruneThreshold:          r.cfg.Routing.PruneThreshold,
		PruneInterval:           r.cfg.Routing.PruneInterval,
	}, mbus.Deps{Conn: nc, Registry: r.reg, Logger: r.logger})
	r.metrics.watch(sub)

	// The background (status listener, NATS, access log) outlives the
	// listeners, which stop only after the drain wait.
	life, stopLife := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLife()
	serving, stopServing := context.WithCancel(life)
	defer stopServing()

	bg, bctx := errgroup.WithContext(life)
	bg.Go(func() error { return r.ops.Run(bctx) })
	bg.Go(func() error { return sub.Run(bctx) })
	if r.alog != nil {
		bg.Go(func() error { return r.alog.Run(bctx) })
	}
	if r.emitter != nil {
		bg.Go(func() error { return r.emitter.Run(bctx) })
	}
	sg, sctx := errgroup.WithContext(serving)
	for _, s := range r.servers {
		sg.Go(func() error { return s.Run(sctx) })
	}
	go r.becomeReady(sctx, sub)

	select {
	case <-ctx.Done():
		r.drain(bctx, sctx)
	case <-bctx.Done():
	case <-sctx.Done():
	}
	stopServing()
	serr := sg.Wait()
	stopLife()
	berr := bg.Wait()
	if err := errors.Join(serr, berr); err != nil {
		return fmt.Errorf("gorouter: %w", err)
	}
	return nil
}

// becomeReady closes r.ready once every listener is bound and the
// subscriber is ready, after the start response delay.
func (r *Router) becomeReady(ctx context.Context, sub *mbus.Subscriber) {
	waits := []<-chan struct{}{r.ops.Ready(), sub.Ready()}
	for _, s := range r.servers {
		waits = append(waits, s.Ready())
	}
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
	}
	if d := r.cfg.StartResponseDelay; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
	addrs := make([]any, 0, 6)
	for name, a := range r.Addrs() {
		addrs = append(addrs, name, a.String())
	}
	r.logger.Info("gorouter ready", addrs...)
	close(r.ready)
}

// drain fails /health for DrainWait while still serving.
func (r *Router) drain(bctx, sctx context.Context) {
	r.draining.Store(true)
	r.metrics.draining.Set(1)
	r.logger.Info("draining", "drain_wait", r.cfg.DrainWait, "drain_timeout", r.cfg.DrainTimeout)
	t := time.NewTimer(r.cfg.DrainWait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-bctx.Done():
	case <-sctx.Done():
	}
}

func (r *Router) healthy() error {
	if r.draining.Load() {
		return errors.New("draining")
	}
	select {
	case <-r.ready:
		return nil
	default:
		return errors.New("starting")
	}
}

// serveHealth is CF's /health: 200 "ok" while serving, 503 while starting
// or draining.
func (r *Router) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := r.healthy(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintln(w, "ok")
}

// serveRoutes dumps the route table as JSON, behind basic auth.
func (r *Router) serveRoutes(w http.ResponseWriter, req *http.Request) {
	user, pass, ok := req.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(r.cfg.Status.User)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(r.cfg.Status.Password)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="gorouter"`)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.reg.Routes()); err != nil {
		r.logger.Debug("write /routes", "err", err)
	}
}

// rtrEmitter sends RTR lines as log envelopes of the app.
type rtrEmitter struct{ em *logemitter.Emitter }

var rtrTags = map[string]string{logemitter.TagSourceType: logemitter.SourceTypeRouter}

func (e rtrEmitter) RouterLog(appID, routerIndex, line string) {
	e.em.Log(logemitter.Log{SourceID: appID, InstanceID: routerIndex, Message: line, Tags: rtrTags})
}

// done records a finished request: metrics, access log, RTR line.
func (r *Router) done(rec *proxy.Record) {
	r.metrics.observe(rec)
	if r.alog == nil && r.deps.AppLogs == nil {
		return
	}
	bp := r.lines.Get().(*[]byte)
	line := accesslog.Append((*bp)[:0], rec)
	if r.alog != nil {
		r.alog.WriteLine(line)
	}
	if r.deps.AppLogs != nil && rec.Endpoint != nil && rec.Endpoint.AppID != "" {
		r.deps.AppLogs.RouterLog(rec.Endpoint.AppID, strconv.Itoa(r.cfg.Index), string(line))
	}
	*bp = line
	r.lines.Put(bp)
}
