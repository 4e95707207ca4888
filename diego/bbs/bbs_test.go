package bbs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeAuctioneer records the auctions the BBS requests.
type fakeAuctioneer struct {
	auctioneerv1.UnimplementedAuctioneerServiceServer
	mu     sync.Mutex
	starts []*auctioneerv1.LRPStartRequest
	tasks  []*bbsv1.Task
}

func (f *fakeAuctioneer) RequestLRPAuctions(_ context.Context, req *auctioneerv1.RequestLRPAuctionsRequest) (*auctioneerv1.RequestLRPAuctionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, req.GetStarts()...)
	return &auctioneerv1.RequestLRPAuctionsResponse{}, nil
}

func (f *fakeAuctioneer) RequestTaskAuctions(_ context.Context, req *auctioneerv1.RequestTaskAuctionsRequest) (*auctioneerv1.RequestTaskAuctionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tasks = append(f.tasks, req.GetTasks()...)
	return &auctioneerv1.RequestTaskAuctionsResponse{}, nil
}

// auctioned reports whether index of guid was requested, counting requests.
func (f *fakeAuctioneer) auctioned(guid string, index int32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.starts {
		if s.GetProcessGuid() != guid {
			continue
		}
		for _, i := range s.GetIndices() {
			if i == index {
				n++
			}
		}
	}
	return n
}

type harness struct {
	t          *testing.T
	certs      testenv.Certs
	dsn        string
	auctioneer *fakeAuctioneer
	auctAddr   string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, certs: testenv.TLSCerts(t, "bbs"), dsn: testenv.Postgres(t), auctioneer: &fakeAuctioneer{}}
	srv, err := rpc.NewServer(rpc.ServerConfig{Listen: "127.0.0.1:0", CertFile: h.certs.CertFile, KeyFile: h.certs.KeyFile, CAFile: h.certs.CAFile}, testenv.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	auctioneerv1.RegisterAuctioneerServiceServer(srv.GRPC(), h.auctioneer)
	testenv.Start(t, srv)
	h.auctAddr = srv.Addr().String()
	return h
}

func (h *harness) config() Config {
	c := h.certs
	return Config{
		GRPC:       rpc.ServerConfig{Listen: "127.0.0.1:0", CertFile: c.CertFile, KeyFile: c.KeyFile, CAFile: c.CAFile},
		Database:   pgConfig(h.dsn),
		Auctioneer: rpc.ClientConfig{Address: h.auctAddr, CertFile: c.CertFile, KeyFile: c.KeyFile, CAFile: c.CAFile},
		RepClient:  RepClientConfig{CertFile: c.CertFile, KeyFile: c.KeyFile, CAFile: c.CAFile},
		Registry: cellregistry.Config{
			Bind: "127.0.0.1:0", Cluster: fmt.Sprintf("bbs-test-%d", time.Now().UnixNano()),
		},
		Convergence: ConvergenceConfig{Interval: time.Hour},
		Lock:        LockConfig{RetryInterval: 100 * time.Millisecond},
	}
	// Ops listens on a free loopback port.
}

// start runs a BBS and returns it with a stop function.
func (h *harness) start(cfg Config) (*BBS, func() error) {
	h.t.Helper()
	cfg.Ops.Listen = "127.0.0.1:0"
	b, err := New(cfg, testenv.Logger(h.t))
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("bbs did not stop")
		}
	}
	h.t.Cleanup(func() {
		if err := stop(); err != nil {
			h.t.Error(err)
		}
	})
	return b, stop
}

func (h *harness) client(addrs ...string) bbsv1.BBSServiceClient {
	h.t.Helper()
	conn, err := rpc.Dial(context.Background(), rpc.ClientConfig{Addresses: addrs, CertFile: h.certs.CertFile, KeyFile: h.certs.KeyFile, CAFile: h.certs.CAFile})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { conn.Close() })
	return bbsv1.NewBBSServiceClient(conn)
}

