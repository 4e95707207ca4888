package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/download"
	"github.com/anvilpaas/anvil/diego/rep/internal/fakebbs"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/internal/testenv"
)

const (
	cellID  = "cell-1"
	timeout = 10 * time.Second
)

// harness is an executor over a fake runtime and a fake BBS.
type harness struct {
	t       *testing.T
	ex      *Executor
	rt      *fakeRuntime
	bbs     *fakebbs.BBS
	dl      *download.Downloader
	logs    *logRecorder
	metrics *metricRecorder
	reg     *prometheus.Registry
	cfg     Config
}

type options struct {
	capacity Capacity
	rt       *fakeRuntime
	bbs      *fakebbs.BBS
	dlDir    string
	tweak    func(*Config)
}

func testConfig() Config {
	return Config{
		CellID: cellID, Zone: "z1", Stacks: []string{"cflinuxfs4"},
		PlacementTags: []string{"ssd"},
		Capacity:      Capacity{MemoryMB: 4096, DiskMB: 8192, Containers: 10},
		LifecycleDir:  "/var/vcap/packages/lifecycle",
		GracePeriod:   300 * time.Millisecond, StartupInterval: 10 * time.Millisecond, LivenessInterval: 30 * time.Millisecond,
		StartTimeout: 5 * time.Second, BulkSyncInterval: time.Hour, MetricsInterval: time.Hour,
		EvacuationTimeout: 5 * time.Second, EvacuationPollInterval: 20 * time.Millisecond,
		MaxUploadBytes: 1 << 20,
	}
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	h := &harness{t: t, rt: o.rt, bbs: o.bbs, logs: &logRecorder{}, metrics: &metricRecorder{}, reg: prometheus.NewRegistry()}
	if h.rt == nil {
		h.rt = newFakeRuntime()
	}
	if h.bbs == nil {
		h.bbs = fakebbs.New()
	}
	if o.dlDir == "" {
		o.dlDir = t.TempDir()
	}
	var err error
	if h.dl, err = download.New(download.Config{Dir: o.dlDir, CacheBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	h.cfg = testConfig()
	if o.capacity != (Capacity{}) {
		h.cfg.Capacity = o.capacity
	}
	if o.tweak != nil {
		o.tweak(&h.cfg)
	}
	m, err := NewMetrics(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	h.ex, err = New(h.cfg, Deps{
		Runtime: h.rt, BBS: fakebbs.Client{B: h.bbs}, Downloader: h.dl,
		LogSink: h.logs, MetricSink: h.metrics, Logger: testenv.Logger(t), Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.ex.Close)
	return h
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// desire stores lrp in the BBS and performs its instances on the cell.
func (h *harness) desire(lrp *bbsv1.DesiredLRP) *repv1.PerformResponse {
	h.t.Helper()
	h.bbs.AddLRP(lrp)
	var work []*repv1.LRPWork
	for i := range lrp.GetInstances() {
		work = append(work, &repv1.LRPWork{ProcessGuid: lrp.GetProcessGuid(), Domain: lrp.GetDomain(), Index: i,
			MemoryMb: lrp.GetMemoryMb(), DiskMb: lrp.GetDiskMb(), RootFs: lrp.GetRootFs()})
	}
	return h.ex.Perform(ctxFor(h.t), &repv1.PerformRequest{Lrps: work})
}

// runTask stores t in the BBS (PENDING) and performs it.
func (h *harness) runTask(t *bbsv1.Task) *repv1.PerformResponse {
	h.t.Helper()
	t.State = bbsv1.TaskState_TASK_STATE_PENDING
	h.bbs.PutTask(t)
	return h.ex.Perform(ctxFor(h.t), &repv1.PerformRequest{Tasks: []*bbsv1.Task{t}})
}

// instanceGUID waits for index of guid to be claimed and returns its
// instance guid.
func (h *harness) instanceGUID(guid string, index int32) string {
	h.t.Helper()
	var ig string
	testenv.Eventually(h.t, timeout, func() error {
		a := h.bbs.Actual(guid, index)
		if a.GetInstanceKey().GetInstanceGuid() == "" {
			return fmt.Errorf("%s/%d not claimed: %v", guid, index, a)
		}
		ig = a.GetInstanceKey().GetInstanceGuid()
		return nil
	})
	return ig
}

// proc waits for the process of a container.
func (h *harness) proc(containerID, processID string) *fakeProcess {
	h.t.Helper()
	var p *fakeProcess
	testenv.Eventually(h.t, timeout, func() error {
		if p = h.rt.process(containerID, processID); p == nil {
			return fmt.Errorf("no process %s in %s", processID, containerID)
		}
		return nil
	})
	return p
}

// waitState waits until the ordinary record of guid/index is in state.
func (h *harness) waitState(guid string, index int32, state bbsv1.ActualLRPState) *bbsv1.ActualLRP {
	h.t.Helper()
	var a *bbsv1.ActualLRP
	testenv.Eventually(h.t, timeout, func() error {
		a = h.bbs.Actual(guid, index)
		if a.GetState() != state {
			return fmt.Errorf("%s/%d is %v, want %v", guid, index, a.GetState(), state)
		}
		return nil
	})
	return a
}

// waitGone waits until the cell holds no container and no reservation.
func (h *harness) waitEmpty() {
	h.t.Helper()
	testenv.Eventually(h.t, timeout, func() error {
		if n := h.ex.count(); n != 0 {
			return fmt.Errorf("%d containers still allocated", n)
		}
		if ids := h.rt.ids(); len(ids) != 0 {
			return fmt.Errorf("runtime still has %v", ids)
		}
		return nil
	})
}

// calls returns the number of calls of method.
func (h *harness) calls(method string) int { return len(h.bbs.Calls(method)) }

func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// webLRP is a desired LRP with a port health check.
func webLRP(guid string, instances int32) *bbsv1.DesiredLRP {
	return &bbsv1.DesiredLRP{
		ProcessGuid: guid, Domain: "cf-apps", Instances: instances, RootFs: "preloaded:cflinuxfs4",
		MemoryMb: 256, DiskMb: 512, CpuWeight: 10, MaxPids: 100, Ports: []uint32{8080}, LogGuid: "app-" + guid,
		LogRateLimitBytesPerSecond: -1,
		Action: &bbsv1.RunAction{Path: "/tmp/lifecycle/launcher", Args: []string{"app", "bundle exec rackup", ""}, LogSource: "APP/PROC/WEB",
			Env: []*bbsv1.EnvironmentVariable{{Name: "FROM_ACTION", Value: "1"}}, ResourceLimits: &bbsv1.ResourceLimits{Nofile: 16384}},
		Env:         []*bbsv1.EnvironmentVariable{{Name: "VCAP_SERVICES", Value: `{"p-mysql":[]}`}},
		HealthCheck: &bbsv1.HealthCheckDefinition{Check: &bbsv1.Check{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT}},
		MetricTags:  map[string]string{"app_name": "dora", "app_id": "app-" + guid},
	}
}

// processLRP is a desired LRP without ports, checked by its process only.
func processLRP(guid string, instances int32) *bbsv1.DesiredLRP {
	lrp := webLRP(guid, instances)
	lrp.Ports = nil
	lrp.HealthCheck = &bbsv1.HealthCheckDefinition{Check: &bbsv1.Check{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PROCESS}}
	return lrp
}

func task(guid string) *bbsv1.Task {
	return &bbsv1.Task{TaskGuid: guid, Domain: "cf-tasks", Definition: &bbsv1.TaskDefinition{
		RootFs: "preloaded:cflinuxfs4", MemoryMb: 128, DiskMb: 256, LogGuid: "app-t", LogRateLimitBytesPerSecond: -1,
		Action: &bbsv1.RunAction{Path: "/bin/sh", Args: []string{"-c", "rake db:migrate"}, LogSource: "APP/TASK/migrate"},
	}}
}

// listener accepts TCP connections (a healthy app) until closed.
type listener struct {
	net.Listener
	port uint32
}

func listen(t *testing.T) *listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return &listener{Listener: l, port: uint32(l.Addr().(*net.TCPAddr).Port)}
}

// closedPort returns a port nothing listens on.
func closedPort(t *testing.T) uint32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint32(l.Addr().(*net.TCPAddr).Port)
}

// blobstore serves files and counts requests.
type blobstore struct {
	srv   *httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	files map[string][]byte
	puts  map[string][]byte
}

func newBlobstore(t *testing.T) *blobstore {
	b := &blobstore{files: map[string][]byte{}, puts: map[string][]byte{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		defer b.mu.Unlock()
		switch r.Method {
		case http.MethodGet:
			body, ok := b.files[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Write(body)
		case http.MethodPut:
			var sb strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := r.Body.Read(buf)
				sb.Write(buf[:n])
				if err != nil {
					break
				}
			}
			b.puts[r.URL.Path] = []byte(sb.String())
			w.WriteHeader(http.StatusCreated)
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *blobstore) put(path string, body []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files[path] = body
}

func (b *blobstore) uploaded(path string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.puts[path]
	return v, ok
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// logRecorder is a LogSink that keeps the lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []logstream.Line
}

func (r *logRecorder) EmitLog(_ context.Context, l logstream.Line) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, l)
}

func (r *logRecorder) find(msg string) (logstream.Line, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.Contains(l.Message, msg) {
			return l, true
		}
	}
	return logstream.Line{}, false
}

func (r *logRecorder) messages(source string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if l.SourceType == source {
			out = append(out, l.Message)
		}
	}
	return out
}

func (r *logRecorder) waitFor(t *testing.T, msg string) logstream.Line {
	t.Helper()
	var line logstream.Line
	testenv.Eventually(t, timeout, func() error {
		var ok bool
		if line, ok = r.find(msg); !ok {
			return fmt.Errorf("no log line containing %q", msg)
		}
		return nil
	})
	return line
}

// metricRecorder is a MetricSink that keeps the metrics.
type metricRecorder struct {
	mu sync.Mutex
	ms []ContainerMetrics
}

func (r *metricRecorder) EmitMetrics(_ context.Context, m ContainerMetrics) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ms = append(r.ms, m)
}

func (r *metricRecorder) all() []ContainerMetrics {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ms)
}
