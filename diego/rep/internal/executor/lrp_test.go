package executor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestLRPStartsWithNetInfo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	app := listen(t)
	h.rt.hostPort = func(uint32) uint32 { return app.port }
	if resp := h.desire(webLRP("web", 1)); len(resp.GetFailedLrps()) != 0 {
		t.Fatalf("Perform refused %v", resp.GetFailedLrps())
	}
	ig := h.instanceGUID("web", 0)
	a := h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)

	want := &bbsv1.ActualLRPNetInfo{Address: "127.0.0.1", InstanceAddress: "127.0.0.1", PreferredAddress: "HOST",
		Ports: []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: app.port}}}
	if !proto.Equal(a.GetNetInfo(), want) || !a.GetRoutable() || a.GetAvailabilityZone() != "z1" {
		t.Errorf("actual lrp = %v, want net info %v, routable, zone z1", a, want)
	}
	if ik := a.GetInstanceKey(); ik.GetCellId() != cellID || ik.GetInstanceGuid() != ig {
		t.Errorf("instance key %v", ik)
	}

	_, spec, ok := h.rt.container(ig)
	if !ok {
		t.Fatal("no container")
	}
	if spec.Stack != "cflinuxfs4" || spec.MemoryBytes != 256<<20 || spec.DiskBytes != 512<<20 || spec.CPUWeight != 10 ||
		spec.MaxPids != 100 || !slices.Equal(spec.Ports, []uint32{8080}) {
		t.Errorf("container spec %+v", spec)
	}
	if !slices.Equal(spec.Mounts, []runtime.Mount{{Source: "/var/vcap/packages/lifecycle", Destination: "/tmp/lifecycle", ReadOnly: true}}) {
		t.Errorf("mounts %v", spec.Mounts)
	}
	p := h.proc(ig, appProcess)
	if p.spec.User != "vcap" || p.spec.NoFile != 16384 || !slices.Equal(p.spec.Args, []string{"/tmp/lifecycle/launcher", "app", "bundle exec rackup", ""}) {
		t.Errorf("process spec %+v", p.spec)
	}
	h.logs.waitFor(t, "Container became healthy")
	if got := h.ex.State(); got.GetStartingContainers() != 0 || len(got.GetLrps()) != 1 || got.GetLrps()[0].GetInstanceGuid() != ig {
		t.Errorf("state %v", got)
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.rt.hostPort = func(p uint32) uint32 { return 61000 + p%1000 }
	lrp := processLRP("env", 3)
	lrp.Ports = []uint32{8080, 9090}
	lrp.Instances = 3
	h.bbs.AddLRP(lrp)
	h.ex.Perform(ctxFor(t), performOne(lrp, 2))
	ig := h.instanceGUID("env", 2)
	env := map[string]string{}
	for _, kv := range h.proc(ig, appProcess).spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"CF_INSTANCE_GUID": ig, "CF_INSTANCE_INDEX": "2", "INSTANCE_GUID": ig, "INSTANCE_INDEX": "2",
		"CF_INSTANCE_IP": "127.0.0.1", "CF_INSTANCE_INTERNAL_IP": "127.0.0.1", "CF_INSTANCE_PORT": "61080",
		"CF_INSTANCE_ADDR": "127.0.0.1:61080", "CF_INSTANCE_PORTS": `[{"external":61080,"internal":8080},{"external":61090,"internal":9090}]`,
		"PORT": "8080", "VCAP_APP_PORT": "8080", "VCAP_APP_HOST": "0.0.0.0", "LANG": "en_US.UTF-8", "MEMORY_LIMIT": "256m",
		"VCAP_SERVICES": `{"p-mysql":[]}`, "FROM_ACTION": "1",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	var vcap map[string]any
	if err := json.Unmarshal([]byte(env["VCAP_APPLICATION"]), &vcap); err != nil {
		t.Fatalf("VCAP_APPLICATION: %v", err)
	}
	for k, want := range map[string]any{"instance_id": ig, "instance_index": 2.0, "application_name": "dora", "application_id": "app-env", "port": 8080.0, "host": "0.0.0.0"} {
		if vcap[k] != want {
			t.Errorf("VCAP_APPLICATION[%s] = %v, want %v", k, vcap[k], want)
		}
	}
}

