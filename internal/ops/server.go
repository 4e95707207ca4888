package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/anvilpaas/anvil/internal/httpserver"
)

// Server is the operations HTTP listener. Its methods are safe for
// concurrent use; Run may be called once.
type Server struct {
	cfg    Config
	logger *slog.Logger
	http   *httpserver.Server
	mux    *http.ServeMux
	checks *checker

	started      atomic.Bool
	shuttingDown atomic.Bool
}

// New returns a Server serving reg's metrics. A nil reg serves an empty
// registry; a nil logger discards logs. Unset timeouts in cfg take their
// defaults; cfg is validated by Run.
func New(cfg Config, logger *slog.Logger, reg *prometheus.Registry) *Server {
	cfg.Defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:    cfg,
		logger: logger,
		checks: &checker{timeout: cfg.CheckTimeout},
	}

	mux := http.NewServeMux()
	s.mux = mux
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", s.serveHealthz)
	mux.HandleFunc("GET /readyz", s.serveReadyz)
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves named profiles: heap, goroutine, …
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)

	// No write timeout: /debug/pprof/profile and /trace stream for as long
	// as the caller asks (30s by default).
	s.http = httpserver.New("ops", httpserver.Config{
		Listen:          cfg.Listen,
		ShutdownTimeout: cfg.ShutdownTimeout,
		// /readyz answers 503 from the moment shutdown starts.
		BeforeShutdown: func() { s.shuttingDown.Store(true) },
	}, mux, logger)
	return s
}

// Handle adds a daemon's own operations endpoint (the rep's POST
// /evacuate), with http.ServeMux pattern syntax. It panics on a pattern
// that clashes with one already registered.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AddCheck registers a readiness check under name. It may be called before
// or during Run. It panics if name is empty or already registered, or if
// check is nil.
func (s *Server) AddCheck(name string, check CheckFunc) {
	s.checks.add(name, check)
}

// Ready is closed once the listener is bound.
func (s *Server) Ready() <-chan struct{} { return s.http.Ready() }

// Addr returns the bound address, or nil before Ready is closed.
func (s *Server) Addr() net.Addr { return s.http.Addr() }

// Run binds cfg.Listen and serves until ctx is cancelled, then shuts down
// gracefully within cfg.ShutdownTimeout (closing remaining connections
// after that) and returns nil. It returns an error if the config is
// invalid, the address cannot be bound or serving fails, and returns nil at
// once if ctx is already cancelled.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("ops: run called twice")
	}
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("ops: %w", err)
	}
	return s.http.Run(ctx)
}

func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.shuttingDown.Load() {
		body, _ := report([]checkResult{{name: shutdownCheck, err: errShutdown}})
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, body)
		return
	}
	results, err := s.checks.evaluate(r.Context())
	if err != nil {
		// The client went away; nobody reads this.
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	body, ok := report(results)
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, body)
}
