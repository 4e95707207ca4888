package proxy

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/anvilpaas/anvil/gorouter/internal/registry"
)

// Headers the proxy reads or sets.
const (
	HeaderRouterError     = "X-Cf-Routererror"
	HeaderAppInstance     = "X-Cf-App-Instance"
	HeaderApplicationID   = "X-Cf-Applicationid"
	HeaderInstanceID      = "X-Cf-Instanceid"
	HeaderInstanceIndex   = "X-Cf-Instanceindex"
	HeaderRequestStart    = "X-Request-Start"
	HeaderVcapRequestID   = "X-Vcap-Request-Id"
	headerForwardedFor    = "X-Forwarded-For"
	headerForwardedProto  = "X-Forwarded-Proto"
	defaultMaxTries       = 3
	defaultDialTimeout    = 5 * time.Second
	defaultResponseTimout = 60 * time.Second
)

// Values of the X-Cf-Routererror header.
const (
	ErrEmptyHost          = "empty_host"
	ErrUnknownRoute       = "unknown_route"
	ErrNoEndpoints        = "no_endpoints"
	ErrEndpointFailure    = "endpoint_failure"
	ErrInvalidAppInstance = "invalid_cf_app_instance_header"
)

// Config configures a Proxy. Zero fields take the defaults noted.
type Config struct {
	// ResponseTimeout bounds the wait for a backend's response headers
	// (CF's endpoint_timeout); past it the client gets 504. Default 60s.
	// It does not bound streaming a body once headers have arrived.
	ResponseTimeout time.Duration
	// MaxTries is the number of endpoints tried for one request when
	// dialing fails. Default 3.
	MaxTries int
	// DialTimeout bounds connecting to a backend. Default 5s. Used only by
	// the default transport.
	DialTimeout time.Duration
	// StickyCookies are the backend cookies that start a sticky session:
	// when a response sets one, the router adds a __VCAP_ID__ cookie naming
	// the instance. Default ["JSESSIONID"], as CF.
	StickyCookies []string
	// SecureCookies marks every __VCAP_ID__ cookie Secure (CF's
	// secure_cookies), not only those of a Secure session cookie.
	SecureCookies bool
	// BackendTLS is the client TLS configuration for endpoints registered
	// with a tls_port: its RootCAs verify their certificates (against the
	// registration's server_cert_domain_san) and its Certificates, if any,
	// are presented to them. Nil uses the system roots. Used only by the
	// default transport.
	BackendTLS *tls.Config
}

// Registry is what the proxy needs of the route table.
type Registry interface {
	Lookup(host, path string) *registry.Pool
}

// Deps are the proxy's collaborators.
type Deps struct {
	Registry Registry
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Transport carries requests to backends. It must return dial
	// failures as *net.OpError with Op "dial" (as *http.Transport does)
	// for them to be retried. Default: plain requests without a body on
	// the calling goroutine over pooled connections, everything else
	// through NewTransport(cfg).
	Transport http.RoundTripper
	// Done, when set, is called once per request after the response has
	// been written, with what the access log and metrics need. The record
	// is not valid after Done returns.
	Done func(*Record)
}

// Proxy is the gorouter's HTTP handler: it routes each request by Host and
// path to an endpoint of the registry and forwards it.
type Proxy struct {
	cfg       Config
	reg       Registry
	logger    *slog.Logger
	transport http.RoundTripper
	done      func(*Record)
	rp        *httputil.ReverseProxy
}

