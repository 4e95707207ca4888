package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// fastTransport sends the common request, plain HTTP/1.1 with no body
// and no upgrade, on the calling goroutine: it writes the request and reads
// the response itself over a pooled keep-alive connection. http.Transport
// hands every request to two goroutines per connection (a writer and a
// reader) and back, and on a busy 2-core router those hand-offs cost as
// much as the proxying. Everything else (bodies, which must be sent while
// the response may already arrive; upgrades; TLS) goes to the fallback
// http.Transport.
type fastTransport struct {
	fallback *http.Transport
	dialer   *net.Dialer
	maxIdle  int           // idle connections kept per address
	idleFor  time.Duration // how long an idle connection is kept

	mu        sync.Mutex
	idle      map[string][]*fastConn // by address, most recently used last
	lastSweep time.Time
}

type fastConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

func newFastTransport(fallback *http.Transport, dialer *net.Dialer) *fastTransport {
	return &fastTransport{
		fallback: fallback,
		dialer:   dialer,
		maxIdle:  fallback.MaxIdleConnsPerHost,
		idleFor:  fallback.IdleConnTimeout,
		idle:     make(map[string][]*fastConn),
	}
}

// fastEligible reports whether req can take the fast path.
func fastEligible(req *http.Request) bool {
	return req.URL.Scheme == "http" &&
		(req.Body == nil || req.Body == http.NoBody) &&
		req.Header.Get("Upgrade") == "" &&
		req.Method != http.MethodConnect &&
		!req.Close
}

// RoundTrip implements http.RoundTripper.
func (t *fastTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !fastEligible(req) {
		return t.fallback.RoundTrip(req)
	}
	addr := req.URL.Host
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.get(req.Context(), addr)
		if err != nil {
			return nil, err
		}
		resp, err := t.send(pc, addr, req)
		if err == nil {
			return resp, nil
		}
		_ = pc.c.Close()
		// A kept-alive connection the backend closed meanwhile fails
		// before any answer; the request was not processed, so it may go
		// again on a fresh connection, as http.Transport does.
		if reused && attempt == 0 && idempotent(req.Method) && req.Context().Err() == nil && staleConnError(err) {
			continue
		}
		return nil, err
	}
}

// aLongTimeAgo is a deadline in the past: setting it aborts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// send writes req on pc and reads the response headers. The response body
// returns pc to the pool when read to its end.
func (t *fastTransport) send(pc *fastConn, addr string, req *http.Request) (*http.Response, error) {
	// Cancelling the request's context (the response timeout, the client
	// going away) aborts whatever I/O is blocked on the connection.
	stop := context.AfterFunc(req.Context(), func() { _ = pc.c.SetDeadline(aLongTimeAgo) })
	if err := req.Write(pc.bw); err != nil {
		stop()
		return nil, err
	}
	if err := pc.bw.Flush(); err != nil {
		stop()
		return nil, err
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			stop()
			if ctxErr := req.Context().Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, err
		}
		// Informational answers (100 Continue, 103 Early Hints) precede
		// the real one.
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		break
	}
	body := &fastBody{t: t, pc: pc, addr: addr, rc: resp.Body, stop: stop, reusable: !resp.Close}
	if resp.Body == http.NoBody {
		body.finish(true)
		return resp, nil
	}
	resp.Body = body
	return resp, nil
}

// fastBody is a response body; at its end the connection goes back to the
// pool (when the response allows keep-alive), and closed early it is
// closed.
type fastBody struct {
	t        *fastTransport
	pc       *fastConn
	addr     string
	rc       io.ReadCloser
	stop     func() bool
	reusable bool

	once sync.Once
}

func (b *fastBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

func (b *fastBody) Close() error {
	b.finish(false)
	return nil
}

// finish releases the connection once: back to the pool after a complete
// body, closed otherwise.
func (b *fastBody) finish(complete bool) {
	b.once.Do(func() {
		// stop reports false when the context was already cancelled: the
		// connection then has a past deadline and may be mid-response.
		if !b.stop() || !complete || !b.reusable {
			_ = b.pc.c.Close()
			return
		}
		_ = b.pc.c.SetDeadline(time.Time{})
		b.t.put(b.addr, b.pc)
	})
}

// get returns an idle connection to addr, or dials one.
func (t *fastTransport) get(ctx context.Context, addr string) (*fastConn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	t.sweepLocked(now)
	conns := t.idle[addr]
	for len(conns) > 0 {
		pc := conns[len(conns)-1]
		conns = conns[:len(conns)-1]
		if now.Sub(pc.idleAt) < t.idleFor {
			t.idle[addr] = conns
			t.mu.Unlock()
			return pc, true, nil
		}
		_ = pc.c.Close()
	}
	delete(t.idle, addr)
	t.mu.Unlock()

	c, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &fastConn{c: c, br: bufio.NewReaderSize(c, 4<<10), bw: bufio.NewWriterSize(c, 4<<10)}, false, nil
}

// put keeps pc for reuse, unless the address has enough idle ones.
func (t *fastTransport) put(addr string, pc *fastConn) {
	pc.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.idle[addr]) >= t.maxIdle {
		_ = pc.c.Close()
		return
	}
	t.idle[addr] = append(t.idle[addr], pc)
}

// sweepLocked closes connections idle for longer than idleFor, at most
// every few seconds, so addresses no longer used do not keep theirs.
func (t *fastTransport) sweepLocked(now time.Time) {
	if now.Sub(t.lastSweep) < 5*time.Second {
		return
	}
	t.lastSweep = now
	for addr, conns := range t.idle {
		keep := conns[:0]
		for _, pc := range conns {
			if now.Sub(pc.idleAt) < t.idleFor {
				keep = append(keep, pc)
			} else {
				_ = pc.c.Close()
			}
		}
		if len(keep) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = keep
		}
	}
}

// CloseIdleConnections closes every idle connection.
func (t *fastTransport) CloseIdleConnections() {
	t.mu.Lock()
	for addr, conns := range t.idle {
		for _, pc := range conns {
			_ = pc.c.Close()
		}
		delete(t.idle, addr)
	}
	t.mu.Unlock()
	t.fallback.CloseIdleConnections()
}

// staleConnError reports an error of a connection the peer had closed.
func staleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
