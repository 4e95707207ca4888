package auctioneer_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer"
	"github.com/anvilpaas/anvil/internal/pki"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// testPKI is one CA for every party: the auctioneer, its caller, the
// BBS and the reps.
type testPKI struct {
	ca     *pki.CA
	server tls.Certificate // 127.0.0.1, used by every server
	client tls.Certificate
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
		server: issue(pki.IssueRequest{CommonName: "server", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true}),
		client: issue(pki.IssueRequest{CommonName: "client", Client: true}),
	}
}

func (p *testPKI) serverConfig() rpc.ServerConfig {
	return rpc.ServerConfig{Listen: "127.0.0.1:0", TLS: pki.ServerTLS(p.server, p.ca.Pool(), true), ShutdownTimeout: time.Second}
}

func (p *testPKI) clientConfig(addr string) rpc.ClientConfig {
	return rpc.ClientConfig{Address: addr, TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")}
}

// serve runs a gRPC server with the services register adds, for the rest
// of the test, and returns its address.
func (p *testPKI) serve(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	srv, err := rpc.NewServer(p.serverConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	register(srv.GRPC())
	testenv.Start(t, srv)
	return srv.Addr().String()
}

// simRep is a simulated cell: it answers State from its state and takes
// work by reserving capacity, unless it refuses everything.
type simRep struct {
	repv1.UnimplementedRepServiceServer
	mu        sync.Mutex
	state     *repv1.StateResponse
	refuse    bool
	performed []string // work keys taken
}

func (r *simRep) State(context.Context, *repv1.StateRequest) (*repv1.StateResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return proto.Clone(r.state).(*repv1.StateResponse), nil
}

func (r *simRep) Perform(_ context.Context, req *repv1.PerformRequest) (*repv1.PerformResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	resp := &repv1.PerformResponse{}
	avail := r.state.GetAvailable()
	for _, l := range req.GetLrps() {
		if r.refuse {
			resp.FailedLrps = append(resp.FailedLrps, &repv1.WorkFailure{ProcessGuid: l.GetProcessGuid(), Index: l.GetIndex(), Reason: "cell is draining"})
			continue
		}
		avail.MemoryMb -= l.GetMemoryMb()
		avail.DiskMb -= l.GetDiskMb()
		avail.Containers--
		r.state.Lrps = append(r.state.Lrps, &repv1.LRPAllocation{ProcessGuid: l.GetProcessGuid(), Index: l.GetIndex(), MemoryMb: l.GetMemoryMb(), DiskMb: l.GetDiskMb()})
		r.performed = append(r.performed, fmt.Sprintf("lrp %s %d", l.GetProcessGuid(), l.GetIndex()))
	}
	for _, tk := range req.GetTasks() {
		if r.refuse {
			resp.FailedTasks = append(resp.FailedTasks, &repv1.WorkFailure{TaskGuid: tk.GetTaskGuid(), Reason: "cell is draining"})
			continue
		}
		avail.MemoryMb -= tk.GetDefinition().GetMemoryMb()
		avail.DiskMb -= tk.GetDefinition().GetDiskMb()
		avail.Containers--
		r.state.Tasks = append(r.state.Tasks, &repv1.TaskAllocation{TaskGuid: tk.GetTaskGuid()})
		r.performed = append(r.performed, "task "+tk.GetTaskGuid())
	}
	return resp, nil
}

func (r *simRep) took() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.performed)
}

// fakeBBS records the failures the auctioneer reports.
type fakeBBS struct {
	bbsv1.UnimplementedBBSServiceServer
	mu       sync.Mutex
	failures []string
}

func (b *fakeBBS) FailActualLRP(_ context.Context, req *bbsv1.FailActualLRPRequest) (*bbsv1.FailActualLRPResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := req.GetKey()
	b.failures = append(b.failures, fmt.Sprintf("lrp %s %d %s: %s", k.GetProcessGuid(), k.GetIndex(), k.GetDomain(), req.GetErrorMessage()))
	return &bbsv1.FailActualLRPResponse{}, nil
}

func (b *fakeBBS) FailTask(_ context.Context, req *bbsv1.FailTaskRequest) (*bbsv1.FailTaskResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = append(b.failures, fmt.Sprintf("task %s: %s", req.GetTaskGuid(), req.GetFailureReason()))
	return &bbsv1.FailTaskResponse{}, nil
}

func (b *fakeBBS) reported() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.failures)
	sort.Strings(out)
	return out
}

// registry is a static cell registry.
type registry struct {
	mu    sync.Mutex
	cells []*bbsv1.CellPresence
}

