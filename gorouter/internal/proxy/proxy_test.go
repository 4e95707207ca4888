package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/gorouter/internal/proxy"
	"github.com/anvilpaas/anvil/gorouter/internal/registry"
)

const (
	appA = "11111111-2222-3333-4444-555555555555"
	appB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

// backend is an httptest server on 127.0.0.1 answering its name.
func backend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	return handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, name)
	}))
}

func handlerBackend(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// register adds the endpoint at addr ("host:port") for uris.
func register(t testing.TB, reg *registry.Registry, addr, app, index string, uris ...string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	reg.Register(router.RegistryMessage{
		Host: host, Port: p, URIs: uris,
		App: app, PrivateInstanceID: "inst-" + app[:4] + "-" + index, PrivateInstanceIndex: index,
	}, time.Now())
}

func addrOf(s *httptest.Server) string { return s.Listener.Addr().String() }

// closedAddr returns an address on 127.0.0.1 that refuses connections.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// env is a registry and a proxy served on 127.0.0.1.
type env struct {
	reg   *registry.Registry
	proxy *proxy.Proxy
	srv   *httptest.Server
}

func newEnv(t testing.TB, cfg proxy.Config) *env {
	t.Helper()
	reg := registry.New(registry.Config{})
	p := proxy.New(cfg, proxy.Deps{Registry: reg})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &env{reg: reg, proxy: p, srv: srv}
}

// do sends method to the proxy for host and path and returns status,
// router error header and body.
func (e *env) do(t testing.TB, method, host, path string, body io.Reader, hdr http.Header) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get(proxy.HeaderRouterError), string(b)
}

// waitIdle waits until no endpoint of host's pool has requests in flight;
// the lease is released just after the response reaches the client.
func (e *env) waitIdle(t testing.TB, host, path string) {
	t.Helper()
	pool := e.reg.Lookup(host, path)
	deadline := time.Now().Add(5 * time.Second)
	for {
		busy := int64(0)
		for _, ep := range pool.Endpoints() {
			busy += ep.InFlight()
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%s: %d requests still in flight", host, path, busy)
		}
		runtime.Gosched()
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	good := backend(t, "good")
	register(t, e.reg, addrOf(good), appA, "0", "app.test")
	register(t, e.reg, addrOf(good), appA, "0", "gone.test")
	e.reg.Unregister(router.RegistryMessage{Host: "127.0.0.1", Port: good.Listener.Addr().(*net.TCPAddr).Port, URIs: []string{"gone.test"}})
	register(t, e.reg, closedAddr(t), appB, "0", "down.test")

	tests := []struct {
		name     string
		method   string
		host     string
		body     string
		hdr      http.Header
		wantCode int
		wantErr  string
		wantBody string
	}{
		{"unknown route", "GET", "nope.test", "", nil, 404, proxy.ErrUnknownRoute, "Requested route ('nope.test') does not exist."},
		{"no endpoints", "GET", "gone.test", "", nil, 503, proxy.ErrNoEndpoints, "no available endpoints"},
		{"dial failure", "GET", "down.test", "", nil, 502, proxy.ErrEndpointFailure, "502 Bad Gateway"},
		{"dial failure post", "POST", "down.test", "data", nil, 502, proxy.ErrEndpointFailure, "502 Bad Gateway"},
		{"malformed app instance", "GET", "app.test", "", http.Header{"X-Cf-App-Instance": {"nope"}}, 400, proxy.ErrInvalidAppInstance, "Invalid"},
		{"app instance without index", "GET", "app.test", "", http.Header{"X-Cf-App-Instance": {appA}}, 400, proxy.ErrInvalidAppInstance, "Invalid"},
		{"unknown app instance", "GET", "app.test", "", http.Header{"X-Cf-App-Instance": {appA + ":7"}}, 400, proxy.ErrUnknownRoute, "Requested instance ('7') with guid ('" + appA + "')"},
		{"unknown app guid", "GET", "app.test", "", http.Header{"X-Cf-App-Instance": {appB + ":0"}}, 400, proxy.ErrUnknownRoute, "does not exist for route ('app.test')"},
		{"ok", "GET", "app.test", "", nil, 200, "", "good"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			code, rerr, b := e.do(t, tt.method, tt.host, "/", body, tt.hdr)
			if code != tt.wantCode || rerr != tt.wantErr || !strings.Contains(b, tt.wantBody) {
				t.Errorf("got %d %q %q, want %d %q containing %q", code, rerr, b, tt.wantCode, tt.wantErr, tt.wantBody)
			}
		})
	}
}

