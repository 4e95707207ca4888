package rep_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestCellRegistersAndRunsInstances(t *testing.T) {
	t.Parallel()
	c := newCell(t, cellOptions{})

	// The observer sees the cell's presence, with the bound gRPC address.
	testenv.Eventually(t, timeout, func() error {
		p, ok := c.observer.Cell(c.cfg.CellID)
		if !ok {
			return errors.New("cell not registered")
		}
		want := &bbsv1.CellPresence{CellId: c.cfg.CellID, RepAddress: c.rep.Addr(), Zone: "z1",
			Capacity: &bbsv1.CellCapacity{MemoryMb: 4096, DiskMb: 8192, Containers: 20},
			Stacks:   []string{"cflinuxfs4"}, PlacementTags: []string{"ssd"}}
		if !proto.Equal(p, want) {
			return fmt.Errorf("presence %v, want %v", p, want)
		}
		return nil
	})
	if got := c.rt.stacks["cflinuxfs4"]; got != "/var/vcap/packages/cflinuxfs4/rootfs" {
		t.Errorf("stack imported from %q", got)
	}

	if resp := c.desire(webLRP("web", 2)); len(resp.GetFailedLrps()) != 0 {
		t.Fatalf("refused %v", resp.GetFailedLrps())
	}
	state, err := c.client.State(ctxFor(t), &repv1.StateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(state.GetLrps()) != 2 || state.GetAvailable().GetMemoryMb() != 4096-512 || state.GetEvacuating() {
		t.Errorf("state %v", state)
	}
	for i := range int32(2) {
		a := c.waitState("web", i, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
		if a.GetNetInfo().GetPorts()[0].GetHostPort() != c.rt.hostPort || a.GetInstanceKey().GetCellId() != c.cfg.CellID {
			t.Errorf("instance %d: %v", i, a)
		}
	}
	testenv.Eventually(t, timeout, func() error {
		if !c.logs.has("Container became healthy") {
			return errors.New("no health log line")
		}
		return nil
	})

	// Over-large work is refused with Diego's reason.
	big := webLRP("big", 1)
	big.MemoryMb = 8192
	if resp := c.desire(big); len(resp.GetFailedLrps()) != 1 || resp.GetFailedLrps()[0].GetReason() != "insufficient resources: memory" {
		t.Errorf("Perform big = %v", resp)
	}

	// StopLRPInstance over gRPC.
	a := c.bbs.Actual("web", 1)
	if _, err := c.client.StopLRPInstance(ctxFor(t), &repv1.StopLRPInstanceRequest{Key: a.GetKey(), InstanceKey: a.GetInstanceKey()}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if a := c.bbs.Actual("web", 1); a != nil {
			return fmt.Errorf("instance 1 still recorded: %v", a)
		}
		if ids := c.rt.ids(); len(ids) != 1 {
			return fmt.Errorf("containers %v", ids)
		}
		return nil
	})

	metrics := c.scrape()
	for _, want := range []string{`name:"rep_containers"`, `name:"rep_capacity_remaining"`, `name:"rep_bulk_sync_duration_seconds"`, `name:"grpc_server_handled_total"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestEvacuatesOnShutdown(t *testing.T) {
	t.Parallel()
	c := newCell(t, cellOptions{tweak: func(cfg *rep.Config) { cfg.Evacuation.Timeout = time.Minute }})
	c.desire(webLRP("web", 1))
	a := c.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	ig := a.GetInstanceKey().GetInstanceGuid()

	stopped := make(chan error, 1)
	go func() { stopped <- c.stop() }()

	// The instance is handed over and kept; the cell refuses work but
	// still answers.
	testenv.Eventually(t, timeout, func() error {
		if e := c.bbs.Evacuating("web", 0); e.GetInstanceKey().GetInstanceGuid() != ig {
			return fmt.Errorf("evacuating record %v", e)
		}
		return nil
	})
	state, err := c.client.State(ctxFor(t), &repv1.StateRequest{})
	if err != nil || !state.GetEvacuating() {
		t.Errorf("State = %v, %v; want evacuating", state, err)
	}
	resp, err := c.client.Perform(ctxFor(t), &repv1.PerformRequest{Lrps: []*repv1.LRPWork{{ProcessGuid: "new", RootFs: "preloaded:cflinuxfs4"}}})
	if err != nil || len(resp.GetFailedLrps()) != 1 || resp.GetFailedLrps()[0].GetReason() != "cell is evacuating" {
		t.Errorf("Perform while evacuating = %v, %v", resp, err)
	}
	if ids := c.rt.ids(); !slices.Equal(ids, []string{ig}) {
		t.Fatalf("containers %v: the instance must be kept until replaced", ids)
	}

	// The replacement runs elsewhere: the container goes and Run returns.
	replacement := &bbsv1.ActualLRPInstanceKey{InstanceGuid: "replacement", CellId: "cell-2"}
	if _, err := c.bbs.ClaimActualLRP(ctxFor(t), &bbsv1.ClaimActualLRPRequest{ProcessGuid: "web", InstanceKey: replacement}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.bbs.StartActualLRP(ctxFor(t), &bbsv1.StartActualLRPRequest{Key: a.GetKey(), InstanceKey: replacement}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(timeout):
		t.Fatal("Run did not return after the replacement started")
	}
	if ids := c.rt.ids(); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
	// The cell left the registry.
	testenv.Eventually(t, timeout, func() error {
		if _, ok := c.observer.Cell(c.cfg.CellID); ok {
			return errors.New("cell still registered")
		}
		return nil
	})
}

// TestEvacuateEndpoint: POST /evacuate on the ops listener drains the cell
// as SIGTERM does, without the process being signalled.
func TestEvacuateEndpoint(t *testing.T) {
	t.Parallel()
	opsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	c := newCell(t, cellOptions{tweak: func(cfg *rep.Config) {
		// No replacement will run: the cell stops what is left after this.
		cfg.Evacuation.Timeout = 2 * time.Second
		cfg.Ops.Listen = opsAddr
	}})
	c.desire(webLRP("web", 1))
	a := c.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	resp, err := http.Post("http://"+opsAddr+"/evacuate", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /evacuate = %d, want 202", resp.StatusCode)
	}
	testenv.Eventually(t, timeout, func() error {
		if e := c.bbs.Evacuating("web", 0); e.GetInstanceKey().GetInstanceGuid() != a.GetInstanceKey().GetInstanceGuid() {
			return fmt.Errorf("evacuating record %v", e)
		}
		return nil
	})
	state, err := c.client.State(ctxFor(t), &repv1.StateRequest{})
	if err != nil || !state.GetEvacuating() {
		t.Errorf("State = %v, %v; want evacuating", state, err)
	}
	// Then the rep stops by itself, as after SIGTERM.
	testenv.Eventually(t, timeout, func() error {
		if ids := c.rt.ids(); len(ids) != 0 {
			return fmt.Errorf("containers left: %v", ids)
		}
		return nil
	})
}

func TestRuntimeUnavailable(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t, "rep")
	rt := newTestRuntime()
	rt.available = errors.New("containerd socket /run/containerd/containerd.sock: no such file or directory")
	r, err := rep.New(testConfig(t, certs), rep.Deps{Logger: testenv.Logger(t), Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(ctxFor(t))
	if err == nil || !strings.Contains(err.Error(), "container runtime unavailable: containerd socket") {
		t.Errorf("Run = %v, want the runtime's message", err)
	}
	select {
	case <-r.Ready():
		t.Error("ready without a runtime")
	default:
	}
}
