package diego

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer"
	"github.com/anvilpaas/anvil/diego/bbs"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// platform is a BBS and an auctioneer sharing one cell registry.
type platform struct {
	t        testing.TB
	certs    testenv.Certs
	cluster  string
	bbsAddr  string
	registry string // the auctioneer's gossip address, which cells join
	bbs      *bbs.BBS
	client   bbsv1.BBSServiceClient
	// cells is set when the auctioneer is given a static cell list instead
	// of the registry (the benchmark's 100 cells).
	cells *staticCells
}

type platformOptions struct {
	// staticCells gives the auctioneer its cells directly, without gossip.
	staticCells bool
	// convergence is the BBS's convergence interval.
	convergence time.Duration
}

func startPlatform(t testing.TB, o platformOptions) *platform {
	t.Helper()
	if o.convergence == 0 {
		o.convergence = time.Hour
	}
	p := &platform{
		t:       t,
		certs:   testenv.TLSCerts(t, "diego"),
		cluster: "diego-" + uuid.NewString()[:8],
		bbsAddr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	}
	dsn := testenv.Postgres(t)

	// The auctioneer first: the BBS sends it work, and it is the registry's
	// seed.
	acfg := auctioneer.Config{
		RPC:      p.serverTLS("127.0.0.1:0"),
		BBS:      auctioneer.BBSConfig{ClientConfig: p.clientTLS(p.bbsAddr)},
		Rep:      auctioneer.RepConfig{ClientConfig: p.clientTLS("")},
		Registry: cellregistry.Config{Bind: "127.0.0.1:0", Cluster: p.cluster},
	}
	acfg.Ops.Listen = "127.0.0.1:0"
	acfg.BBS.Address, acfg.BBS.Addresses = "", []string{p.bbsAddr}
	acfg.Rep.Address = ""
	deps := auctioneer.Deps{Logger: testenv.Logger(t).With("daemon", "auctioneer")}
	if o.staticCells {
		p.cells = &staticCells{}
		deps.Cells = p.cells
	}
	a, err := auctioneer.New(acfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, a)

	bcfg := bbs.Config{
		GRPC:        p.serverTLS(p.bbsAddr),
		Database:    pg.Config{DSN: dsn},
		Auctioneer:  p.clientTLS(a.Addr()),
		RepClient:   bbs.RepClientConfig{CertFile: p.certs.CertFile, KeyFile: p.certs.KeyFile, CAFile: p.certs.CAFile},
		Registry:    cellregistry.Config{Bind: "127.0.0.1:0", Cluster: p.cluster},
		Convergence: bbs.ConvergenceConfig{Interval: o.convergence},
	}
	bcfg.Ops.Listen = "127.0.0.1:0"
	if !o.staticCells {
		p.registry = a.RegistryAddr()
		bcfg.Registry.Join = []string{p.registry}
	}
	b, err := bbs.New(bcfg, testenv.Logger(t).With("daemon", "bbs"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, b)
	p.bbs = b
	p.client = bbsv1.NewBBSServiceClient(p.dial(p.bbsAddr))
	return p
}

func (p *platform) serverTLS(listen string) rpc.ServerConfig {
	return rpc.ServerConfig{Listen: listen, CertFile: p.certs.CertFile, KeyFile: p.certs.KeyFile, CAFile: p.certs.CAFile, ShutdownTimeout: time.Second}
}

func (p *platform) clientTLS(addr string) rpc.ClientConfig {
	return rpc.ClientConfig{Address: addr, CertFile: p.certs.CertFile, KeyFile: p.certs.KeyFile, CAFile: p.certs.CAFile}
}

func (p *platform) dial(addr string) *grpc.ClientConn {
	p.t.Helper()
	conn, err := rpc.Dial(context.Background(), p.clientTLS(addr))
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { conn.Close() })
	return conn
}

// staticCells is a fixed cell list for the auctioneer.
type staticCells struct {
	mu    sync.Mutex
	cells []*bbsv1.CellPresence
}

func (s *staticCells) Cells() []*bbsv1.CellPresence {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*bbsv1.CellPresence(nil), s.cells...)
}

func (s *staticCells) add(c *bbsv1.CellPresence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cells = append(s.cells, c)
}

// ctxFor returns a context for one test step.
func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// instances lists the ordinary instances of guid by index.
func (p *platform) instances(ctx context.Context, guid string) (map[int32]*bbsv1.ActualLRP, error) {
	resp, err := p.client.ListActualLRPs(ctx, &bbsv1.ListActualLRPsRequest{Filter: &bbsv1.ActualLRPFilter{ProcessGuid: guid}})
	if err != nil {
		return nil, err
	}
	out := map[int32]*bbsv1.ActualLRP{}
	for _, a := range resp.GetActualLrps() {
		if a.GetPresence() == bbsv1.Presence_PRESENCE_ORDINARY {
			out[a.GetKey().GetIndex()] = a
		}
	}
	return out, nil
}