func (r *registry) Cells() []*bbsv1.CellPresence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cells)
}

// cluster is an auctioneer with simulated cells and a fake BBS.
type cluster struct {
	pki      *testPKI
	bbs      *fakeBBS
	reps     map[string]*simRep
	registry *registry
	metrics  *prometheus.Registry
	client   auctioneerv1.AuctioneerServiceClient
}

// cellSpec describes a simulated cell.
type cellSpec struct {
	id, zone    string
	memMB       int32
	refuse      bool
	unreachable bool // registered, but nothing listens at its address
}

func newCluster(t *testing.T, cells ...cellSpec) *cluster {
	t.Helper()
	p := newPKI(t)
	c := &cluster{pki: p, bbs: &fakeBBS{}, reps: map[string]*simRep{}, registry: &registry{}, metrics: prometheus.NewRegistry()}
	bbsAddr := p.serve(t, func(s *grpc.Server) { bbsv1.RegisterBBSServiceServer(s, c.bbs) })
	for _, spec := range cells {
		var addr string
		if spec.unreachable {
			addr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		} else {
			capacity := &bbsv1.CellCapacity{MemoryMb: spec.memMB, DiskMb: 4 * spec.memMB, Containers: 100}
			rep := &simRep{refuse: spec.refuse, state: &repv1.StateResponse{
				CellId: spec.id, Zone: spec.zone,
				Total: capacity, Available: proto.Clone(capacity).(*bbsv1.CellCapacity),
				Stacks: []string{"cflinuxfs4"},
			}}
			c.reps[spec.id] = rep
			addr = p.serve(t, func(s *grpc.Server) { repv1.RegisterRepServiceServer(s, rep) })
		}
		c.registry.cells = append(c.registry.cells, &bbsv1.CellPresence{CellId: spec.id, RepAddress: addr, Zone: spec.zone})
	}

	var cfg auctioneer.Config
	cfg.RPC = p.serverConfig()
	cfg.Ops.Listen = "127.0.0.1:0"
	// The first BBS is not the active one: nothing listens there.
	cfg.BBS.ClientConfig = p.clientConfig("")
	cfg.BBS.Addresses = []string{fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), bbsAddr}
	cfg.BBS.RequestTimeout = 2 * time.Second
	cfg.Rep.ClientConfig = p.clientConfig("")
	cfg.Auction.BatchWindow = 20 * time.Millisecond
	cfg.Auction.MaxRetries = 3
	a, err := auctioneer.New(cfg, auctioneer.Deps{Logger: testenv.Logger(t), Registry: c.metrics, Cells: c.registry})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	testenv.Start(t, a)

	conn, err := rpc.Dial(context.Background(), p.clientConfig(a.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c.client = auctioneerv1.NewAuctioneerServiceClient(conn)
	return c
}

func (c *cluster) requestLRPs(t *testing.T, starts ...*auctioneerv1.LRPStartRequest) {
	t.Helper()
	if _, err := c.client.RequestLRPAuctions(rpcCtx(t), &auctioneerv1.RequestLRPAuctionsRequest{Starts: starts}); err != nil {
		t.Fatalf("RequestLRPAuctions: %v", err)
	}
}

func (c *cluster) requestTasks(t *testing.T, tasks ...*bbsv1.Task) {
	t.Helper()
	if _, err := c.client.RequestTaskAuctions(rpcCtx(t), &auctioneerv1.RequestTaskAuctionsRequest{Tasks: tasks}); err != nil {
		t.Fatalf("RequestTaskAuctions: %v", err)
	}
}

// counts returns how much work each cell took.
func (c *cluster) counts() map[string]int {
	out := map[string]int{}
	for id, r := range c.reps {
		if n := len(r.took()); n > 0 {
			out[id] = n
		}
	}
	return out
}

// metric returns the value of a counter or gauge in the registry, or -1.
func (c *cluster) metric(t *testing.T, name string) float64 {
	t.Helper()
	families, err := c.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			m := f.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func start(guid string, memMB int32, indices ...int32) *auctioneerv1.LRPStartRequest {
	return &auctioneerv1.LRPStartRequest{ProcessGuid: guid, Domain: "cf-apps", Indices: indices, MemoryMb: memMB, DiskMb: memMB, RootFs: "preloaded:cflinuxfs4"}
}

func task(guid string, memMB, diskMB int32) *bbsv1.Task {
	return &bbsv1.Task{TaskGuid: guid, Domain: "cf-tasks", Definition: &bbsv1.TaskDefinition{RootFs: "preloaded:cflinuxfs4", MemoryMb: memMB, DiskMb: diskMB}}
}

func rpcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
