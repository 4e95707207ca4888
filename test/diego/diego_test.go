package diego

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// TestPlaceSpreadAndReplace: instances are placed across zones, an LRP too
// big for any cell reports why, and when a cell is lost its instances are
// replaced on the others.
func TestPlaceSpreadAndReplace(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, platformOptions{})
	lat := &latencies{}
	cells := map[string]*simCell{}
	for i, zone := range []string{"z1", "z1", "z2", "z2", "z3", "z3"} {
		id := fmt.Sprintf("cell-%d", i)
		cells[id] = p.addCell(id, zone, 4096, lat)
	}
	ctx := ctxFor(t)
	testenv.Eventually(t, 20*time.Second, func() error {
		resp, err := p.client.ListCells(ctx, &bbsv1.ListCellsRequest{})
		if err != nil {
			return err
		}
		if n := len(resp.GetCells()); n != len(cells) {
			return fmt.Errorf("BBS sees %d cells", n)
		}
		return nil
	})

	if _, err := p.client.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: lrp("web", 6, 256)}); err != nil {
		t.Fatal(err)
	}
	running := p.allRunning(t, "web", 6, 30*time.Second)
	zones := map[string]int{}
	perCell := map[string]int{}
	for _, a := range running {
		zones[a.GetAvailabilityZone()]++
		perCell[a.GetInstanceKey().GetCellId()]++
	}
	if zones["z1"] != 2 || zones["z2"] != 2 || zones["z3"] != 2 {
		t.Errorf("instances per zone = %v, want 2 in each", zones)
	}
	if len(perCell) != 6 {
		t.Errorf("instances per cell = %v, want one on each of 6 cells", perCell)
	}

	// Bigger than any cell: the instance stays UNCLAIMED with the reason.
	if _, err := p.client.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: lrp("huge", 1, 8192)}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		got, err := p.instances(ctx, "huge")
		if err != nil {
			return err
		}
		if e := got[0].GetPlacementError(); !strings.Contains(e, "insufficient resources: memory") {
			return fmt.Errorf("placement_error = %q", e)
		}
		return nil
	})

	// A cell dies: its instance is replaced on another cell.
	var lostCell string
	var lostIndex int32
	for i, a := range running {
		lostCell, lostIndex = a.GetInstanceKey().GetCellId(), i
		break
	}
	if err := cells[lostCell].stop(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		got, err := p.instances(ctx, "web")
		if err != nil {
			return err
		}
		a := got[lostIndex]
		if a.GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING || a.GetInstanceKey().GetCellId() == lostCell {
			return fmt.Errorf("index %d: %v on %s", lostIndex, a.GetState(), a.GetInstanceKey().GetCellId())
		}
		return nil
	})
	// The SUSPECT copy of the lost instance is gone once its replacement
	// runs.
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := p.client.ListActualLRPs(ctx, &bbsv1.ListActualLRPsRequest{Filter: &bbsv1.ActualLRPFilter{ProcessGuid: "web"}})
		if err != nil {
			return err
		}
		for _, a := range resp.GetActualLrps() {
			if a.GetPresence() != bbsv1.Presence_PRESENCE_ORDINARY {
				return errors.New("a suspect instance is left")
			}
		}
		return nil
	})
}

// TestScaleAndRemove: scaling down stops the extra instances on their
// cells, removing the LRP stops the rest.
func TestScaleAndRemove(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, platformOptions{})
	lat := &latencies{}
	c := p.addCell("cell-0", "z1", 8192, lat)
	ctx := ctxFor(t)
	testenv.Eventually(t, 20*time.Second, func() error {
		resp, err := p.client.ListCells(ctx, &bbsv1.ListCellsRequest{})
		if err != nil || len(resp.GetCells()) != 1 {
			return fmt.Errorf("cells: %v %v", resp.GetCells(), err)
		}
		return nil
	})
	if _, err := p.client.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: lrp("app", 4, 128)}); err != nil {
		t.Fatal(err)
	}
	p.allRunning(t, "app", 4, 30*time.Second)
	two := int32(2)
	if _, err := p.client.UpdateDesiredLRP(ctx, &bbsv1.UpdateDesiredLRPRequest{ProcessGuid: "app", Update: &bbsv1.DesiredLRPUpdate{Instances: &two}}); err != nil {
		t.Fatal(err)
	}
	held := func(want int) func() error {
		return func() error {
			c.mu.Lock()
			n := len(c.lrps)
			c.mu.Unlock()
			got, err := p.instances(ctx, "app")
			if err != nil {
				return err
			}
			if n != want || len(got) != want {
				return fmt.Errorf("cell holds %d, BBS has %d instances, want %d", n, len(got), want)
			}
			return nil
		}
	}
	testenv.Eventually(t, 20*time.Second, held(2))
	if _, err := p.client.RemoveDesiredLRP(ctx, &bbsv1.RemoveDesiredLRPRequest{ProcessGuid: "app"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, held(0))
}
