// Package healthcheck probes an app instance once, from the cell, the way
// Diego's healthcheck binary does from inside the container: a port check
// is a TCP connect, an HTTP check a GET that must answer 200. Failures are
// worded as the healthcheck binary words them, because they end up in crash
// reasons users read ("Instance never healthy after 1m0s: failed to make
// TCP connection to 10.255.0.7:8080: connection refused").
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// DefaultTimeout bounds one attempt when the check sets none (Diego's
// declarative health check default).
const DefaultTimeout = time.Second

// Probe is one attempt of one check.
type Probe struct {
	Type bbsv1.HealthCheckType
	// Addr is host:port to reach the instance's port at from the cell.
	Addr string
	// Port is the container port checked, for messages.
	Port uint32
	// Endpoint is the HTTP check's path ("/" when empty).
	Endpoint string
	// Timeout bounds the attempt (DefaultTimeout when 0).
	Timeout time.Duration
}

// client makes HTTP checks: no keep-alives (each check is a new
// connection, like the healthcheck binary's) and no redirects followed.
var client = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Run makes the attempt and returns nil when it passes. A PROCESS (or
// unspecified) check always passes: the caller watches the process itself.
func (p Probe) Run(ctx context.Context) error {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch p.Type {
	case bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT:
		return p.port(ctx, timeout)
	case bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP:
		return p.http(ctx, timeout)
	}
	return nil
}

func (p Probe) port(ctx context.Context, timeout time.Duration) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		if isTimeout(ctx, err) {
			return fmt.Errorf("failed to make TCP connection to %s: timed out after %.2f seconds", p.Addr, timeout.Seconds())
		}
		return fmt.Errorf("failed to make TCP connection to %s: %s", p.Addr, describe(err))
	}
	conn.Close()
	return nil
}

func (p Probe) http(ctx context.Context, timeout time.Duration) error {
	endpoint := p.Endpoint
	if !strings.HasPrefix(endpoint, "/") {
		endpoint = "/" + endpoint
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Addr+endpoint, nil)
	if err != nil {
		return fmt.Errorf("failed to create an HTTP request to '%s' on port %d", endpoint, p.Port)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case isTimeout(ctx, err):
			return fmt.Errorf("failed to make HTTP request to '%s' on port %d: timed out after %.2f seconds", endpoint, p.Port, timeout.Seconds())
		case errors.Is(err, syscall.ECONNREFUSED):
			return fmt.Errorf("failed to make HTTP request to '%s' on port %d: connection refused", endpoint, p.Port)
		}
		return fmt.Errorf("failed to make HTTP request to '%s' on port %d: %s", endpoint, p.Port, describe(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("failed to make HTTP request to '%s' on port %d: received status code %d in %dms",
			endpoint, p.Port, resp.StatusCode, time.Since(start).Milliseconds())
	}
	return nil
}

func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// describe is the innermost, address-free part of a network error
// ("connection refused").
func describe(err error) string {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "connection refused"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
