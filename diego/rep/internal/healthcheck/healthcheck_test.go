package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.WriteHeader(http.StatusOK)
		case "/redirect":
			http.Redirect(w, r, "/health", http.StatusFound)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	live := strings.TrimPrefix(srv.URL, "http://")
	dead := closedAddr(t)
	const (
		port = bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT
		web  = bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP
	)
	tests := []struct {
		name  string
		probe Probe
		want  string // error text; empty: passes
	}{
		{"port open", Probe{Type: port, Addr: live}, ""},
		{"port closed", Probe{Type: port, Addr: dead}, "failed to make TCP connection to " + dead + ": connection refused"},
		{"http 200", Probe{Type: web, Addr: live, Port: 8080, Endpoint: "/health"}, ""},
		{"http endpoint without slash", Probe{Type: web, Addr: live, Port: 8080, Endpoint: "health"}, ""},
		{"http 500", Probe{Type: web, Addr: live, Port: 8080, Endpoint: "/boom"}, "failed to make HTTP request to '/boom' on port 8080: received status code 500 in "},
		{"http redirect is not 200", Probe{Type: web, Addr: live, Port: 8080, Endpoint: "/redirect"}, "received status code 302"},
		{"http refused", Probe{Type: web, Addr: dead, Port: 8080}, "failed to make HTTP request to '/' on port 8080: connection refused"},
		{"process check", Probe{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PROCESS, Addr: dead}, ""},
		{"unspecified", Probe{Addr: dead}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.probe.Run(context.Background())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Run = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Run = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestProbeTimeout(t *testing.T) {
	t.Parallel()
	// A listener that never accepts: the TCP handshake completes (the
	// kernel's backlog), so hold the HTTP check on a handler instead.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	t.Cleanup(func() { close(block); srv.Close() })
	p := Probe{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP, Addr: strings.TrimPrefix(srv.URL, "http://"), Port: 8080, Timeout: 50 * time.Millisecond}
	err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "failed to make HTTP request to '/' on port 8080: timed out after 0.05 seconds") {
		t.Errorf("Run = %v, want a timeout", err)
	}
}
