package natsconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	firstReconnectWait = 50 * time.Millisecond
	maxReconnectWait   = 2 * time.Second
)

// Config describes a client connection.
type Config struct {
	// URL is one server URL or several separated by commas, e.g.
	// "nats://10.0.0.1:4222,nats://10.0.0.2:4222".
	URL string
	// Name identifies the client in the server's monitoring output.
	Name string
	// User and Password, when set, authenticate the client.
	User     string
	Password string
	// TLS, when set, is used for the connection.
	TLS *tls.Config
}

// Connect connects to NATS and returns once the first connection is up. It
// keeps retrying until ctx is done, then returns an error with the last
// failure. A nil logger discards logs. The connection reconnects forever
// afterwards; close it with Close or Drain.
func Connect(ctx context.Context, cfg Config, logger *slog.Logger) (*nats.Conn, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.URL == "" {
		return nil, errors.New("nats connect: url is required")
	}
	servers := redact(cfg.URL)
	logger = logger.With("nats_servers", servers)

	// The first connection is logged once, by whichever sees it first: the
	// connect handler (which nats.go calls asynchronously, possibly after
	// Connect returned) or Connect itself when the first try succeeded.
	connected := make(chan struct{})
	var once sync.Once
	markConnected := func(url string) {
		once.Do(func() {
			logger.Info("nats connected", "url", url)
			close(connected)
		})
	}
	var lastErr atomic.Pointer[error] // the latest failed attempt, for Connect's error

	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ConnectHandler(func(nc *nats.Conn) {
			markConnected(nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			} else {
				logger.Info("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			lastErr.Store(&err)
			logger.Debug("nats connect attempt failed", "err", err)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				logger.Info("nats connection closed", "last_err", err)
			} else {
				logger.Info("nats connection closed")
			}
		}),
		nats.LameDuckModeHandler(func(nc *nats.Conn) {
			logger.Warn("nats server entering lame duck mode", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				logger.Error("nats async error", "subject", sub.Subject, "err", err)
			} else {
				logger.Error("nats async error", "err", err)
			}
		}),
	}
	if cfg.User != "" || cfg.Password != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.TLS != nil {
		opts = append(opts, nats.Secure(cfg.TLS))
	}

	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		// With RetryOnFailedConnect only configuration errors end up here.
		return nil, fmt.Errorf("nats connect %s: %w", servers, err)
	}
	if nc.IsConnected() {
		markConnected(nc.ConnectedUrlRedacted())
	}
	select {
	case <-connected:
		return nc, nil
	case <-ctx.Done():
		nc.Close()
		if last := lastErr.Load(); last != nil {
			return nil, fmt.Errorf("nats connect %s: %w (last error: %v)", servers, ctx.Err(), *last)
		}
		return nil, fmt.Errorf("nats connect %s: %w", servers, ctx.Err())
	}
}

// reconnectDelay is the wait after a full pass over the server list has
// failed: 50ms doubling up to 2s, with "equal jitter" (half fixed, half
// random) so that many clients do not reconnect in lockstep.
func reconnectDelay(attempts int) time.Duration {
	d := maxReconnectWait
	if attempts >= 1 && attempts < 16 {
		d = min(firstReconnectWait<<(attempts-1), maxReconnectWait)
	}
	return d/2 + rand.N(d/2+1)
}

// redact returns the comma-separated server list with passwords masked.
func redact(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		raw := p
		if !strings.Contains(raw, "://") {
			raw = "nats://" + raw // nats.go accepts host:port without a scheme
		}
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if _, hasPass := u.User.Password(); hasPass {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx") // a bare token
			}
			p = u.String()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
