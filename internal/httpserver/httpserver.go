// Package httpserver runs an http.Handler as a Runner: Run binds the
// listener, flips Ready, serves until ctx is cancelled and then shuts down
// gracefully within a bounded time.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a server.
type Config struct {
	// Listen is the TCP address, e.g. "127.0.0.1:9022".
	Listen string
	// TLS, when set, makes the server serve HTTPS.
	TLS *tls.Config
	// ShutdownTimeout bounds the graceful shutdown (default 10s); then
	// remaining connections are closed.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading request headers (default 10s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default 2m).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request headers (default 64 KiB).
	MaxHeaderBytes int
	// BeforeShutdown, when set, is called once ctx is cancelled and before
	// the graceful shutdown starts (to fail readiness, say).
	BeforeShutdown func()
}

// Server is an HTTP server with an explicit lifecycle.
type Server struct {
	name    string
	cfg     Config
	srv     *http.Server
	logger  *slog.Logger
	ready   chan struct{}
	started atomic.Bool

	mu   sync.Mutex
	addr net.Addr
}

// New returns a server named name (used in logs and errors) for handler.
func New(name string, cfg Config, handler http.Handler, logger *slog.Logger) *Server {
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	return &Server{
		name: name, cfg: cfg, logger: logger, ready: make(chan struct{}),
		srv: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			TLSConfig:         cfg.TLS,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}
}

// Run serves until ctx is cancelled, then shuts down and returns nil. It
// returns an error when the address cannot be bound or serving fails.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%s: run called twice", s.name)
	}
	if ctx.Err() != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("%s: listen: %w", s.name, err)
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	close(s.ready)
	s.logger.Info("listening", "server", s.name, "addr", ln.Addr().String(), "tls", s.cfg.TLS != nil)

	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: serve: %w", s.name, err)
	case <-ctx.Done():
	}
	if s.cfg.BeforeShutdown != nil {
		s.cfg.BeforeShutdown()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.logger.Warn("graceful shutdown timed out; closing connections", "server", s.name, "err", err)
		_ = s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: serve: %w", s.name, err)
	}
	return nil
}

// Ready is closed once the listener is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the bound address, or nil before Ready.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}
