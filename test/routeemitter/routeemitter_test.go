package routeemitter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/diego/bbs"
	"github.com/anvilpaas/anvil/diego/routeemitter"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// auctioneer accepts every auction and does nothing: the test claims and
// starts instances itself, as a cell would.
type auctioneer struct {
	auctioneerv1.UnimplementedAuctioneerServiceServer
}

func (auctioneer) RequestLRPAuctions(context.Context, *auctioneerv1.RequestLRPAuctionsRequest) (*auctioneerv1.RequestLRPAuctionsResponse, error) {
	return &auctioneerv1.RequestLRPAuctionsResponse{}, nil
}

func (auctioneer) RequestTaskAuctions(context.Context, *auctioneerv1.RequestTaskAuctionsRequest) (*auctioneerv1.RequestTaskAuctionsResponse, error) {
	return &auctioneerv1.RequestTaskAuctionsResponse{}, nil
}

// platform is a BBS (and a passive one for failover), a cell in the
// registry, NATS, the route emitter, and a router's view of NATS.
type platform struct {
	t        *testing.T
	certs    testenv.Certs
	bbsCfg   bbs.Config
	bbsAddrs []string
	stopBBS  func() error
	client   bbsv1.BBSServiceClient
	emitter  *routeemitter.Emitter
	router   *routerLog
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	p := &platform{t: t, certs: testenv.TLSCerts(t, "diego")}
	nats := testenv.NATS(t)
	p.router = newRouterLog(t, nats.ClientURL())

	srv, err := rpc.NewServer(p.serverTLS("127.0.0.1:0"), testenv.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	auctioneerv1.RegisterAuctioneerServiceServer(srv.GRPC(), auctioneer{})
	testenv.Start(t, srv)

	cluster := "re-" + uuid.NewString()[:8]
	p.bbsAddrs = []string{fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	p.bbsCfg = bbs.Config{
		GRPC:        p.serverTLS(p.bbsAddrs[0]),
		Database:    pg.Config{DSN: testenv.Postgres(t)},
		Auctioneer:  p.clientTLS(srv.Addr().String()),
		RepClient:   bbs.RepClientConfig{CertFile: p.certs.CertFile, KeyFile: p.certs.KeyFile, CAFile: p.certs.CAFile},
		Registry:    cellregistry.Config{Bind: "127.0.0.1:0", Cluster: cluster},
		Convergence: bbs.ConvergenceConfig{Interval: time.Hour},
		Lock:        bbs.LockConfig{RetryInterval: 100 * time.Millisecond},
	}
	p.bbsCfg.Ops.Listen = "127.0.0.1:0"
	b := p.startBBS(p.bbsCfg)
	p.stopBBS = testenv.Start(t, b)

	// The cell the instances run on, so that convergence leaves them be.
	cell, err := cellregistry.New(cellregistry.Config{Bind: "127.0.0.1:0", Join: []string{b.RegistryAddr()}, Cluster: cluster},
		cellregistry.Member{Cell: &bbsv1.CellPresence{
			CellId: "cell-a", RepAddress: "127.0.0.1:1", Zone: "z1",
			Capacity: &bbsv1.CellCapacity{MemoryMb: 4096, DiskMb: 8192, Containers: 100}, Stacks: []string{"cflinuxfs4"},
		}}, cellregistry.Deps{Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, cell)
	p.bbsCfg.Registry.Join = []string{b.RegistryAddr(), cell.Addr()}

	conn, err := rpc.Dial(context.Background(), rpc.ClientConfig{Addresses: p.bbsAddrs, CertFile: p.certs.CertFile, KeyFile: p.certs.KeyFile, CAFile: p.certs.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p.client = bbsv1.NewBBSServiceClient(conn)

	cfg := routeemitter.Config{
		BBS:  routeemitter.BBSConfig{ClientConfig: rpc.ClientConfig{Addresses: p.bbsAddrs, CertFile: p.certs.CertFile, KeyFile: p.certs.KeyFile, CAFile: p.certs.CAFile}},
		NATS: natsconn.FileConfig{URL: nats.ClientURL()},
		Emit: routeemitter.EmitConfig{RegisterInterval: time.Hour, SyncInterval: -1},
	}
	cfg.Ops.Listen = "127.0.0.1:0"
	e, err := routeemitter.New(cfg, routeemitter.Deps{Logger: testenv.Logger(t).With("daemon", "route_emitter")})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, e)
	p.emitter = e
	return p
}

func (p *platform) startBBS(cfg bbs.Config) *bbs.BBS {
	p.t.Helper()
	b, err := bbs.New(cfg, testenv.Logger(p.t).With("daemon", "bbs"))
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

func (p *platform) serverTLS(listen string) rpc.ServerConfig {
	return rpc.ServerConfig{Listen: listen, CertFile: p.certs.CertFile, KeyFile: p.certs.KeyFile, CAFile: p.certs.CAFile, ShutdownTimeout: time.Second}
}

func (p *platform) clientTLS(addr string) rpc.ClientConfig {
	return rpc.ClientConfig{Address: addr, CertFile: p.certs.CertFile, KeyFile: p.certs.KeyFile, CAFile: p.certs.CAFile}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func routesJSON(hostnames ...string) []byte {
	return []byte(fmt.Sprintf(`[{"hostnames":["%s"],"port":8080}]`, strings.Join(hostnames, `","`)))
}

func (p *platform) desire(ctx context.Context, guid string, instances int32, hostnames ...string) {
	p.t.Helper()
	_, err := p.client.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: &bbsv1.DesiredLRP{
		ProcessGuid: guid, Domain: "cf-apps", Instances: instances, RootFs: "preloaded:cflinuxfs4",
		MemoryMb: 256, DiskMb: 1024, Ports: []uint32{8080}, LogGuid: "app-" + guid,
		Routes: map[string][]byte{"cf-router": routesJSON(hostnames...)},
		Action: &bbsv1.RunAction{Path: "/tmp/lifecycle/launcher", User: "vcap"},
	}})
	if err != nil {
		p.t.Fatal(err)
	}
}

// start claims and starts an instance on cell-a as its rep would, with
// host port 61000+index.
func (p *platform) start(ctx context.Context, guid string, index int32, routable bool) {
	p.t.Helper()
	ik := &bbsv1.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%d", guid, index), CellId: "cell-a"}
	key := &bbsv1.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "cf-apps"}
	// The claim may already have been made by an earlier call.
	_, _ = p.client.ClaimActualLRP(ctx, &bbsv1.ClaimActualLRPRequest{ProcessGuid: guid, Index: index, InstanceKey: ik})
	net := &bbsv1.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: 61000 + uint32(index)}}}
	if _, err := p.client.StartActualLRP(ctx, &bbsv1.StartActualLRPRequest{Key: key, InstanceKey: ik, NetInfo: net, Routable: routable}); err != nil {
		p.t.Fatal(err)
	}
}

