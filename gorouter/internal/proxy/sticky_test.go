package proxy_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/gorouter/internal/proxy"
	"github.com/anvilpaas/anvil/gorouter/internal/registry"
	"github.com/anvilpaas/anvil/internal/pki"
)

// sessionBackend answers its name and starts a session (JSESSIONID) on
// /login.
func sessionBackend(t testing.TB, name string) *httptest.Server {
	return handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "s-" + name, MaxAge: 600, Secure: true, SameSite: http.SameSiteLaxMode})
		}
		if r.URL.Path == "/own" {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "s"})
			http.SetCookie(w, &http.Cookie{Name: proxy.VcapCookie, Value: "mine"})
		}
		_, _ = io.WriteString(w, name)
	}))
}

func vcapCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == proxy.VcapCookie {
			return c
		}
	}
	return nil
}

func TestStickySessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	for i := range 3 {
		register(t, e.reg, addrOf(sessionBackend(t, fmt.Sprint("i", i))), appA, fmt.Sprint(i), "sticky.test")
	}
	get := func(path string, cookies ...*http.Cookie) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Host = "sticky.test"
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// No session cookie from the backend: no __VCAP_ID__.
	if resp, _ := get("/"); vcapCookie(resp) != nil {
		t.Fatalf("__VCAP_ID__ set without a session: %v", resp.Header["Set-Cookie"])
	}

	resp, first := get("/login")
	vc := vcapCookie(resp)
	if vc == nil {
		t.Fatalf("no __VCAP_ID__ after JSESSIONID: %v", resp.Header["Set-Cookie"])
	}
	wantID := "inst-" + appA[:4] + "-" + strings.TrimPrefix(first, "i")
	if vc.Value != wantID || vc.MaxAge != 600 || !vc.Secure || !vc.HttpOnly || vc.Path != "/" || vc.SameSite != http.SameSiteLaxMode {
		t.Errorf("__VCAP_ID__ = %+v, want value %s, max-age 600, Secure, HttpOnly, path /, SameSite Lax", vc, wantID)
	}
	session := &http.Cookie{Name: "JSESSIONID", Value: "s-" + first}
	for range 6 {
		if _, got := get("/", session, &http.Cookie{Name: proxy.VcapCookie, Value: vc.Value}); got != first {
			t.Fatalf("sticky request went to %s, want %s", got, first)
		}
	}

	// The instance goes away: the request is served elsewhere and the
	// cookie now names the new instance.
	idx := strings.TrimPrefix(first, "i")
	gone := e.reg.Lookup("sticky.test", "/").Find(wantID)
	host, port, _ := net.SplitHostPort(gone.Addr)
	p, _ := strconv.Atoi(port)
	e.reg.Unregister(router.RegistryMessage{Host: host, Port: p, URIs: []string{"sticky.test"}, PrivateInstanceID: wantID, PrivateInstanceIndex: idx, App: appA})
	resp, got := get("/", session, &http.Cookie{Name: proxy.VcapCookie, Value: vc.Value})
	if got == first {
		t.Fatalf("request went to the unregistered instance %s", first)
	}
	if nc := vcapCookie(resp); nc == nil || nc.Value != "inst-"+appA[:4]+"-"+strings.TrimPrefix(got, "i") {
		t.Errorf("after failover __VCAP_ID__ = %v, want the new instance %s", nc, got)
	}

	// A backend setting __VCAP_ID__ itself is left alone.
	resp, _ = get("/own")
	if vals := resp.Header.Values("Set-Cookie"); len(vals) != 2 {
		t.Errorf("Set-Cookie = %q, want only the backend's two cookies", vals)
	}
	e.waitIdle(t, "sticky.test", "/")
}

