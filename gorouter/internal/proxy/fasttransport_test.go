package proxy_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/gorouter/internal/proxy"
)

// countingBackend is an httptest server that counts the connections it
// accepted.
func countingBackend(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func TestKeepAliveToBackends(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		method    string
		body      io.Reader
		handler   http.HandlerFunc
		wantBody  string
		wantConns int64 // after 5 sequential requests
	}{
		{"get", "GET", nil, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }, "ok", 1},
		{"chunked", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		}, "ab", 1},
		{"head", "HEAD", nil, func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Length", "10") }, "", 1},
		{"no content", "GET", nil, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, "", 1},
		{"post with body", "POST", strings.NewReader("x"), func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		}, "x", 1},
		{"connection close", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}, "bye", 5},
		{"early hints", "GET", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "hinted")
		}, "hinted", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, proxy.Config{})
			b, conns := countingBackend(t, tt.handler)
			register(t, e.reg, addrOf(b), appA, "0", "ka.test")
			for i := range 5 {
				var body io.Reader
				if tt.body != nil {
					body = strings.NewReader("x")
				}
				code, _, got := e.do(t, tt.method, "ka.test", "/", body, nil)
				if code >= 300 || got != tt.wantBody {
					t.Fatalf("request %d: %d %q, want %q", i, code, got, tt.wantBody)
				}
			}
			if n := conns.Load(); n != tt.wantConns {
				t.Errorf("backend accepted %d connections for 5 requests, want %d", n, tt.wantConns)
			}
			e.waitIdle(t, "ka.test", "/")
		})
	}
}

// TestStaleKeepAliveRetried closes the backend's idle connections between
// requests: the router's pooled connection is dead, and the request must
// go again on a fresh one instead of failing.
func TestStaleKeepAliveRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	b, conns := countingBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fresh") })
	register(t, e.reg, addrOf(b), appA, "0", "stale.test")
	for i := range 3 {
		if code, _, body := e.do(t, "GET", "stale.test", "/", nil, nil); code != 200 || body != "fresh" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		b.CloseClientConnections()
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d backend connections, want 3 (one per request after each close)", n)
	}
}

// TestClientGoneMidBody checks that when the client goes away in the
// middle of a response the router drops the backend connection (the
// backend sees its request cancelled) rather than leaving it blocked.
func TestClientGoneMidBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	cancelled := make(chan struct{})
	b, _ := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	})
	register(t, e.reg, addrOf(b), appA, "0", "gone.test")
	req, _ := http.NewRequest("GET", e.srv.URL+"/slow", nil)
	req.Host = "gone.test"
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "part" {
		t.Fatalf("first bytes %q, %v", buf, err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend's request was not cancelled after the client went away")
	}
	e.waitIdle(t, "gone.test", "/")
}