func waitActive(t *testing.T, b *BBS, within time.Duration) {
	t.Helper()
	testenv.Eventually(t, within, func() error {
		if b.Addr() == "" {
			return errors.New("not serving")
		}
		return nil
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func desiredLRP(guid string, instances int32) *bbsv1.DesiredLRP {
	return &bbsv1.DesiredLRP{
		ProcessGuid: guid, Domain: "cf-apps", Instances: instances, RootFs: "preloaded:cflinuxfs4",
		MemoryMb: 256, DiskMb: 1024, Ports: []uint32{8080},
		Action: &bbsv1.RunAction{Path: "/tmp/lifecycle/launcher", User: "vcap"},
	}
}

func TestDesireClaimStartWithEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b, _ := h.start(h.config())
	waitActive(t, b, 20*time.Second)
	c := h.client(b.Addr())
	ctx := ctxT(t)

	stream, err := c.SubscribeToEvents(ctx, &bbsv1.SubscribeToEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: desiredLRP("web", 2)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: desiredLRP("web", 2)})
	if !bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_RESOURCE_EXISTS) {
		t.Errorf("second DesireLRP = %v, want RESOURCE_EXISTS", err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if h.auctioneer.auctioned("web", 0) == 0 || h.auctioneer.auctioned("web", 1) == 0 {
			return errors.New("instances not auctioned")
		}
		return nil
	})

	ik := &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i-0", CellId: "cell-a"}
	key := &bbsv1.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: "cf-apps"}
	if _, err := c.ClaimActualLRP(ctx, &bbsv1.ClaimActualLRPRequest{ProcessGuid: "web", Index: 0, InstanceKey: ik}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ClaimActualLRP(ctx, &bbsv1.ClaimActualLRPRequest{ProcessGuid: "web", Index: 0, InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i-x", CellId: "cell-b"}})
	if bbsv1.ErrorTypeOf(err) == bbsv1.ErrorType_ERROR_TYPE_UNSPECIFIED {
		t.Errorf("claim by another cell = %v, want a typed error", err)
	}
	net := &bbsv1.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: 61001}}}
	if _, err := c.StartActualLRP(ctx, &bbsv1.StartActualLRPRequest{Key: key, InstanceKey: ik, NetInfo: net, Routable: true}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListActualLRPs(ctx, &bbsv1.ListActualLRPsRequest{Filter: &bbsv1.ActualLRPFilter{ProcessGuid: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	states := map[int32]bbsv1.ActualLRPState{}
	for _, a := range got.GetActualLrps() {
		states[a.GetKey().GetIndex()] = a.GetState()
	}
	if states[0] != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING || states[1] != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED {
		t.Errorf("states = %v", states)
	}

	// The stream saw the desired LRP, both instances, the claim and the start.
	var kinds []string
	var last *bbsv1.SubscribeToEventsResponse
	for len(kinds) < 5 {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv after %v: %v", kinds, err)
		}
		last = ev
		switch ev.GetEvent().(type) {
		case *bbsv1.SubscribeToEventsResponse_DesiredLrpCreated:
			kinds = append(kinds, "desired_created")
		case *bbsv1.SubscribeToEventsResponse_ActualLrpCreated:
			kinds = append(kinds, "actual_created")
		case *bbsv1.SubscribeToEventsResponse_ActualLrpChanged:
			kinds = append(kinds, "actual_changed:"+ev.GetActualLrpChanged().GetAfter().GetState().String())
		}
	}
	want := []string{"desired_created", "actual_created", "actual_created", "actual_changed:ACTUAL_LRP_STATE_CLAIMED", "actual_changed:ACTUAL_LRP_STATE_RUNNING"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v", kinds, want)
	}

	// A subscriber that reconnects after the claim gets the start replayed.
	resumed, err := c.SubscribeToEvents(ctx, &bbsv1.SubscribeToEventsRequest{Epoch: last.GetEpoch(), AfterSequence: last.GetSequence() - 1})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := resumed.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetSequence() != last.GetSequence() || ev.GetActualLrpChanged() == nil {
		t.Errorf("resumed with %v, want sequence %d", ev, last.GetSequence())
	}
}

func TestFailoverKeepsDesiredState(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := h.config()
	a, stopA := h.start(cfg)
	waitActive(t, a, 20*time.Second)
	// The passive one needs its own listener address: it opens it when it
	// takes over.
	cfgB := cfg
	cfgB.GRPC.Listen = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	b, _ := h.start(cfgB)

	c := h.client(a.Addr(), cfgB.GRPC.Listen)
	ctx := ctxT(t)
	if _, err := c.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: desiredLRP("keep-me", 3)}); err != nil {
		t.Fatal(err)
	}
	if b.Addr() != "" {
		t.Fatal("the passive BBS serves while the active one holds the lock")
	}

	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitActive(t, b, 5*time.Second)
	t.Logf("passive BBS took over in %v", time.Since(start))

	// The same client follows it, and nothing desired was lost.
	testenv.Eventually(t, 10*time.Second, func() error {
		got, err := c.GetDesiredLRP(ctx, &bbsv1.GetDesiredLRPRequest{ProcessGuid: "keep-me"})
		if err != nil {
			return err
		}
		if got.GetDesiredLrp().GetInstances() != 3 {
			return fmt.Errorf("instances = %d", got.GetDesiredLrp().GetInstances())
		}
		return nil
	})
}