func TestBackendTLS(t *testing.T) {
	t.Parallel()
	ca, err := pki.NewCA("backend-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue(pki.IssueRequest{CommonName: "inst-1", DNSNames: []string{"inst-1"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(issued.CertPEM, issued.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	b := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "tls:"+r.Header.Get(proxy.HeaderInstanceID))
	}))
	b.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	b.StartTLS()
	t.Cleanup(b.Close)

	reg := registry.New(registry.Config{})
	p := proxy.New(proxy.Config{BackendTLS: &tls.Config{RootCAs: ca.Pool()}}, proxy.Deps{Registry: reg})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	e := &env{reg: reg, proxy: p, srv: srv}

	host, port, _ := net.SplitHostPort(addrOf(b))
	tp, _ := strconv.Atoi(port)
	reg.Register(router.RegistryMessage{Host: host, Port: 1, TLSPort: tp, URIs: []string{"good.test"}, App: appA,
		PrivateInstanceID: "inst-1", PrivateInstanceIndex: "0", ServerCertDomainSAN: "inst-1"}, time.Now())
	if code, _, body := e.do(t, "GET", "good.test", "/", nil, nil); code != 200 || body != "tls:inst-1" {
		t.Errorf("TLS backend: %d %q", code, body)
	}
	// A certificate that does not carry the registered SAN is an endpoint
	// failure (the instance behind the port is not the one registered).
	reg.Register(router.RegistryMessage{Host: host, Port: 1, TLSPort: tp, URIs: []string{"wrong.test"}, App: appA,
		PrivateInstanceID: "inst-2", PrivateInstanceIndex: "0", ServerCertDomainSAN: "inst-2"}, time.Now())
	if code, rerr, _ := e.do(t, "GET", "wrong.test", "/", nil, nil); code != 502 || rerr != proxy.ErrEndpointFailure {
		t.Errorf("wrong SAN: %d %q, want 502 endpoint_failure", code, rerr)
	}
}

func TestRecords(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var recs []proxy.Record
	reg := registry.New(registry.Config{})
	p := proxy.New(proxy.Config{}, proxy.Deps{Registry: reg, Done: func(r *proxy.Record) {
		mu.Lock()
		defer mu.Unlock()
		c := *r
		c.Request = nil
		recs = append(recs, c)
	}})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	e := &env{reg: reg, proxy: p, srv: srv}
	b := handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.WriteHeader(201)
		fmt.Fprintf(w, "got %d", n)
	}))
	register(t, reg, addrOf(b), appA, "4", "rec.test")

	e.do(t, "POST", "rec.test", "/", strings.NewReader("hello"), http.Header{"X-Vcap-Request-Id": {"req-1"}})
	e.do(t, "GET", "missing.test", "/", nil, nil)

	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(recs)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records, want 2", n)
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	ok, miss := recs[0], recs[1]
	if ok.Status != 201 || ok.BodyBytesReceived != 5 || ok.BodyBytesSent != int64(len("got 5")) || ok.RequestID != "req-1" ||
		ok.Endpoint == nil || ok.Endpoint.PrivateInstanceIndex != "4" || ok.RouterError != "" || ok.Duration < ok.BackendTime || ok.BackendTime <= 0 {
		t.Errorf("proxied record = %+v", ok)
	}
	if miss.Status != 404 || miss.RouterError != proxy.ErrUnknownRoute || miss.Endpoint != nil || miss.RequestID == "" {
		t.Errorf("unknown route record = %+v", miss)
	}
}

// TestPinnedCountsInFlight checks that a request pinned with
// X-Cf-App-Instance is counted by least-connection balancing while it
// runs.
func TestPinnedCountsInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t, proxy.Config{})
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	b := handlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	register(t, e.reg, addrOf(b), appA, "0", "pin.test")
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.do(t, "GET", "pin.test", "/", nil, http.Header{"X-Cf-App-Instance": {appA + ":0"}})
	}()
	<-entered
	if n := e.reg.Lookup("pin.test", "/").Endpoints()[0].InFlight(); n != 1 {
		t.Errorf("in flight while pinned request runs = %d, want 1", n)
	}
	close(release)
	<-done
	e.waitIdle(t, "pin.test", "/")
}