// TestEmptyHost calls the handler directly: net/http clients and servers
// refuse an HTTP/1.1 request without Host.
func TestEmptyHost(t *testing.T) {
	t.Parallel()
	p := proxy.New(proxy.Config{}, proxy.Deps{Registry: registry.New(registry.Config{})})
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = ""
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	if rec.Code != 400 || rec.Header().Get(proxy.HeaderRouterError) != proxy.ErrEmptyHost {
		t.Fatalf("got %d %q", rec.Code, rec.Header().Get(proxy.HeaderRouterError))
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	a, api, b, wild := backend(t, "a"), backend(t, "a-api"), backend(t, "b"), backend(t, "wild")
	register(t, e.reg, addrOf(a), appA, "0", "a.test")
	register(t, e.reg, addrOf(api), appA, "1", "a.test/api")
	register(t, e.reg, addrOf(b), appB, "0", "b.test")
	register(t, e.reg, addrOf(wild), appB, "1", "*.w.test")

	tests := []struct{ host, path, want string }{
		{"a.test", "/", "a"},
		{"A.TEST:8080", "/x", "a"},
		{"a.test", "/api", "a-api"},
		{"a.test", "/api/v1?q=1", "a-api"},
		{"a.test", "/apis", "a"},
		{"b.test", "/api", "b"},
		{"x.w.test", "/", "wild"},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			t.Parallel()
			code, _, body := e.do(t, "GET", tt.host, tt.path, nil, nil)
			if code != 200 || body != tt.want {
				t.Errorf("got %d %q, want 200 %q", code, body, tt.want)
			}
		})
	}
}

func TestRoundRobin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	register(t, e.reg, addrOf(backend(t, "one")), appA, "0", "rr.test")
	register(t, e.reg, addrOf(backend(t, "two")), appA, "1", "rr.test")
	got := map[string]int{}
	for range 6 {
		_, _, body := e.do(t, "GET", "rr.test", "/", nil, nil)
		got[body]++
	}
	if got["one"] != 3 || got["two"] != 3 {
		t.Fatalf("distribution %v, want 3 each", got)
	}
	e.waitIdle(t, "rr.test", "/")
}

func TestRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		body     string
		wantCode int
		wantBody string
	}{
		{"get retried", "GET", "", 200, "good"},
		{"delete retried", "DELETE", "", 200, "good"},
		{"put with body retried", "PUT", "data", 200, "good"},
		{"post without body retried", "POST", "", 200, "good"},
		{"post with body not retried", "POST", "data", 502, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A fresh pool per case: round-robin tries the refusing
			// endpoint first.
			e := newEnv(t, proxy.Config{})
			var got []string
			var mu sync.Mutex
			good := handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				got = append(got, string(b))
				mu.Unlock()
				_, _ = io.WriteString(w, "good")
			}))
			register(t, e.reg, closedAddr(t), appA, "0", "retry.test")
			register(t, e.reg, addrOf(good), appA, "1", "retry.test")
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			code, _, b := e.do(t, tt.method, "retry.test", "/", body, nil)
			if code != tt.wantCode || (tt.wantBody != "" && b != tt.wantBody) {
				t.Fatalf("got %d %q, want %d %q", code, b, tt.wantCode, tt.wantBody)
			}
			mu.Lock()
			defer mu.Unlock()
			if code == 200 && (len(got) != 1 || got[0] != tt.body) {
				t.Errorf("backend got bodies %q, want [%q]", got, tt.body)
			}
			e.waitIdle(t, "retry.test", "/")
		})
	}
}

func TestRetryGivesUpAfterMaxTries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{MaxTries: 2})
	register(t, e.reg, closedAddr(t), appA, "0", "r.test")
	register(t, e.reg, closedAddr(t), appA, "1", "r.test")
	register(t, e.reg, addrOf(backend(t, "good")), appA, "2", "r.test")
	if code, rerr, _ := e.do(t, "GET", "r.test", "/", nil, nil); code != 502 || rerr != proxy.ErrEndpointFailure {
		t.Fatalf("got %d %q, want 502 endpoint_failure", code, rerr)
	}
	e.waitIdle(t, "r.test", "/")
}

func TestResponseTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{ResponseTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	register(t, e.reg, addrOf(slow), appA, "0", "slow.test")
	code, rerr, _ := e.do(t, "GET", "slow.test", "/", nil, nil)
	if code != 504 || rerr != proxy.ErrEndpointFailure {
		t.Fatalf("got %d %q, want 504 endpoint_failure", code, rerr)
	}
	e.waitIdle(t, "slow.test", "/")
}

func TestBackendHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	seen := make(chan http.Header, 1)
	b := handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		seen <- h
	}))
	register(t, e.reg, addrOf(b), appA, "3", "h.test")

	tests := []struct {
		name string
		in   http.Header
		want map[string]string // "" means: must be non-empty
	}{
		{"fresh", nil, map[string]string{
			"X-Forwarded-For":    "127.0.0.1",
			"X-Forwarded-Proto":  "http",
			"X-Vcap-Request-Id":  "",
			"X-Cf-Applicationid": appA,
			"X-Cf-Instanceid":    "inst-1111-3",
			"X-Cf-Instanceindex": "3",
			"Host":               "h.test",
		}},
		{"from a load balancer", http.Header{
			"X-Forwarded-For":   {"10.0.0.1"},
			"X-Forwarded-Proto": {"https"},
			"X-Vcap-Request-Id": {"req-1"},
			"X-Cf-Instanceid":   {"spoofed"},
		}, map[string]string{
			"X-Forwarded-For":   "10.0.0.1, 127.0.0.1",
			"X-Forwarded-Proto": "https",
			"X-Vcap-Request-Id": "req-1",
			"X-Cf-Instanceid":   "inst-1111-3",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the backend reports on one channel.
			before := time.Now().UnixMilli()
			if code, _, _ := e.do(t, "GET", "h.test", "/", nil, tt.in); code != 200 {
				t.Fatalf("status %d", code)
			}
			h := <-seen
			for k, want := range tt.want {
				if got := h.Get(k); (want == "" && got == "") || (want != "" && got != want) {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if tt.in == nil {
				if _, err := uuid.Parse(h.Get("X-Vcap-Request-Id")); err != nil {
					t.Errorf("X-Vcap-Request-Id %q: %v", h.Get("X-Vcap-Request-Id"), err)
				}
			}
			start, err := strconv.ParseInt(h.Get("X-Request-Start"), 10, 64)
			if err != nil || start < before || start > time.Now().UnixMilli() {
				t.Errorf("X-Request-Start = %q, want ms in [%d, now]", h.Get("X-Request-Start"), before)
			}
		})
	}
}

func TestAppInstancePicksInstance(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	for i := range 3 {
		register(t, e.reg, addrOf(backend(t, fmt.Sprint("i", i))), appA, fmt.Sprint(i), "ai.test")
	}
	for _, idx := range []string{"2", "0", "1", "2", "2"} {
		_, _, body := e.do(t, "GET", "ai.test", "/", nil, http.Header{"X-Cf-App-Instance": {appA + ":" + idx}})
		if body != "i"+idx {
			t.Errorf("instance %s: got %q", idx, body)
		}
	}
	e.waitIdle(t, "ai.test", "/")
}

func TestStreamingFlushes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	release := make(chan struct{})
	b := handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	}))
	register(t, e.reg, addrOf(b), appA, "0", "stream.test")

	req, _ := http.NewRequest("GET", e.srv.URL, nil)
	req.Host = "stream.test"
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n') // would block forever without flushing
	close(release)
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	e.waitIdle(t, "stream.test", "/")
}

func TestUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	seenHeaders := make(chan http.Header, 1)
	b := handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenHeaders <- r.Header.Clone()
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = rw.Flush()
		_, _ = io.Copy(conn, rw) // echo until the client closes
	}))
	register(t, e.reg, addrOf(b), appA, "0", "ws.test")

	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /socket HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "echo" {
		t.Fatalf("got %d upgrade %q", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
	if h := <-seenHeaders; h.Get("Upgrade") != "echo" || h.Get("X-Cf-Applicationid") != appA {
		t.Errorf("backend saw Upgrade %q, app %q", h.Get("Upgrade"), h.Get("X-Cf-Applicationid"))
	}
	for _, msg := range []string{"ping\n", "pong\n"} {
		_, _ = io.WriteString(conn, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo %q, %v, want %q", got, err, msg)
		}
	}
	if ep := e.reg.Lookup("ws.test", "/").Endpoints()[0]; ep.InFlight() != 1 {
		t.Errorf("in flight during upgrade = %d, want 1", ep.InFlight())
	}
	conn.Close()
	e.waitIdle(t, "ws.test", "/")
}

// TestInFlightReturnsToZero runs concurrent requests against a
// least-connection pool and checks every lease is released.
func TestInFlightReturnsToZero(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	for i := range 3 {
		s := backend(t, fmt.Sprint(i))
		host, port, _ := net.SplitHostPort(addrOf(s))
		p, _ := strconv.Atoi(port)
		e.reg.Register(router.RegistryMessage{
			Host: host, Port: p, URIs: []string{"lc.test"}, App: appA, PrivateInstanceIndex: fmt.Sprint(i),
			Options: router.Options{LoadBalancing: router.LBLeastConnection},
		}, time.Now())
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if code, _, _ := e.do(t, "POST", "lc.test", "/", strings.NewReader("x"), nil); code != 200 {
					t.Errorf("status %d", code)
				}
			}
		})
	}
	wg.Wait()
	e.waitIdle(t, "lc.test", "/")
}