func (p *platform) remove(ctx context.Context, guid string, index int32) {
	p.t.Helper()
	ik := &bbsv1.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%d", guid, index), CellId: "cell-a"}
	if _, err := p.client.RemoveActualLRP(ctx, &bbsv1.RemoveActualLRPRequest{ProcessGuid: guid, Index: index, InstanceKey: ik}); err != nil {
		p.t.Fatal(err)
	}
}

func TestInstanceLifecycle(t *testing.T) {
	t.Parallel()
	p := startPlatform(t)
	ctx := ctxT(t)
	const (
		web0 = "web.example.com 10.0.0.1:61000"
		web1 = "web.example.com 10.0.0.1:61001"
	)

	p.desire(ctx, "web", 2, "web.example.com")
	p.start(ctx, "web", 0, true)
	p.router.wait("register "+web0, 1)
	p.start(ctx, "web", 1, false) // readiness check not passed yet
	p.start(ctx, "web", 1, true)
	p.router.wait("register "+web1, 1)

	// Stopping: the rep marks the instance unroutable, waits for the
	// unregistration to reach the routers, then kills it.
	p.start(ctx, "web", 1, false)
	p.router.wait("unregister "+web1, 1)

	// An instance removed while routable is unregistered too.
	p.remove(ctx, "web", 0)
	p.router.wait("unregister "+web0, 1)
	if n := p.router.count("register " + web1); n != 1 {
		t.Errorf("web1 registered %d times, want once", n)
	}
}