func TestCellLossReplacesInstances(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := h.config()
	b, _ := h.start(cfg)
	waitActive(t, b, 20*time.Second)
	c := h.client(b.Addr())
	ctx := ctxT(t)

	// A cell joins the registry (no rep behind it: nothing calls it here).
	cell, err := cellregistry.New(cellregistry.Config{
		Bind: "127.0.0.1:0", Join: []string{b.RegistryAddr()}, Cluster: cfg.Registry.Cluster,
	}, cellregistry.Member{Cell: &bbsv1.CellPresence{
		CellId: "cell-a", RepAddress: "127.0.0.1:1", Zone: "z1",
		Capacity: &bbsv1.CellCapacity{MemoryMb: 4096, DiskMb: 8192, Containers: 100}, Stacks: []string{"cflinuxfs4"},
	}}, cellregistry.Deps{Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stopCell := testenv.Start(t, cell)
	testenv.Eventually(t, 10*time.Second, func() error {
		cells, err := c.ListCells(ctx, &bbsv1.ListCellsRequest{})
		if err != nil {
			return err
		}
		if len(cells.GetCells()) != 1 {
			return fmt.Errorf("cells = %v", cells.GetCells())
		}
		return nil
	})

	if _, err := c.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: desiredLRP("app", 1)}); err != nil {
		t.Fatal(err)
	}
	ik := &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i-0", CellId: "cell-a"}
	key := &bbsv1.ActualLRPKey{ProcessGuid: "app", Index: 0, Domain: "cf-apps"}
	if _, err := c.ClaimActualLRP(ctx, &bbsv1.ClaimActualLRPRequest{ProcessGuid: "app", Index: 0, InstanceKey: ik}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartActualLRP(ctx, &bbsv1.StartActualLRPRequest{Key: key, InstanceKey: ik, NetInfo: &bbsv1.ActualLRPNetInfo{Address: "127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	before := h.auctioneer.auctioned("app", 0)

	// The cell goes away: its instance becomes SUSPECT and a replacement is
	// auctioned, without waiting for the convergence interval (an hour here).
	if err := stopCell(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, func() error {
		got, err := c.ListActualLRPs(ctx, &bbsv1.ListActualLRPsRequest{Filter: &bbsv1.ActualLRPFilter{ProcessGuid: "app"}})
		if err != nil {
			return err
		}
		presences := map[bbsv1.Presence]bbsv1.ActualLRPState{}
		for _, a := range got.GetActualLrps() {
			presences[a.GetPresence()] = a.GetState()
		}
		if presences[bbsv1.Presence_PRESENCE_SUSPECT] != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING ||
			presences[bbsv1.Presence_PRESENCE_ORDINARY] != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED {
			return fmt.Errorf("instances = %v", presences)
		}
		if h.auctioneer.auctioned("app", 0) <= before {
			return errors.New("replacement not auctioned")
		}
		return nil
	})
}

func pgConfig(dsn string) pg.Config { return pg.Config{DSN: dsn} }
