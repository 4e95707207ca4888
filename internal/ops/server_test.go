package ops

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/internal/testenv"
)

// start runs s until the test ends and returns its base URL.
func start(t *testing.T, s *Server) string {
	t.Helper()
	testenv.Start(t, s)
	return "http://" + s.Addr().String()
}

func newServer(t *testing.T, reg *prometheus.Registry) *Server {
	return New(Config{Listen: "127.0.0.1:0", CheckTimeout: 50 * time.Millisecond}, testenv.Logger(t), reg)
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, string(body)
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	requests := prometheus.NewCounter(prometheus.CounterOpts{Name: "anvil_test_requests_total", Help: "Test counter."})
	reg.MustRegister(requests)
	requests.Add(3)
	base := start(t, newServer(t, reg))

	tests := []struct {
		method   string
		path     string
		wantCode int
		wantBody []string
	}{
		{"GET", "/healthz", 200, []string{"ok"}},
		{"HEAD", "/healthz", 200, nil},
		{"GET", "/readyz", 200, []string{"readyz check passed"}},
		{"GET", "/metrics", 200, []string{"anvil_test_requests_total 3", "go_goroutines", "process_start_time_seconds"}},
		{"GET", "/debug/pprof/", 200, []string{"goroutine"}},
		{"GET", "/debug/pprof/goroutine?debug=1", 200, []string{"goroutine profile"}},
		{"GET", "/debug/pprof/cmdline", 200, nil},
		{"POST", "/healthz", 405, nil},
		{"GET", "/nope", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			code, body := get(t, tt.method, base+tt.path)
			if code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body:\n%s", code, tt.wantCode, body)
			}
			for _, want := range tt.wantBody {
				if !strings.Contains(body, want) {
					t.Errorf("body does not contain %q:\n%s", want, body)
				}
			}
		})
	}
}

func TestNilRegistryAndLogger(t *testing.T) {
	t.Parallel()
	base := start(t, New(Config{Listen: "127.0.0.1:0"}, nil, nil))
	if code, _ := get(t, "GET", base+"/metrics"); code != 200 {
		t.Errorf("/metrics status = %d, want 200", code)
	}
}

func TestReadinessFlips(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	var dbUp atomic.Bool
	s.AddCheck("db", func(context.Context) error {
		if !dbUp.Load() {
			return errors.New("db down")
		}
		return nil
	})
	base := start(t, s)

	code, body := get(t, "GET", base+"/readyz")
	if code != 503 || !strings.Contains(body, "[-]db failed: db down") {
		t.Fatalf("before: status %d body:\n%s", code, body)
	}
	dbUp.Store(true)
	code, body = get(t, "GET", base+"/readyz")
	if code != 200 || !strings.Contains(body, "[+]db ok") {
		t.Fatalf("after: status %d body:\n%s", code, body)
	}
	// Checks added while running take part at once.
	s.AddCheck("late", func(context.Context) error { return errors.New("not yet") })
	if code, body = get(t, "GET", base+"/readyz"); code != 503 {
		t.Fatalf("after late check: status %d body:\n%s", code, body)
	}
}

func TestReadinessChecks(t *testing.T) {
	t.Parallel()
	pass := func(context.Context) error { return nil }
	honoursCtx := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

	tests := []struct {
		name     string
		check    func(stuck <-chan struct{}) CheckFunc
		requests int // the last one is checked
		wantCode int
		wantLine string
	}{
		{"pass", func(<-chan struct{}) CheckFunc { return pass }, 1, 200, "[+]c ok"},
		{"error", func(<-chan struct{}) CheckFunc {
			return func(context.Context) error { return errors.New("line one\nline two") }
		}, 1, 503, "[-]c failed: line one; line two"},
		{"slow but honours ctx", func(<-chan struct{}) CheckFunc { return honoursCtx }, 1, 503, "[-]c failed: timed out"},
		{"ignores ctx", func(stuck <-chan struct{}) CheckFunc {
			return func(context.Context) error { <-stuck; return nil }
		}, 1, 503, "[-]c failed: timed out"},
		{"ignores ctx, asked again", func(stuck <-chan struct{}) CheckFunc {
			return func(context.Context) error { <-stuck; return nil }
		}, 2, 503, "[-]c failed: previous run still in progress"},
		{"panics", func(<-chan struct{}) CheckFunc {
			return func(context.Context) error { panic("kaboom") }
		}, 1, 503, "[-]c failed: check panicked: kaboom"},
		{"ready channel open", func(stuck <-chan struct{}) CheckFunc { return ReadyCheck(stuck) }, 1, 503, "[-]c failed: not ready yet"},
		{"ready channel closed", func(<-chan struct{}) CheckFunc {
			ch := make(chan struct{})
			close(ch)
			return ReadyCheck(ch)
		}, 1, 200, "[+]c ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stuck := make(chan struct{})
			t.Cleanup(func() { close(stuck) })
			s := newServer(t, nil)
			s.AddCheck("c", tt.check(stuck))
			s.AddCheck("other", pass)
			base := start(t, s)
			var code int
			var body string
			for range tt.requests {
				code, body = get(t, "GET", base+"/readyz")
			}
			if code != tt.wantCode {
				t.Errorf("status = %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(body, tt.wantLine+"\n") || !strings.Contains(body, "[+]other ok\n") {
				t.Errorf("body does not contain %q and the other check:\n%s", tt.wantLine, body)
			}
		})
	}
}

