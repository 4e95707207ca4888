package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config describes an embedded server.
type Config struct {
	// Host is the client listen address. Default 127.0.0.1.
	Host string
	// Port is the client port. 0 picks a random free port.
	Port int
	// StoreDir enables JetStream, storing its data in this directory.
	StoreDir string
	// User and Password, when set, are required from every client.
	User     string
	Password string
}

// Server is a running embedded NATS server.
type Server struct {
	ns   *server.Server
	port int
}

// Start starts the server and waits until it accepts client connections or
// ctx is done. A nil logger discards the server's logs.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if (cfg.User == "") != (cfg.Password == "") {
		return nil, errors.New("start nats: set both user and password, or neither")
	}
	opts := &server.Options{
		Host:     cfg.Host,
		Port:     cfg.Port,
		Username: cfg.User,
		Password: cfg.Password,
		NoSigs:   true, // library code never installs signal handlers
		NoLog:    true, // no default logger; ours is set below
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	if cfg.StoreDir != "" {
		opts.JetStream = true
		opts.StoreDir = cfg.StoreDir
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats: %w", err)
	}
	sl := newSlogLogger(logger)
	ns.SetLoggerV2(sl, logger.Enabled(ctx, slog.LevelDebug), false, false)
	ns.Start()

	for !ns.ReadyForConnections(20 * time.Millisecond) {
		select {
		case msg := <-sl.fatal:
			ns.Shutdown()
			return nil, fmt.Errorf("start nats: %s", msg)
		case <-ctx.Done():
			ns.Shutdown()
			return nil, fmt.Errorf("start nats: not ready: %w", ctx.Err())
		default:
		}
	}
	addr, ok := ns.Addr().(*net.TCPAddr)
	if !ok {
		ns.Shutdown()
		return nil, fmt.Errorf("start nats: unexpected listen address %v", ns.Addr())
	}
	return &Server{ns: ns, port: addr.Port}, nil
}

// ClientURL returns the URL clients connect to, e.g. nats://127.0.0.1:4222.
// It carries no credentials.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Port returns the client port.
func (s *Server) Port() int { return s.port }

// Shutdown closes all client connections and stops the server. It is safe to
// call more than once.
func (s *Server) Shutdown() { s.ns.Shutdown() }

// WaitForShutdown blocks until the server has shut down.
func (s *Server) WaitForShutdown() { s.ns.WaitForShutdown() }

// NumClients returns the number of connected clients, for tests and health
// output.
func (s *Server) NumClients() int { return s.ns.NumClients() }