func TestNeverHealthy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	dead := closedPort(t)
	h.rt.hostPort = func(uint32) uint32 { return dead }
	lrp := webLRP("sick", 1)
	lrp.HealthCheck.StartTimeoutMs = 200
	h.desire(lrp)
	ig := h.instanceGUID("sick", 0)
	a := h.waitState("sick", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED)
	want := fmt.Sprintf("Instance never healthy after 200ms: failed to make TCP connection to 127.0.0.1:%d: connection refused", dead)
	if a.GetCrashReason() != want {
		t.Errorf("crash reason %q, want %q", a.GetCrashReason(), want)
	}
	h.waitEmpty()
	if !h.rt.wasDestroyed(ig) {
		t.Error("container not destroyed")
	}
	if got := h.metric("rep_health_check_failures_total", "check", "startup"); got != 1 {
		t.Errorf("startup failures = %v", got)
	}
	if got := h.metric("rep_crashes_reported_total"); got != 1 {
		t.Errorf("crashes = %v", got)
	}
	if h.calls("StartActualLRP") != 0 {
		t.Error("an instance that never became healthy was started")
	}
}

func TestProcessExitCrashes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status runtime.ExitStatus
		want   string
	}{
		{"exit status", runtime.ExitStatus{Code: 1}, "APP/PROC/WEB: Exited with status 1"},
		{"out of memory", runtime.ExitStatus{Code: 137, OOMKilled: true}, "APP/PROC/WEB: Exited with status 137 (out of memory)"},
		{"clean exit is a crash too", runtime.ExitStatus{Code: 0}, "APP/PROC/WEB: Exited with status 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, options{})
			h.desire(processLRP("crashy", 1))
			ig := h.instanceGUID("crashy", 0)
			h.waitState("crashy", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
			h.proc(ig, appProcess).exit(tt.status)
			a := h.waitState("crashy", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED)
			if a.GetCrashReason() != tt.want {
				t.Errorf("crash reason %q, want %q", a.GetCrashReason(), tt.want)
			}
			h.waitEmpty()
			h.logs.waitFor(t, "Exit status "+strconv.Itoa(tt.status.Code))
		})
	}
}

func TestLivenessFailureCrashes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	app := listen(t)
	h.rt.hostPort = func(uint32) uint32 { return app.port }
	h.desire(webLRP("flaky", 1))
	h.waitState("flaky", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	app.Close()
	a := h.waitState("flaky", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED)
	want := fmt.Sprintf("Instance became unhealthy: failed to make TCP connection to 127.0.0.1:%d: connection refused", app.port)
	if a.GetCrashReason() != want {
		t.Errorf("crash reason %q, want %q", a.GetCrashReason(), want)
	}
	if got := h.metric("rep_health_check_failures_total", "check", "liveness"); got != 1 {
		t.Errorf("liveness failures = %v", got)
	}
}

func TestReadinessFlipsRoutable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" && !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	port, _ := strconv.Atoi(srv.URL[strings.LastIndexByte(srv.URL, ':')+1:])
	h.rt.hostPort = func(uint32) uint32 { return uint32(port) }
	lrp := webLRP("ready", 1)
	lrp.HealthCheck.Check = &bbsv1.Check{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP, Endpoint: "/health"}
	lrp.HealthCheck.Readiness = &bbsv1.Check{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP, Endpoint: "/ready", IntervalMs: 20}
	h.desire(lrp)
	ig := h.instanceGUID("ready", 0)

	routable := func(want bool) {
		t.Helper()
		testenv.Eventually(t, timeout, func() error {
			a := h.bbs.Actual("ready", 0)
			if a.GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING || a.GetRoutable() != want {
				return fmt.Errorf("state %v routable %v, want RUNNING routable %v", a.GetState(), a.GetRoutable(), want)
			}
			return nil
		})
	}
	routable(false) // healthy, not ready
	ready.Store(true)
	routable(true)
	ready.Store(false)
	routable(false)
	if p := h.proc(ig, appProcess); p.hasExited() || len(p.received()) != 0 {
		t.Errorf("readiness touched the process: exited %v, signals %v", p.hasExited(), p.received())
	}
	if got := h.metric("rep_health_check_failures_total", "check", "readiness"); got < 1 {
		t.Errorf("readiness failures = %v", got)
	}
}

func TestStopLRPInstance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		exitOnTerm bool
		want       []syscall.Signal
	}{
		{"exits on SIGTERM", true, []syscall.Signal{syscall.SIGTERM}},
		{"ignores SIGTERM: killed after the grace period", false, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, options{})
			h.rt.exitOnTerm = tt.exitOnTerm
			h.desire(processLRP("web", 1))
			ig := h.instanceGUID("web", 0)
			a := h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
			p := h.proc(ig, appProcess)
			start := time.Now()
			if err := h.ex.StopLRPInstance(ctxFor(t), a.GetKey(), a.GetInstanceKey()); err != nil {
				t.Fatal(err)
			}
			h.waitEmpty()
			if got := p.received(); !slices.Equal(got, tt.want) {
				t.Errorf("signals %v, want %v", got, tt.want)
			}
			if took := time.Since(start); !tt.exitOnTerm && took < h.cfg.GracePeriod {
				t.Errorf("killed after %v, before the grace period of %v", took, h.cfg.GracePeriod)
			}
			if a := h.bbs.Actual("web", 0); a != nil {
				t.Errorf("actual lrp not removed: %v", a)
			}
			if h.calls("CrashActualLRP") != 0 {
				t.Error("a stopped instance was reported crashed")
			}
		})
	}
}

func TestStopUnknownInstanceRemovesRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	key := &bbsv1.ActualLRPKey{ProcessGuid: "ghost", Index: 0, Domain: "cf-apps"}
	ik := &bbsv1.ActualLRPInstanceKey{InstanceGuid: "lost", CellId: cellID}
	h.bbs.SetActual(&bbsv1.ActualLRP{Key: key, InstanceKey: ik, State: bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING, Presence: bbsv1.Presence_PRESENCE_ORDINARY})
	if err := h.ex.StopLRPInstance(ctxFor(t), key, ik); err != nil {
		t.Fatal(err)
	}
	if a := h.bbs.Actual("ghost", 0); a != nil {
		t.Errorf("record kept: %v", a)
	}
	// Again: the record is gone, which is not an error.
	if err := h.ex.StopLRPInstance(ctxFor(t), key, ik); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestClaimRefusedFreesReservation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	// No actual LRP in the BBS: the claim fails with NOT_FOUND.
	resp := h.ex.Perform(ctxFor(t), performOne(processLRP("nobody", 1), 0))
	if len(resp.GetFailedLrps()) != 0 {
		t.Fatalf("refused: %v", resp.GetFailedLrps())
	}
	h.waitEmpty()
	if got := h.ex.State().GetAvailable().GetMemoryMb(); got != 4096 {
		t.Errorf("available memory %d, want all of it", got)
	}
	if len(h.rt.ids()) != 0 || len(h.rt.destroyedIDs()) != 0 {
		t.Error("a container was created for a refused claim")
	}
}

func TestDesiredLRPGoneRemovesInstance(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	lrp := processLRP("gone", 1)
	h.bbs.AddLRP(lrp)
	h.bbs.ForgetLRP("gone")
	h.ex.Perform(ctxFor(t), performOne(lrp, 0))
	h.waitEmpty()
	testenv.Eventually(t, timeout, func() error {
		if a := h.bbs.Actual("gone", 0); a != nil {
			return fmt.Errorf("record kept: %v", a)
		}
		return nil
	})
}

func TestStartRefusedStopsContainer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.bbs.FailNext("StartActualLRP", bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION, "another instance runs"))
	h.desire(processLRP("taken", 1))
	h.waitEmpty()
	if h.calls("CrashActualLRP")+h.calls("RemoveActualLRP") != 0 {
		t.Error("a refused instance was reported")
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	lrp := processLRP("chatty", 1)
	lrp.LogRateLimitBytesPerSecond = 100
	h.desire(lrp)
	ig := h.instanceGUID("chatty", 0)
	p := h.proc(ig, appProcess)
	p.write(false, "hello from stdout\n")
	p.write(true, "oops\n")
	line := h.logs.waitFor(t, "hello from stdout")
	if line.AppID != "app-chatty" || line.SourceType != "APP/PROC/WEB" || line.InstanceIndex != 0 || line.Stream != logstream.Stdout ||
		line.Tags["app_name"] != "dora" {
		t.Errorf("line %+v", line)
	}
	if l := h.logs.waitFor(t, "oops"); l.Stream != logstream.Stderr {
		t.Errorf("stderr line %+v", l)
	}
	p.write(false, strings.Repeat("x", 90)+"\n") // over the 100 bytes/s budget
	h.logs.waitFor(t, "app instance exceeded log rate limit (100 bytes/sec)")

	// Lines longer than 64 KiB are split.
	lrp2 := processLRP("long", 1)
	h.desire(lrp2)
	p2 := h.proc(h.instanceGUID("long", 0), appProcess)
	p2.write(false, strings.Repeat("y", logstream.MaxMessageBytes+5)+"\n")
	h.logs.waitFor(t, "yyyyy")
	testenv.Eventually(t, timeout, func() error {
		var sizes []int
		for _, m := range h.logs.messages("APP/PROC/WEB") {
			if strings.HasPrefix(m, "yyy") {
				sizes = append(sizes, len(m))
			}
		}
		if !slices.Equal(sizes, []int{logstream.MaxMessageBytes, 5}) {
			return fmt.Errorf("message sizes %v", sizes)
		}
		return nil
	})
}

func performOne(lrp *bbsv1.DesiredLRP, index int32) *repv1.PerformRequest {
	return &repv1.PerformRequest{Lrps: []*repv1.LRPWork{{ProcessGuid: lrp.GetProcessGuid(), Domain: lrp.GetDomain(), Index: index,
		MemoryMb: lrp.GetMemoryMb(), DiskMb: lrp.GetDiskMb(), RootFs: lrp.GetRootFs()}}}
}