// allRunning waits until n ordinary instances of guid run, and returns
// them.
func (p *platform) allRunning(t testing.TB, guid string, n int, within time.Duration) map[int32]*bbsv1.ActualLRP {
	t.Helper()
	var got map[int32]*bbsv1.ActualLRP
	testenv.Eventually(t, within, func() error {
		var err error
		if got, err = p.instances(ctxFor(t), guid); err != nil {
			return err
		}
		running := 0
		for _, a := range got {
			if a.GetState() == bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING {
				running++
			}
		}
		if running != n {
			return fmt.Errorf("%d of %d instances of %s running: %v", running, n, guid, got)
		}
		return nil
	})
	return got
}

func lrp(guid string, instances, memoryMB int32) *bbsv1.DesiredLRP {
	return &bbsv1.DesiredLRP{
		ProcessGuid: guid, Domain: "cf-apps", Instances: instances, RootFs: "preloaded:cflinuxfs4",
		MemoryMb: memoryMB, DiskMb: 256, Ports: []uint32{8080},
		Action: &bbsv1.RunAction{Path: "/tmp/lifecycle/launcher", User: "vcap"},
	}
}

// simConcurrentStarts is how many BBS calls a simulated cell makes at once
// (containers themselves are created in parallel).
const simConcurrentStarts = 2

// simCell answers the rep API like a rep whose containers start at once:
// Perform reserves capacity, then claims and starts each instance in the
// BBS. It keeps the latency of every BBS call it makes.
type simCell struct {
	id, zone string
	total    *bbsv1.CellCapacity
	bbs      bbsv1.BBSServiceClient
	addr     string
	stop     func() error // stops the rep server and the registry member

	// starts bounds the cell's concurrent BBS calls.
	starts chan struct{}

	mu   sync.Mutex
	lrps map[string]*repv1.LRPAllocation // "guid/index"
	lat  *latencies

	// createTime is how long the simulated container takes from claim to
	// healthy (0: no time at all).
	createTime time.Duration

	claimed, started atomic.Int64
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (c *simCell) presence() *bbsv1.CellPresence {
	return &bbsv1.CellPresence{CellId: c.id, RepAddress: c.addr, Zone: c.zone, Capacity: c.total, Stacks: []string{"cflinuxfs4"}}
}

func (c *simCell) used() (mem, disk, n int32) {
	for _, a := range c.lrps {
		mem += a.GetMemoryMb()
		disk += a.GetDiskMb()
		n++
	}
	return
}

type simRep struct {
	repv1.UnimplementedRepServiceServer
	c *simCell
}

func (r simRep) State(context.Context, *repv1.StateRequest) (*repv1.StateResponse, error) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	mem, disk, n := c.used()
	resp := &repv1.StateResponse{
		CellId: c.id, Zone: c.zone, Total: c.total, Stacks: []string{"cflinuxfs4"},
		Available: &bbsv1.CellCapacity{MemoryMb: c.total.GetMemoryMb() - mem, DiskMb: c.total.GetDiskMb() - disk, Containers: c.total.GetContainers() - n},
	}
	for _, a := range c.lrps {
		resp.Lrps = append(resp.Lrps, a)
	}
	return resp, nil
}

func (r simRep) Perform(_ context.Context, req *repv1.PerformRequest) (*repv1.PerformResponse, error) {
	c := r.c
	resp := &repv1.PerformResponse{}
	var accepted []*repv1.LRPWork
	c.mu.Lock()
	for _, w := range req.GetLrps() {
		mem, disk, n := c.used()
		if mem+w.GetMemoryMb() > c.total.GetMemoryMb() || disk+w.GetDiskMb() > c.total.GetDiskMb() || n >= c.total.GetContainers() {
			resp.FailedLrps = append(resp.FailedLrps, &repv1.WorkFailure{ProcessGuid: w.GetProcessGuid(), Index: w.GetIndex(), Reason: "insufficient resources"})
			continue
		}
		key := fmt.Sprintf("%s/%d", w.GetProcessGuid(), w.GetIndex())
		c.lrps[key] = &repv1.LRPAllocation{ProcessGuid: w.GetProcessGuid(), Index: w.GetIndex(), InstanceGuid: uuid.NewString(), MemoryMb: w.GetMemoryMb(), DiskMb: w.GetDiskMb()}
		accepted = append(accepted, w)
	}
	allocs := make([]*repv1.LRPAllocation, len(accepted))
	for i, w := range accepted {
		allocs[i] = c.lrps[fmt.Sprintf("%s/%d", w.GetProcessGuid(), w.GetIndex())]
	}
	c.mu.Unlock()
	for i, w := range accepted {
		go c.run(w, allocs[i])
	}
	return resp, nil
}

