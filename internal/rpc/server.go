package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
)

// Keepalive settings shared by Server and Dial. The server's enforcement
// policy must allow the client's ping interval, or the server closes the
// connection with GOAWAY "too_many_pings".
const (
	clientPingInterval = 30 * time.Second
	clientPingTimeout  = 10 * time.Second
	serverMinPingTime  = 15 * time.Second // < clientPingInterval
	serverPingInterval = time.Minute
	serverPingTimeout  = 20 * time.Second
)

// Server is a gRPC server requiring mutual TLS, with the standard health
// service registered. Its methods are safe for concurrent use; Run may be
// called once.
type Server struct {
	cfg     ServerConfig
	logger  *slog.Logger
	metrics *metrics
	grpc    *grpc.Server
	health  *health.Server

	started atomic.Bool
	ready   chan struct{}

	mu   sync.Mutex
	addr net.Addr
}

// NewServer validates cfg (after filling defaults), loads its certificates
// and returns a server ready for services to be registered on GRPC().
//
// Metrics are registered on reg; a nil reg records none. A nil logger
// discards logs. opts are appended to the server's own options; interceptors
// added with grpc.ChainUnaryInterceptor or grpc.ChainStreamInterceptor run
// inside the observe and recover interceptors.
func NewServer(cfg ServerConfig, logger *slog.Logger, reg prometheus.Registerer, opts ...grpc.ServerOption) (*Server, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rpc server config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tlsCfg, err := serverTLS(&cfg)
	if err != nil {
		return nil, fmt.Errorf("rpc server: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("rpc server: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		logger:  logger,
		metrics: m,
		health:  health.NewServer(),
		ready:   make(chan struct{}),
	}
	s.grpc = grpc.NewServer(append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tlsCfg)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             serverMinPingTime,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    serverPingInterval,
			Timeout: serverPingTimeout,
		}),
		grpc.ChainUnaryInterceptor(s.observeUnary, s.recoverUnary),
		grpc.ChainStreamInterceptor(s.observeStream, s.recoverStream),
	}, opts...)...)
	healthgrpc.RegisterHealthServer(s.grpc, s.health)
	return s, nil
}

// GRPC returns the underlying server, for registering services before Run.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Health returns the health service. The overall status (service "") starts
// SERVING; set per-service statuses with SetServingStatus. Run sets every
// status to NOT_SERVING when shutdown begins.
func (s *Server) Health() *health.Server { return s.health }

// Ready is closed once the listener is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the bound address, or nil before Ready is closed.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Run binds cfg.Listen and serves until ctx is cancelled. It then stops
// gracefully, waiting at most cfg.ShutdownTimeout for in-flight RPCs before
// closing every connection, and returns nil. It returns an error if the
// address cannot be bound or serving fails, and returns nil at once if ctx
// is already cancelled.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("rpc server: run called twice")
	}
	if ctx.Err() != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("rpc server: listen: %w", err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	close(s.ready)
	s.logger.Info("rpc server started", "addr", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(ln) }()

	select {
	case err := <-errc:
		s.grpc.Stop()
		return fmt.Errorf("rpc server: serve: %w", err)
	case <-ctx.Done():
	}

	s.health.Shutdown()
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		s.logger.Warn("rpc server graceful stop timed out; closing connections",
			"timeout", s.cfg.ShutdownTimeout)
		s.grpc.Stop()
		<-stopped
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("rpc server: serve: %w", err)
	}
	s.logger.Info("rpc server stopped")
	return nil
}