func TestReadyzConcurrent(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	var calls atomic.Int64
	s.AddCheck("counted", func(context.Context) error { calls.Add(1); return nil })
	base := start(t, s)

	const n = 32
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() { codes[i], _ = get(t, "GET", base+"/readyz") })
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	if got := calls.Load(); got < 1 || got > n {
		t.Errorf("check ran %d times for %d requests", got, n)
	}
}

func TestAddCheckPanics(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name  string
		check string
		fn    CheckFunc
	}{
		{"empty name", "", ok},
		{"nil check", "x", nil},
		{"duplicate", "dup", ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Config{Listen: "127.0.0.1:0"}, nil, nil)
			s.AddCheck("dup", ok)
			defer func() {
				if recover() == nil {
					t.Error("AddCheck did not panic")
				}
			}()
			s.AddCheck(tt.check, tt.fn)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{"ok", Config{Listen: ":9100"}, nil},
		{"missing listen", Config{}, []string{"listen: required"}},
		{"bad listen", Config{Listen: "9100"}, []string{"listen: "}},
		{"all at once", Config{CheckTimeout: -1, ShutdownTimeout: -1}, []string{"listen: required", "check_timeout", "shutdown_timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Defaults()
			err := cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if cfg.CheckTimeout != DefaultCheckTimeout || cfg.ShutdownTimeout != DefaultShutdownTimeout {
					t.Errorf("Defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() }) // not defer: the subtests run after this function returns

	tests := []struct {
		name   string
		listen string
	}{
		{"invalid config", ""},
		{"address in use", taken.Addr().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Config{Listen: tt.listen}, testenv.Logger(t), nil)
			if err := s.Run(context.Background()); err == nil {
				t.Fatal("Run succeeded, want error")
			}
			select {
			case <-s.Ready():
				t.Error("Ready closed although the listener was never bound")
			default:
			}
			if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
				t.Errorf("second Run err = %v, want 'twice'", err)
			}
		})
	}
}

// TestShutdownBounded holds a request in flight, so graceful shutdown cannot
// finish, and checks that Run still returns nil soon after the shutdown
// timeout, closing the connection.
func TestShutdownBounded(t *testing.T) {
	t.Parallel()
	s := New(Config{Listen: "127.0.0.1:0", CheckTimeout: time.Minute, ShutdownTimeout: 100 * time.Millisecond}, testenv.Logger(t), nil)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.AddCheck("stuck", func(context.Context) error {
		entered <- struct{}{}
		<-release
		return nil
	})
	stop := testenv.Start(t, s)

	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-entered // the request is being handled

	begin := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
	if d := time.Since(begin); d < 100*time.Millisecond {
		t.Errorf("Run returned after %v, before the shutdown timeout: graceful wait skipped", d)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("held connection still open after shutdown (read %d bytes)", n)
	}
}

func TestReadyzWhileShuttingDown(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.AddCheck("fine", func(context.Context) error { return nil })
	s.shuttingDown.Store(true)
	rec := httptest.NewRecorder()
	s.serveReadyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "[-]shutdown failed: shutting down") {
		t.Errorf("status %d body:\n%s", rec.Code, rec.Body)
	}
}
