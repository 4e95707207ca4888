package gorouter_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/gorouter"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/pki"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const appGUID = "11111111-2222-3333-4444-555555555555"

// rtrLogs records the RTR lines the router sends.
type rtrLogs struct {
	mu    sync.Mutex
	lines []string
}

func (l *rtrLogs) RouterLog(appID, index, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, appID+" "+index+" "+line)
}

func (l *rtrLogs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

type env struct {
	t       testing.TB
	pub     *nats.Conn
	r       *gorouter.Router
	logs    *rtrLogs
	cfg     gorouter.Config
	httpURL string
	status  string
	cancel  context.CancelFunc
	done    chan error
}

// start runs a router on 127.0.0.1 against a fresh embedded NATS. mod may
// change the config first.
func start(t testing.TB, mod func(*gorouter.Config)) *env {
	t.Helper()
	srv := testenv.NATS(t)
	cfg := gorouter.Config{
		HTTP:      gorouter.ListenerConfig{Listen: "127.0.0.1:0"},
		Index:     3,
		NATS:      natsconn.FileConfig{URL: srv.ClientURL()},
		DrainWait: 10 * time.Millisecond,
		AccessLog: filepath.Join(t.TempDir(), "access.log"),
	}
	cfg.Status.Listen = "127.0.0.1:0"
	cfg.Status.User, cfg.Status.Password = "router", "s3cret"
	if mod != nil {
		mod(&cfg)
	}
	e := &env{t: t, logs: &rtrLogs{}, cfg: cfg, done: make(chan error, 1)}
	r, err := gorouter.New(cfg, gorouter.Deps{Logger: testenv.Logger(t), AppLogs: e.logs})
	if err != nil {
		t.Fatal(err)
	}
	e.r = r
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	select {
	case <-r.Ready():
	case err := <-e.done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("router not ready")
	}
	addrs := r.Addrs()
	if a := addrs["http"]; a != nil {
		e.httpURL = "http://" + a.String()
	}
	e.status = "http://" + addrs["status"].String()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	e.pub, err = natsconn.Connect(cctx, natsconn.Config{URL: srv.ClientURL(), Name: "emitter"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pub.Close)
	return e
}

func (e *env) publish(subject string, msg router.RegistryMessage) {
	e.t.Helper()
	b, err := json.Marshal(msg)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.pub.Publish(subject, b); err != nil {
		e.t.Fatal(err)
	}
}

func regMsg(t testing.TB, addr, host string, index int) router.RegistryMessage {
	t.Helper()
	h, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return router.RegistryMessage{Host: h, Port: port, URIs: []string{host}, App: appGUID,
		PrivateInstanceID: fmt.Sprintf("inst-%d", index), PrivateInstanceIndex: strconv.Itoa(index)}
}

// get sends a GET for host through base and returns status and body.
func get(t testing.TB, client *http.Client, base, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func backend(t testing.TB, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func TestRegisterRouteUnregister(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	b := backend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s %s", r.Header.Get("X-Cf-Instanceindex"), r.Header.Get("X-Forwarded-Proto"))
	})
	msg := regMsg(t, b.Listener.Addr().String(), "app.apps.test", 0)
	e.publish(router.SubjectRegister, msg)
	testenv.Eventually(t, 5*time.Second, func() error {
		if code, body := get(t, http.DefaultClient, e.httpURL, "app.apps.test", "/"); code != 200 || body != "hello 0 http" {
			return fmt.Errorf("got %d %q", code, body)
		}
		return nil
	})
	e.publish(router.SubjectUnregister, msg)
	testenv.Eventually(t, 5*time.Second, func() error {
		// The route is known but has no endpoint: 503, not 404.
		if code, _ := get(t, http.DefaultClient, e.httpURL, "app.apps.test", "/"); code != 503 {
			return fmt.Errorf("after unregister: %d, want 503", code)
		}
		return nil
	})
	if code, _ := get(t, http.DefaultClient, e.httpURL, "nope.apps.test", "/"); code != 404 {
		t.Errorf("unknown route: %d, want 404", code)
	}

	// Access log and RTR lines: one per request, in CF's format.
	testenv.Eventually(t, 5*time.Second, func() error {
		b, err := os.ReadFile(e.cfg.AccessLog)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), `"GET / HTTP/1.1" 200`) || !strings.Contains(string(b), `x_cf_routererror:"unknown_route"`) {
			return fmt.Errorf("access log lacks the requests: %s", b)
		}
		return nil
	})
	var rtr string
	for _, l := range e.logs.all() {
		if strings.Contains(l, `" 200 `) {
			rtr = l
		}
	}
	if !strings.HasPrefix(rtr, appGUID+" 3 app.apps.test - [") || !strings.Contains(rtr, `app_index:"0"`) {
		t.Errorf("RTR line = %q, want the app's access line from router index 3", rtr)
	}
}