func TestRouteChangesAndRouterStart(t *testing.T) {
	t.Parallel()
	p := startPlatform(t)
	ctx := ctxT(t)

	p.desire(ctx, "web", 1, "a.example.com", "b.example.com")
	p.start(ctx, "web", 0, true)
	p.router.wait("register a.example.com 10.0.0.1:61000", 1)
	p.router.wait("register b.example.com 10.0.0.1:61000", 1)

	got, err := p.client.GetDesiredLRP(ctx, &bbsv1.GetDesiredLRPRequest{ProcessGuid: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.client.UpdateDesiredLRP(ctx, &bbsv1.UpdateDesiredLRPRequest{
		ProcessGuid:             "web",
		Update:                  &bbsv1.DesiredLRPUpdate{SetRoutes: true, Routes: map[string][]byte{"cf-router": routesJSON("b.example.com", "c.example.com")}},
		ExpectedModificationTag: got.GetDesiredLrp().GetModificationTag(),
	}); err != nil {
		t.Fatal(err)
	}
	p.router.wait("register c.example.com 10.0.0.1:61000", 1)
	p.router.wait("unregister a.example.com 10.0.0.1:61000", 1)

	// A router (re)starts: everything is registered again at once.
	p.router.routerStart()
	p.router.wait("register b.example.com 10.0.0.1:61000", 2)
	p.router.wait("register c.example.com 10.0.0.1:61000", 2)
	if n := p.router.count("register a.example.com 10.0.0.1:61000"); n != 1 {
		t.Errorf("the removed route was registered again (%d)", n)
	}
}

func TestBBSFailoverConverges(t *testing.T) {
	t.Parallel()
	p := startPlatform(t)
	ctx := ctxT(t)

	p.desire(ctx, "web", 2, "web.example.com")
	p.start(ctx, "web", 0, true)
	p.start(ctx, "web", 1, true)
	p.router.wait("register web.example.com 10.0.0.1:61001", 1)

	// A passive BBS waits for the lock; the active one stops.
	cfgB := p.bbsCfg
	cfgB.GRPC = p.serverTLS(p.bbsAddrs[1])
	b := p.startBBS(cfgB)
	bctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(bctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("passive BBS: Run = %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("passive BBS did not stop")
		}
	})
	if err := p.stopBBS(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if b.Addr() == "" {
			return errors.New("the passive BBS has not taken over")
		}
		return nil
	})
	// The new active BBS has a new event epoch: the emitter lists again,
	// and follows the new BBS's events.
	p.remove(ctx, "web", 1)
	p.desire(ctx, "api", 1, "api.example.com")
	p.start(ctx, "api", 0, true)
	p.router.wait("unregister web.example.com 10.0.0.1:61001", 1)
	p.router.wait("register api.example.com 10.0.0.1:61000", 1)
	if n := p.router.count("unregister web.example.com 10.0.0.1:61000"); n != 0 {
		t.Errorf("the instance that kept running was unregistered (%d)", n)
	}
}

// routerLog records the registry messages on NATS in order, as a router
// sees them.
type routerLog struct {
	t    testing.TB
	conn *nats.Conn
	mu   sync.Mutex
	msgs []string
}

func newRouterLog(t testing.TB, url string) *routerLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := natsconn.Connect(ctx, natsconn.Config{URL: url, Name: "test-router"}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &routerLog{t: t, conn: nc}
	if _, err := nc.Subscribe("router.*", func(m *nats.Msg) {
		if m.Subject != router.SubjectRegister && m.Subject != router.SubjectUnregister {
			return
		}
		msg, err := router.ParseRegistryMessage(m.Data)
		if err != nil {
			t.Errorf("malformed %s: %v", m.Subject, err)
			return
		}
		l.mu.Lock()
		l.msgs = append(l.msgs, fmt.Sprintf("%s %s %s:%d", strings.TrimPrefix(m.Subject, "router."), strings.Join(msg.URIs, ","), msg.Host, msg.Port))
		l.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *routerLog) count(line string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == line {
			n++
		}
	}
	return n
}

func (l *routerLog) wait(line string, n int) {
	l.t.Helper()
	testenv.Eventually(l.t, 30*time.Second, func() error {
		if got := l.count(line); got < n {
			l.mu.Lock()
			defer l.mu.Unlock()
			return fmt.Errorf("%q seen %d times, want %d; log: %q", line, got, n, slices.Clone(l.msgs))
		}
		return nil
	})
}

func (l *routerLog) routerStart() {
	l.t.Helper()
	data, err := router.StartMessage{ID: "router-1", MinimumRegisterIntervalInSeconds: 20, PruneThresholdInSeconds: 120}.Marshal()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.conn.Publish(router.SubjectStart, data); err != nil {
		l.t.Fatal(err)
	}
}
