package rep_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep"
	"github.com/anvilpaas/anvil/diego/rep/internal/fakebbs"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

const timeout = 15 * time.Second

// cell is a rep over a test runtime, with a fake BBS served over mutual
// TLS and an observer in the cell registry.
type cell struct {
	t        *testing.T
	certs    testenv.Certs
	bbs      *fakebbs.BBS
	rt       *testRuntime
	rep      *rep.Rep
	stop     func() error
	client   repv1.RepServiceClient
	observer *cellregistry.Registry
	metrics  *prometheus.Registry
	logs     *logSink
	cfg      rep.Config
	app      net.Listener // the "app" every container port leads to
}

type cellOptions struct {
	tweak   func(*rep.Config)
	runtime *testRuntime
	// containerd runs the cell on the real runtime (Config.Containerd).
	containerd bool
}

func (c *cell) serverTLS() rpc.ServerConfig {
	return rpc.ServerConfig{Listen: "127.0.0.1:0", CertFile: c.certs.CertFile, KeyFile: c.certs.KeyFile, CAFile: c.certs.CAFile, ShutdownTimeout: time.Second}
}

func (c *cell) clientTLS(addr string) rpc.ClientConfig {
	return rpc.ClientConfig{Address: addr, CertFile: c.certs.CertFile, KeyFile: c.certs.KeyFile, CAFile: c.certs.CAFile}
}

// testConfig is a valid rep config for a cell; BBS and registry
// addresses are filled by newCell.
func testConfig(t *testing.T, certs testenv.Certs) rep.Config {
	cfg := rep.Config{
		CellID:        "cell-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())),
		Zone:          "z1",
		Stacks:        map[string]string{"cflinuxfs4": "/var/vcap/packages/cflinuxfs4/rootfs"},
		PlacementTags: []string{"ssd"},
		Capacity:      rep.CapacityConfig{MemoryMB: 4096, DiskMB: 8192, Containers: 20},
		HealthCheck:   rep.HealthCheckConfig{StartupInterval: 10 * time.Millisecond, LivenessInterval: 50 * time.Millisecond},
		GracePeriod:   200 * time.Millisecond,
		// Short, so that stopping a cell at the end of a test is quick.
		Evacuation: rep.EvacuationConfig{Timeout: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond},
		Download:   rep.DownloadConfig{Dir: t.TempDir()},
	}
	cfg.RPC = rpc.ServerConfig{Listen: "127.0.0.1:0", CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile, ShutdownTimeout: time.Second}
	cfg.Ops.Listen = "127.0.0.1:0"
	cfg.BBS.ClientConfig = rpc.ClientConfig{Address: "127.0.0.1:1", CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile}
	cfg.BBS.RequestTimeout = 5 * time.Second
	cfg.Registry = cellregistry.Config{Bind: "127.0.0.1:0", Cluster: cfg.CellID, LeaveTimeout: 500 * time.Millisecond}
	cfg.Containerd.StateDir = t.TempDir()
	return cfg
}

func newCell(t *testing.T, o cellOptions) *cell {
	t.Helper()
	c := &cell{t: t, certs: testenv.TLSCerts(t, "rep"), bbs: fakebbs.New(), rt: o.runtime, metrics: prometheus.NewRegistry(), logs: &logSink{}}
	if c.rt == nil && !o.containerd {
		c.rt = newTestRuntime()
	}
	if c.rt != nil {
		app, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close() })
		go func() {
			for {
				conn, err := app.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		}()
		c.app = app
		c.rt.hostPort = uint32(app.Addr().(*net.TCPAddr).Port)
	}

	// The BBS.
	var err error
	bbsSrv, err := rpc.NewServer(c.serverTLS(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bbsv1.RegisterBBSServiceServer(bbsSrv.GRPC(), c.bbs)
	testenv.Start(t, bbsSrv)

	// An observer of the cell registry, as the auctioneer is.
	c.cfg = testConfig(t, c.certs)
	c.observer, err = cellregistry.New(cellregistry.Config{Bind: "127.0.0.1:0", Cluster: c.cfg.CellID, LeaveTimeout: 500 * time.Millisecond},
		cellregistry.Member{}, cellregistry.Deps{Logger: testenv.Logger(t).With("member", "observer")})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, c.observer)

	c.cfg.BBS.Address = ""
	c.cfg.BBS.Addresses = []string{fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), bbsSrv.Addr().String()}
	c.cfg.Registry.Join = []string{c.observer.Addr()}
	if o.tweak != nil {
		o.tweak(&c.cfg)
	}
	deps := rep.Deps{Logger: testenv.Logger(t), Registry: c.metrics, LogSink: c.logs}
	if c.rt != nil {
		deps.Runtime = c.rt
	}
	c.rep, err = rep.New(c.cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.stop = testenv.Start(t, c.rep)

	conn, err := rpc.Dial(context.Background(), c.clientTLS(c.rep.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c.client = repv1.NewRepServiceClient(conn)
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// desire stores an LRP in the BBS and performs its instances on the cell.
func (c *cell) desire(lrp *bbsv1.DesiredLRP) *repv1.PerformResponse {
	c.t.Helper()
	c.bbs.AddLRP(lrp)
	var work []*repv1.LRPWork
	for i := range lrp.GetInstances() {
		work = append(work, &repv1.LRPWork{ProcessGuid: lrp.GetProcessGuid(), Domain: lrp.GetDomain(), Index: i,
			MemoryMb: lrp.GetMemoryMb(), DiskMb: lrp.GetDiskMb(), RootFs: lrp.GetRootFs()})
	}
	resp, err := c.client.Perform(ctxFor(c.t), &repv1.PerformRequest{Lrps: work})
	if err != nil {
		c.t.Fatalf("Perform: %v", err)
	}
	return resp
}

func (c *cell) waitState(guid string, index int32, state bbsv1.ActualLRPState) *bbsv1.ActualLRP {
	c.t.Helper()
	var a *bbsv1.ActualLRP
	testenv.Eventually(c.t, timeout, func() error {
		a = c.bbs.Actual(guid, index)
		if a.GetState() != state {
			return fmt.Errorf("%s/%d is %v, want %v", guid, index, a.GetState(), state)
		}
		return nil
	})
	return a
}

// scrape returns the ops listener's /metrics.
func (c *cell) scrape() string {
	c.t.Helper()
	families, err := c.metrics.Gather()
	if err != nil {
		c.t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range families {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func webLRP(guid string, instances int32) *bbsv1.DesiredLRP {
	return &bbsv1.DesiredLRP{
		ProcessGuid: guid, Domain: "cf-apps", Instances: instances, RootFs: "preloaded:cflinuxfs4",
		MemoryMb: 256, DiskMb: 512, Ports: []uint32{8080}, LogGuid: "app-" + guid, LogRateLimitBytesPerSecond: -1,
		Action:      &bbsv1.RunAction{Path: "/tmp/lifecycle/launcher", User: "vcap", LogSource: "APP/PROC/WEB"},
		HealthCheck: &bbsv1.HealthCheckDefinition{Check: &bbsv1.Check{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT}},
	}
}

// logSink records log lines.
type logSink struct {
	mu    sync.Mutex
	lines []rep.LogLine
}

func (s *logSink) EmitLog(_ context.Context, l rep.LogLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, l)
}

func (s *logSink) has(msg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.Contains(l.Message, msg) {
			return true
		}
	}
	return false
}
