package repclient

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"testing"
	"time"

	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/internal/pki"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

type fakeRep struct {
	repv1.UnimplementedRepServiceServer
	id       string
	performs atomic.Int32
}

func (r *fakeRep) State(context.Context, *repv1.StateRequest) (*repv1.StateResponse, error) {
	return &repv1.StateResponse{CellId: r.id}, nil
}

func (r *fakeRep) Perform(_ context.Context, req *repv1.PerformRequest) (*repv1.PerformResponse, error) {
	r.performs.Add(1)
	resp := &repv1.PerformResponse{}
	for _, l := range req.GetLrps() {
		resp.FailedLrps = append(resp.FailedLrps, &repv1.WorkFailure{ProcessGuid: l.GetProcessGuid(), Index: l.GetIndex(), Reason: "no"})
	}
	return resp, nil
}

func TestPool(t *testing.T) {
	t.Parallel()
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
	serverCert := issue(pki.IssueRequest{CommonName: "cell", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	addrs := map[string]string{}
	for _, id := range []string{"cell-a", "cell-b"} {
		srv, err := rpc.NewServer(rpc.ServerConfig{Listen: "127.0.0.1:0", TLS: pki.ServerTLS(serverCert, ca.Pool(), true), ShutdownTimeout: time.Second}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		repv1.RegisterRepServiceServer(srv.GRPC(), &fakeRep{id: id})
		testenv.Start(t, srv)
		addrs[id] = srv.Addr().String()
	}

	pool := New(rpc.ClientConfig{Address: "ignored", TLS: pki.ClientTLS(issue(pki.IssueRequest{CommonName: "auctioneer", Client: true}), ca.Pool(), "")})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for id, addr := range addrs {
		st, err := pool.State(ctx, addr)
		if err != nil || st.GetCellId() != id {
			t.Fatalf("State(%s) = %v, %v", addr, st, err)
		}
	}
	resp, err := pool.Perform(ctx, addrs["cell-a"], &repv1.PerformRequest{Lrps: []*repv1.LRPWork{{ProcessGuid: "p", Index: 1}}})
	if err != nil || len(resp.GetFailedLrps()) != 1 {
		t.Fatalf("Perform = %v, %v", resp, err)
	}
	if pool.Len() != 2 {
		t.Errorf("Len = %d, want 2", pool.Len())
	}

	pool.Retain([]string{addrs["cell-b"]})
	if pool.Len() != 1 {
		t.Errorf("Len after Retain = %d, want 1", pool.Len())
	}
	// A dropped address is dialled again on use.
	if _, err := pool.State(ctx, addrs["cell-a"]); err != nil {
		t.Errorf("State after Retain dropped it: %v", err)
	}

	if err := pool.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := pool.State(ctx, addrs["cell-b"]); err == nil {
		t.Error("State after Close succeeded")
	}
	if _, err := pool.State(ctx, "127.0.0.1:1"); err == nil {
		t.Error("State after Close succeeded")
	}
}