// NewTransport returns the keep-alive transport the proxy uses by default.
// It ignores proxy environment variables and leaves compression to the
// client and backend. TLS endpoints are verified against their
// registration's server_cert_domain_san (see Config.BackendTLS); a failed
// handshake is reported as a dial failure, so the request is retried on
// another endpoint like a refused connection.
func NewTransport(cfg Config) *http.Transport {
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	base := cfg.BackendTLS
	if base == nil {
		base = &tls.Config{}
	}
	base = base.Clone()
	base.MinVersion = max(base.MinVersion, tls.VersionTLS12)
	base.NextProtos = nil // HTTP/1.1 to backends
	return &http.Transport{
		DialContext: dialer.DialContext,
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			// The address the transport asks for is tlsPoolHost's; the
			// endpoint says where to go and what to verify.
			e, ok := ctx.Value(endpointKey{}).(*registry.Endpoint)
			if !ok {
				return nil, errors.New("tls dial without an endpoint")
			}
			conn, err := dialer.DialContext(ctx, network, e.Addr)
			if err != nil {
				return nil, err
			}
			tc := base.Clone()
			tc.ServerName, _, _ = net.SplitHostPort(e.Addr)
			if e.ServerCertDomainSAN != "" {
				tc.ServerName = e.ServerCertDomainSAN
			}
			c := tls.Client(conn, tc)
			hctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
			defer cancel()
			if err := c.HandshakeContext(hctx); err != nil {
				_ = conn.Close()
				return nil, &net.OpError{Op: "dial", Net: network, Addr: conn.RemoteAddr(), Err: fmt.Errorf("tls handshake: %w", err)}
			}
			return c, nil
		},
		MaxIdleConns:          10000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// endpointKey carries the endpoint of an attempt in its context, for the
// TLS dialer.
type endpointKey struct{}

// tlsPoolHost is the URL host of a request to a TLS endpoint. The transport
// keeps idle connections by URL host, so this names the address together
// with the name its certificate was verified for: a connection verified
// for one instance is never reused for another that later registers the
// same address.
func tlsPoolHost(e *registry.Endpoint) string {
	_, port, _ := net.SplitHostPort(e.Addr)
	return net.JoinHostPort(hex.EncodeToString([]byte(e.ServerCertDomainSAN+"\x00"+e.Addr))+".tls.invalid", port)
}

func (c Config) withDefaults() Config {
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = defaultResponseTimout
	}
	if c.MaxTries <= 0 {
		c.MaxTries = defaultMaxTries
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.StickyCookies == nil {
		c.StickyCookies = []string{"JSESSIONID"}
	}
	return c
}

// New returns a Proxy. deps.Registry is required.
func New(cfg Config, deps Deps) *Proxy {
	cfg = cfg.withDefaults()
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Transport == nil {
		deps.Transport = newFastTransport(NewTransport(cfg), &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second})
	}
	p := &Proxy{
		cfg:       cfg,
		reg:       deps.Registry,
		logger:    deps.Logger.With("component", "proxy"),
		transport: deps.Transport,
		done:      deps.Done,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      roundTripperFunc(p.roundTrip),
		ErrorHandler:   p.errorHandler,
		ModifyResponse: p.modifyResponse,
		BufferPool:     bufferPool{},
		// With 0, ReverseProxy buffers ordinary responses but flushes
		// streaming ones (ContentLength -1, text/event-stream) after
		// every write, as FlushInterval -1 would.
		FlushInterval: 0,
	}
	return p
}

// reqState is one request's routing state, carried in its context.
type reqState struct {
	start     time.Time
	requestID string
	pool      *registry.Pool // nil when pinned
	pinned    *registry.Endpoint
	// sticky is the endpoint named by the request's __VCAP_ID__ cookie,
	// tried first; stickyID is the cookie's value.
	sticky   *registry.Endpoint
	stickyID string

	routerError string

	mu          sync.Mutex
	lease       *registry.Lease
	endpoint    *registry.Endpoint // the endpoint that answered
	backendTime time.Duration      // until its response headers
	cancels     []context.CancelFunc
}

func (s *reqState) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lease != nil {
		s.lease.Release()
		s.lease = nil
	}
	for _, c := range s.cancels {
		c()
	}
	s.cancels = nil
}

type stateKey struct{}

// appInstanceRE is CF's format for X-Cf-App-Instance: "<app guid>:<index>".
var appInstanceRE = regexp.MustCompile(`^[\da-f]{8}-([\da-f]{4}-){3}[\da-f]{12}:\d+$`)

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &reqState{start: time.Now()}
	rw := &recordingWriter{ResponseWriter: w}
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{ReadCloser: r.Body}
		r.Body = body
	}
	st.requestID = r.Header.Get(HeaderVcapRequestID)
	if st.requestID == "" || len(st.requestID) > maxRequestIDLen {
		st.requestID = uuid.NewString()
		r.Header.Set(HeaderVcapRequestID, st.requestID)
	}
	// Deferred: the reverse proxy aborts a response cut short by panicking
	// with http.ErrAbortHandler, and the lease must still be released.
	defer func() {
		st.done()
		if p.done != nil {
			p.finish(rw, r, body, st)
		}
	}()
	p.serve(rw, r, st)
}