func TestStatusEndpoints(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	b := backend(t, func(w http.ResponseWriter, r *http.Request) {})
	e.publish(router.SubjectRegister, regMsg(t, b.Listener.Addr().String(), "st.apps.test", 0))
	testenv.Eventually(t, 5*time.Second, func() error {
		if code, _ := get(t, http.DefaultClient, e.httpURL, "st.apps.test", "/"); code != 200 {
			return fmt.Errorf("got %d", code)
		}
		return nil
	})

	if code, body := get(t, http.DefaultClient, e.status, "", "/health"); code != 200 || body != "ok\n" {
		t.Errorf("/health = %d %q", code, body)
	}
	if code, _ := get(t, http.DefaultClient, e.status, "", "/routes"); code != 401 {
		t.Errorf("/routes without credentials = %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", e.status+"/routes", nil)
	req.SetBasicAuth("router", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var routes map[string][]map[string]any
	err = json.NewDecoder(resp.Body).Decode(&routes)
	resp.Body.Close()
	if err != nil || len(routes["st.apps.test"]) != 1 || routes["st.apps.test"][0]["address"] != b.Listener.Addr().String() {
		t.Errorf("/routes = %v (%v)", routes, err)
	}
	_, metrics := get(t, http.DefaultClient, e.status, "", "/metrics")
	for _, want := range []string{
		`gorouter_requests_total{status_class="2xx"} 1`,
		`gorouter_routes 1`,
		`gorouter_registry_messages_total{kind="register"} 1`,
		`gorouter_request_duration_seconds_count`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestDrain checks that a request in flight when draining starts
// completes, /health fails during the drain wait while requests are still
// served, and the router then stops accepting.
func TestDrain(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *gorouter.Config) { c.DrainWait = 300 * time.Millisecond })
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	b := backend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	})
	e.publish(router.SubjectRegister, regMsg(t, b.Listener.Addr().String(), "drain.apps.test", 0))
	testenv.Eventually(t, 5*time.Second, func() error {
		if code, _ := get(t, http.DefaultClient, e.httpURL, "drain.apps.test", "/"); code != 200 {
			return fmt.Errorf("got %d", code)
		}
		return nil
	})

	slow := make(chan string, 1)
	go func() {
		code, body := get(t, &http.Client{}, e.httpURL, "drain.apps.test", "/slow")
		slow <- fmt.Sprint(code, " ", body)
	}()
	<-entered
	e.cancel() // SIGTERM

	testenv.Eventually(t, 5*time.Second, func() error {
		if code, _ := get(t, http.DefaultClient, e.status, "", "/health"); code != 503 {
			return fmt.Errorf("/health while draining = %d, want 503", code)
		}
		return nil
	})
	// Still serving during the drain wait.
	if code, body := get(t, &http.Client{Transport: &http.Transport{}}, e.httpURL, "drain.apps.test", "/"); code != 200 || body != "done" {
		t.Errorf("request during drain wait: %d %q", code, body)
	}
	close(release)
	if got := <-slow; got != "200 done" {
		t.Errorf("in-flight request: %s, want 200 done", got)
	}
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		e.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("router did not stop after draining")
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(e.httpURL, "http://"), time.Second); err == nil {
		t.Error("router still accepts connections after the drain")
	}
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := pki.NewCA("router CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue(pki.IssueRequest{CommonName: "router", DNSNames: []string{"*.apps.test"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	files, err := c.WriteFiles(dir, "router")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, func(cfg *gorouter.Config) {
		cfg.HTTP.Listen = ""
		cfg.HTTPS = gorouter.HTTPSConfig{Listen: "127.0.0.1:0", CertFile: files.Cert, KeyFile: files.Key}
	})
	b := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Header.Get("X-Forwarded-Proto")) })
	e.publish(router.SubjectRegister, regMsg(t, b.Listener.Addr().String(), "secure.apps.test", 0))
	addr := e.r.Addrs()["https"].String()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "secure.apps.test"},
	}}
	testenv.Eventually(t, 5*time.Second, func() error {
		if code, body := get(t, client, "https://"+addr, "secure.apps.test", "/"); code != 200 || body != "https" {
			return fmt.Errorf("got %d %q", code, body)
		}
		return nil
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*gorouter.Config)
		want string
	}{
		{"no listener", func(c *gorouter.Config) { c.HTTP.Listen = "" }, "http.listen or https.listen is required"},
		{"https without cert", func(c *gorouter.Config) { c.HTTPS.Listen = "127.0.0.1:0" }, "https.cert_file is required"},
		{"bad balancing", func(c *gorouter.Config) { c.Routing.DefaultLoadBalancing = "random" }, `routing.default_load_balancing "random"`},
		{"no nats", func(c *gorouter.Config) { c.NATS.URL = "" }, "nats: url is required"},
		{"prune below register", func(c *gorouter.Config) { c.Routing.PruneThreshold = time.Second }, "must exceed routing.register_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := gorouter.Config{HTTP: gorouter.ListenerConfig{Listen: "127.0.0.1:0"}, NATS: natsconn.FileConfig{URL: "nats://127.0.0.1:4222"}}
			tt.mod(&cfg)
			_, err := gorouter.New(cfg, gorouter.Deps{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