// run claims and starts one instance, as a rep does once its container is
// healthy; a refused claim frees the reservation.
func (c *simCell) run(w *repv1.LRPWork, a *repv1.LRPAllocation) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ik := &bbsv1.ActualLRPInstanceKey{InstanceGuid: a.GetInstanceGuid(), CellId: c.id}
	_, err := bbsCall(c, func() error {
		_, err := c.bbs.ClaimActualLRP(ctx, &bbsv1.ClaimActualLRPRequest{ProcessGuid: w.GetProcessGuid(), Index: w.GetIndex(), InstanceKey: ik})
		return err
	})
	if err == nil {
		c.claimed.Add(1)
		if c.createTime > 0 {
			time.Sleep(c.createTime) // the container being created and checked
		}
		_, err = bbsCall(c, func() error {
			_, err := c.bbs.StartActualLRP(ctx, &bbsv1.StartActualLRPRequest{
				Key:         &bbsv1.ActualLRPKey{ProcessGuid: w.GetProcessGuid(), Index: w.GetIndex(), Domain: w.GetDomain()},
				InstanceKey: ik, Routable: true, AvailabilityZone: c.zone,
				NetInfo: &bbsv1.ActualLRPNetInfo{Address: "127.0.0.1", Ports: []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: 61000}}},
			})
			return err
		})
	}
	if err != nil {
		c.mu.Lock()
		delete(c.lrps, fmt.Sprintf("%s/%d", w.GetProcessGuid(), w.GetIndex()))
		c.mu.Unlock()
		return
	}
	c.started.Add(1)
}

// bbsCall makes one BBS call within the cell's bound on concurrent calls,
// and records its latency.
func bbsCall(c *simCell, f func() error) (time.Duration, error) {
	c.starts <- struct{}{}
	defer func() { <-c.starts }()
	t0 := time.Now()
	err := f()
	d := time.Since(t0)
	c.lat.add(d)
	return d, err
}

func (r simRep) StopLRPInstance(ctx context.Context, req *repv1.StopLRPInstanceRequest) (*repv1.StopLRPInstanceResponse, error) {
	c := r.c
	key := fmt.Sprintf("%s/%d", req.GetKey().GetProcessGuid(), req.GetKey().GetIndex())
	c.mu.Lock()
	delete(c.lrps, key)
	c.mu.Unlock()
	_, err := c.bbs.RemoveActualLRP(ctx, &bbsv1.RemoveActualLRPRequest{
		ProcessGuid: req.GetKey().GetProcessGuid(), Index: req.GetKey().GetIndex(), InstanceKey: req.GetInstanceKey(),
	})
	if err != nil && !bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND) {
		return nil, err
	}
	return &repv1.StopLRPInstanceResponse{}, nil
}

// addCell starts a simulated cell. With the registry it joins the gossip
// cluster as a real rep does; with static cells it is added to the
// auctioneer's list.
func (p *platform) addCell(id, zone string, memoryMB int32, lat *latencies) *simCell {
	p.t.Helper()
	c := &simCell{
		id: id, zone: zone, total: &bbsv1.CellCapacity{MemoryMb: memoryMB, DiskMb: 1 << 20, Containers: 250},
		bbs: p.client, lrps: map[string]*repv1.LRPAllocation{}, lat: lat,
		starts: make(chan struct{}, simConcurrentStarts),
	}
	srv, err := rpc.NewServer(p.serverTLS("127.0.0.1:0"), nil, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	repv1.RegisterRepServiceServer(srv.GRPC(), simRep{c: c})
	stopRep := testenv.Start(p.t, srv)
	c.addr = srv.Addr().String()
	if p.cells != nil {
		p.cells.add(c.presence())
		c.stop = stopRep
		return c
	}
	member, err := cellregistry.New(cellregistry.Config{Bind: "127.0.0.1:0", Join: []string{p.registry}, Cluster: p.cluster},
		cellregistry.Member{Cell: c.presence()}, cellregistry.Deps{})
	if err != nil {
		p.t.Fatal(err)
	}
	stopMember := testenv.Start(p.t, member)
	c.stop = func() error { return errors.Join(stopMember(), stopRep()) }
	return c
}