// maxRequestIDLen bounds a client-supplied X-Vcap-Request-Id; a longer one
// is replaced.
const maxRequestIDLen = 256

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, st *reqState) {
	if r.Host == "" {
		p.fail(w, st, http.StatusBadRequest, ErrEmptyHost, "Request had empty Host header")
		return
	}
	pool := p.reg.Lookup(r.Host, r.URL.Path)
	if pool == nil {
		// CF lets clients cache a 404 briefly.
		w.Header().Set("Cache-Control", "public,max-age=2")
		p.fail(w, st, http.StatusNotFound, ErrUnknownRoute, fmt.Sprintf("Requested route ('%s') does not exist.", r.Host))
		return
	}
	if hv := r.Header.Get(HeaderAppInstance); hv != "" {
		if !appInstanceRE.MatchString(hv) {
			p.fail(w, st, http.StatusBadRequest, ErrInvalidAppInstance, "Invalid X-CF-App-Instance Header")
			return
		}
		guid, idx, _ := strings.Cut(hv, ":")
		for _, e := range pool.Endpoints() {
			if e.AppID == guid && e.PrivateInstanceIndex == idx {
				st.pinned = e
				break
			}
		}
		if st.pinned == nil {
			// As CF: 400, with the unknown_route error.
			p.fail(w, st, http.StatusBadRequest, ErrUnknownRoute,
				fmt.Sprintf("Requested instance ('%s') with guid ('%s') does not exist for route ('%s')", idx, guid, r.Host))
			return
		}
	} else {
		if pool.Len() == 0 {
			p.fail(w, st, http.StatusServiceUnavailable, ErrNoEndpoints,
				fmt.Sprintf("Requested route ('%s') has no available endpoints.", r.Host))
			return
		}
		if c, err := r.Cookie(VcapCookie); err == nil {
			st.stickyID = c.Value
			st.sticky = pool.Find(c.Value)
		}
	}
	st.pool = pool
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
}

// fail answers with one of CF's router errors.
func (p *Proxy) fail(w http.ResponseWriter, st *reqState, code int, routerErr, msg string) {
	st.routerError = routerErr
	writeError(w, code, routerErr, msg)
}

// rewrite sets the headers that do not depend on the endpoint; the
// endpoint is chosen per attempt in roundTrip.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	st := pr.In.Context().Value(stateKey{}).(*reqState)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = "endpoint.invalid" // replaced in roundTrip
	h := pr.Out.Header
	in := pr.In.Header

	// ReverseProxy strips X-Forwarded-* from Out before Rewrite.
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := in.Values(headerForwardedFor); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h.Set(headerForwardedFor, ip)
	}
	if proto := in.Get(headerForwardedProto); proto != "" {
		h.Set(headerForwardedProto, proto)
	} else if pr.In.TLS != nil {
		h.Set(headerForwardedProto, "https")
	} else {
		h.Set(headerForwardedProto, "http")
	}
	h.Set(HeaderRequestStart, strconv.FormatInt(st.start.UnixMilli(), 10))
	h.Set(HeaderVcapRequestID, st.requestID)
}

var (
	errResponseTimeout = errors.New("backend response timeout")
	errEndpoint        = errors.New("endpoint failure")
)

// roundTrip sends req to an endpoint, trying others when dialing fails
// and the request can safely be sent again.
func (p *Proxy) roundTrip(req *http.Request) (*http.Response, error) {
	st := req.Context().Value(stateKey{}).(*reqState)

	var body *trackedBody
	retryable := req.Body == nil || req.Body == http.NoBody
	if !retryable && idempotent(req.Method) {
		// The transport closes the body on error; keep it open (the
		// server closes it) and note whether any of it was sent.
		body = &trackedBody{r: req.Body}
		req.Body = body
		retryable = true
	}

	var tried []*registry.Endpoint
	var lastErr error
	for attempt := 0; attempt < p.cfg.MaxTries; attempt++ {
		e, lease := p.pick(st, tried)
		if e == nil {
			break
		}
		tried = append(tried, e)
		sent := time.Now()
		resp, err := p.attempt(st, req, e)
		if err == nil {
			st.mu.Lock()
			st.lease = lease
			st.endpoint = e
			st.backendTime = time.Since(sent)
			st.mu.Unlock()
			return resp, nil
		}
		lease.Release()
		lastErr = err
		if !isDialError(err) || !retryable || (body != nil && body.read.Load()) || req.Context().Err() != nil {
			break
		}
		p.logger.Info("retrying after dial failure", "endpoint", e.Addr, "attempt", attempt+1, "err", err)
	}
	if lastErr == nil {
		lastErr = errors.New("no endpoint available")
	}
	if errors.Is(lastErr, errResponseTimeout) {
		return nil, lastErr
	}
	return nil, fmt.Errorf("%w: %w", errEndpoint, lastErr)
}

