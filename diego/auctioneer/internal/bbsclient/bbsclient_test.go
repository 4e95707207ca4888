package bbsclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/pki"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// fakeBBS answers FailTask and FailActualLRP with err (nil: success),
// after answering the first unavailable calls with UNAVAILABLE, and counts
// the calls.
type fakeBBS struct {
	bbsv1.UnimplementedBBSServiceServer
	err         error
	unavailable int32
	calls       atomic.Int32
	last        atomic.Value // string: what the last call carried
}

func (b *fakeBBS) answer() error {
	if b.calls.Add(1) <= b.unavailable {
		return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_UNAVAILABLE, "not the active bbs yet")
	}
	return b.err
}

func (b *fakeBBS) FailTask(_ context.Context, req *bbsv1.FailTaskRequest) (*bbsv1.FailTaskResponse, error) {
	b.last.Store(req.GetTaskGuid() + ": " + req.GetFailureReason())
	return &bbsv1.FailTaskResponse{}, b.answer()
}

func (b *fakeBBS) FailActualLRP(_ context.Context, req *bbsv1.FailActualLRPRequest) (*bbsv1.FailActualLRPResponse, error) {
	k := req.GetKey()
	b.last.Store(fmt.Sprintf("%s/%d/%s: %s", k.GetProcessGuid(), k.GetIndex(), k.GetDomain(), req.GetErrorMessage()))
	return &bbsv1.FailActualLRPResponse{}, b.answer()
}

type testPKI struct {
	ca             *pki.CA
	server, client tls.Certificate
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(req pki.IssueRequest) tls.Certificate {
		c, err := ca.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := c.TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	return &testPKI{
		ca:     ca,
		server: issue(pki.IssueRequest{CommonName: "bbs", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true}),
		client: issue(pki.IssueRequest{CommonName: "auctioneer", Client: true}),
	}
}

func (p *testPKI) serve(t *testing.T, b *fakeBBS) string {
	t.Helper()
	srv, err := rpc.NewServer(rpc.ServerConfig{Listen: "127.0.0.1:0", TLS: pki.ServerTLS(p.server, p.ca.Pool(), true), ShutdownTimeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bbsv1.RegisterBBSServiceServer(srv.GRPC(), b)
	testenv.Start(t, srv)
	return srv.Addr().String()
}

func (p *testPKI) dial(t *testing.T, addrs ...string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), Config{
		RPC:            rpc.ClientConfig{Addresses: addrs, TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")},
		RequestTimeout: 2 * time.Second,
		Attempts:       3,
		Backoff:        10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func deadAddr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestFailover(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	tests := []struct {
		name  string
		bbs   *fakeBBS
		addrs func(active string) []string
	}{
		{"active only", &fakeBBS{}, func(a string) []string { return []string{a} }},
		{"down then active", &fakeBBS{}, func(a string) []string { return []string{deadAddr(t), a} }},
		{"active then down", &fakeBBS{}, func(a string) []string { return []string{a, deadAddr(t)} }},
		{"unavailable while failing over", &fakeBBS{unavailable: 2}, func(a string) []string { return []string{deadAddr(t), a} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := p.dial(t, tt.addrs(p.serve(t, tt.bbs))...)
			if err := c.FailTask(ctx(t), "t1", "insufficient resources: memory"); err != nil {
				t.Fatalf("FailTask: %v", err)
			}
			if got := tt.bbs.last.Load(); got != "t1: insufficient resources: memory" {
				t.Errorf("BBS got %q", got)
			}
			key := &bbsv1.ActualLRPKey{ProcessGuid: "p", Index: 2, Domain: "cf-apps"}
			if err := c.FailActualLRP(ctx(t), key, "found no compatible cell for required rootfs"); err != nil {
				t.Fatalf("FailActualLRP: %v", err)
			}
			if got := tt.bbs.last.Load(); got != "p/2/cf-apps: found no compatible cell for required rootfs" {
				t.Errorf("BBS got %q", got)
			}
			if got, want := tt.bbs.calls.Load(), 2+tt.bbs.unavailable; got != want {
				t.Errorf("BBS got %d calls, want %d", got, want)
			}
		})
	}
}

func TestNoBBSServes(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	t.Run("none listening", func(t *testing.T) {
		t.Parallel()
		c := p.dial(t, deadAddr(t), deadAddr(t))
		if err := c.FailTask(ctx(t), "t", "x"); err == nil || !strings.Contains(err.Error(), "no BBS served it in 3 attempts") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("always unavailable", func(t *testing.T) {
		t.Parallel()
		b := &fakeBBS{unavailable: 100}
		c := p.dial(t, p.serve(t, b))
		if err := c.FailTask(ctx(t), "t", "x"); !bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_UNAVAILABLE) {
			t.Fatalf("err = %v, want the BBS's UNAVAILABLE", err)
		}
		if got := b.calls.Load(); got != 3 {
			t.Errorf("BBS called %d times, want once per attempt (3)", got)
		}
	})
}

func TestAnswerEndsTheCall(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	tests := []struct {
		name string
		err  error
		code codes.Code
	}{
		{"invalid transition", bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION, "already claimed"), codes.FailedPrecondition},
		{"not found", bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, "gone"), codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &fakeBBS{err: tt.err}
			c := p.dial(t, p.serve(t, b))
			err := c.FailTask(ctx(t), "t", "x")
			if status.Code(err) != tt.code {
				t.Errorf("err = %v, want %v", err, tt.code)
			}
			if got := b.calls.Load(); got != 1 {
				t.Errorf("calls = %d, want 1: the BBS answered", got)
			}
		})
	}
}

func TestCancelledCaller(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	c := p.dial(t, deadAddr(t))
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.FailTask(cctx, "t", "x"); err == nil {
		t.Fatal("FailTask with a cancelled ctx succeeded")
	}
}

func TestDialNeedsAnAddress(t *testing.T) {
	t.Parallel()
	if _, err := Dial(context.Background(), Config{}); err == nil {
		t.Fatal("Dial without an address succeeded")
	}
}
