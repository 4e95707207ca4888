package executor

import (
	"fmt"
	"slices"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func work(guid string, index, memoryMB, diskMB int32) *repv1.LRPWork {
	return &repv1.LRPWork{ProcessGuid: guid, Domain: "cf-apps", Index: index, MemoryMb: memoryMB, DiskMb: diskMB, RootFs: "preloaded:cflinuxfs4"}
}

func TestPerformRefusals(t *testing.T) {
	t.Parallel()
	windows := work("win", 0, 1, 1)
	windows.RootFs = "preloaded:windows2019"
	priv := task("priv")
	priv.Definition.Privileged = true
	tests := []struct {
		name      string
		lrps      []*repv1.LRPWork
		tasks     []*bbsv1.Task
		wantLRPs  []string
		wantTasks []string
	}{
		{"memory", []*repv1.LRPWork{work("big", 0, 5000, 1)}, nil, []string{"big/0: insufficient resources: memory"}, nil},
		{"disk and memory", []*repv1.LRPWork{work("big", 0, 5000, 9000)}, nil, []string{"big/0: insufficient resources: disk, memory"}, nil},
		{"containers run out within one request", []*repv1.LRPWork{work("w", 0, 1, 1), work("w", 1, 1, 1), work("w", 2, 1, 1)}, nil,
			[]string{"w/2: insufficient resources: containers"}, nil},
		{"what fits is taken in order", []*repv1.LRPWork{work("a", 0, 3000, 1), work("b", 0, 3000, 1), work("c", 0, 1000, 1)}, nil,
			[]string{"b/0: insufficient resources: memory"}, nil},
		{"rootfs", []*repv1.LRPWork{windows}, nil, []string{"win/0: rootfs not found"}, nil},
		{"privileged task", nil, []*bbsv1.Task{priv}, nil, []string{"priv: privileged containers are not supported"}},
		{"task too big", nil, []*bbsv1.Task{func() *bbsv1.Task { tk := task("huge"); tk.Definition.DiskMb = 9000; return tk }()}, nil,
			[]string{"huge: insufficient resources: disk"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, options{capacity: Capacity{MemoryMB: 4096, DiskMB: 8192, Containers: 2}})
			resp := h.ex.Perform(ctxFor(t), &repv1.PerformRequest{Lrps: tt.lrps, Tasks: tt.tasks})
			var lrps, tasks []string
			for _, f := range resp.GetFailedLrps() {
				lrps = append(lrps, fmt.Sprintf("%s/%d: %s", f.GetProcessGuid(), f.GetIndex(), f.GetReason()))
			}
			for _, f := range resp.GetFailedTasks() {
				tasks = append(tasks, fmt.Sprintf("%s: %s", f.GetTaskGuid(), f.GetReason()))
			}
			if !slices.Equal(lrps, tt.wantLRPs) || !slices.Equal(tasks, tt.wantTasks) {
				t.Errorf("failed lrps %q tasks %q; want %q %q", lrps, tasks, tt.wantLRPs, tt.wantTasks)
			}
		})
	}
}

func TestStateReflectsReservations(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.bbs.AddLRP(processLRP("web", 2))
	h.ex.Perform(ctxFor(t), &repv1.PerformRequest{Lrps: []*repv1.LRPWork{work("web", 0, 256, 512), work("web", 1, 256, 512)}})
	h.runTask(task("t1"))

	s := h.ex.State()
	if s.GetCellId() != cellID || s.GetZone() != "z1" || !slices.Equal(s.GetStacks(), []string{"cflinuxfs4"}) ||
		!slices.Equal(s.GetPlacementTags(), []string{"ssd"}) || s.GetEvacuating() {
		t.Errorf("state %v", s)
	}
	if total := s.GetTotal(); total.GetMemoryMb() != 4096 || total.GetDiskMb() != 8192 || total.GetContainers() != 10 {
		t.Errorf("total %v", total)
	}
	if a := s.GetAvailable(); a.GetMemoryMb() != 4096-2*256-128 || a.GetDiskMb() != 8192-2*512-256 || a.GetContainers() != 7 {
		t.Errorf("available %v", a)
	}
	if len(s.GetLrps()) != 2 || s.GetLrps()[0].GetIndex() != 0 || s.GetLrps()[1].GetIndex() != 1 || s.GetLrps()[0].GetMemoryMb() != 256 {
		t.Errorf("lrps %v", s.GetLrps())
	}
	if len(s.GetTasks()) != 1 || s.GetTasks()[0].GetTaskGuid() != "t1" || s.GetTasks()[0].GetDiskMb() != 256 {
		t.Errorf("tasks %v", s.GetTasks())
	}
	if got := h.metric("rep_capacity_remaining", "resource", "containers"); got != 7 {
		t.Errorf("rep_capacity_remaining{containers} = %v", got)
	}

	// Both instances run (process checks pass at once) and the task runs:
	// none starting, three running. The task's container may still be
	// starting when the instances are up, so both are polled.
	testenv.Eventually(t, timeout, func() error {
		if n := h.ex.State().GetStartingContainers(); n != 0 {
			return fmt.Errorf("%d starting", n)
		}
		if got := h.metric("rep_containers", "state", "running"); got != 3 {
			return fmt.Errorf("rep_containers{running} = %v", got)
		}
		return nil
	})
}

func TestStartingContainers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	dead := closedPort(t)
	h.rt.hostPort = func(uint32) uint32 { return dead }
	h.desire(webLRP("slow", 2)) // never healthy within the test
	testenv.Eventually(t, timeout, func() error {
		if n := h.ex.State().GetStartingContainers(); n != 2 {
			return fmt.Errorf("%d starting, want 2", n)
		}
		return nil
	})
}