// pick returns the next endpoint not yet tried, with its lease, or nil
// when there is none. A pinned request has one endpoint; a sticky one
// tries its instance first, then balances as usual.
func (p *Proxy) pick(st *reqState, tried []*registry.Endpoint) (*registry.Endpoint, *registry.Lease) {
	if st.pinned != nil {
		if len(tried) > 0 {
			return nil, nil
		}
		return st.pinned, st.pool.Lease(st.pinned)
	}
	if st.sticky != nil && len(tried) == 0 {
		return st.sticky, st.pool.Lease(st.sticky)
	}
	for range max(st.pool.Len(), 1) {
		lease, ok := st.pool.Pick(nil)
		if !ok {
			return nil, nil
		}
		if !triedAddr(tried, lease.Endpoint.Addr) {
			return lease.Endpoint, lease
		}
		lease.Release()
	}
	return nil, nil
}

func triedAddr(tried []*registry.Endpoint, addr string) bool {
	for _, e := range tried {
		if e.Addr == addr {
			return true
		}
	}
	return false
}

// attempt sends req to e, bounding the wait for response headers.
func (p *Proxy) attempt(st *reqState, req *http.Request, e *registry.Endpoint) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(context.WithValue(req.Context(), endpointKey{}, e))
	timer := time.AfterFunc(p.cfg.ResponseTimeout, func() { cancel(errResponseTimeout) })

	out := req.WithContext(ctx)
	u := *req.URL
	u.Host = e.Addr
	if e.TLS {
		u.Scheme = "https"
		u.Host = tlsPoolHost(e)
	}
	out.URL = &u
	h := out.Header
	h.Set(HeaderApplicationID, e.AppID)
	h.Set(HeaderInstanceID, e.PrivateInstanceID)
	h.Set(HeaderInstanceIndex, e.PrivateInstanceIndex)

	resp, err := p.transport.RoundTrip(out)
	timer.Stop()
	if err != nil {
		cancel(nil)
		if errors.Is(context.Cause(ctx), errResponseTimeout) {
			return nil, fmt.Errorf("%w after %s: %w", errResponseTimeout, p.cfg.ResponseTimeout, err)
		}
		return nil, err
	}
	// The context must outlive the response body; cancel when done.
	st.mu.Lock()
	st.cancels = append(st.cancels, func() { cancel(nil) })
	st.mu.Unlock()
	return resp, nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st := r.Context().Value(stateKey{}).(*reqState)
	switch {
	case errors.Is(err, errResponseTimeout):
		p.logger.Warn("backend timeout", "host", r.Host, "path", r.URL.Path, "err", err)
		p.fail(w, st, http.StatusGatewayTimeout, ErrEndpointFailure, "504 Gateway Timeout: backend did not respond in time")
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		p.logger.Debug("client gone", "host", r.Host, "err", err)
		w.WriteHeader(499)
	default:
		p.logger.Warn("endpoint failure", "host", r.Host, "path", r.URL.Path, "err", err)
		p.fail(w, st, http.StatusBadGateway, ErrEndpointFailure, "502 Bad Gateway: Registered endpoint failed to handle the request.")
	}
}

func writeError(w http.ResponseWriter, code int, routerErr, msg string) {
	h := w.Header()
	h.Set(HeaderRouterError, routerErr)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// trackedBody records whether it was read and ignores Close.
type trackedBody struct {
	r    io.ReadCloser
	read atomic.Bool // set by the transport's writer goroutine
}

func (b *trackedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func (b *trackedBody) Close() error { return nil }

// bufferPool reuses the 32 KiB buffers the reverse proxy copies response
// bodies through; without it every request allocates one.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { return make([]byte, 32<<10) }}

func (bufferPool) Get() []byte  { return copyBuffers.Get().([]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(b) }

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
