package executor

import (
	"context"
	"sort"
	"strings"

	"github.com/google/uuid"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
)

// Perform failure reasons.
const (
	reasonEvacuating = "cell is evacuating"
	reasonRootFS     = "rootfs not found"
	reasonPrivileged = "privileged containers are not supported"
)

// State reports the cell's capacity and allocations.
func (e *Executor) State() *repv1.StateResponse {
	e.mu.Lock()
	defer e.mu.Unlock()
	total := e.cfg.Capacity
	avail := e.availableLocked()
	resp := &repv1.StateResponse{
		CellId:                e.cfg.CellID,
		Zone:                  e.cfg.Zone,
		Total:                 &bbsv1.CellCapacity{MemoryMb: total.MemoryMB, DiskMb: total.DiskMB, Containers: total.Containers},
		Available:             &bbsv1.CellCapacity{MemoryMb: avail.MemoryMB, DiskMb: avail.DiskMB, Containers: avail.Containers},
		Stacks:                append([]string(nil), e.cfg.Stacks...),
		PlacementTags:         append([]string(nil), e.cfg.PlacementTags...),
		OptionalPlacementTags: append([]string(nil), e.cfg.OptionalPlacementTags...),
		Evacuating:            e.evacuating,
	}
	for _, inst := range e.instances {
		switch inst.kind {
		case kindLRP:
			resp.Lrps = append(resp.Lrps, &repv1.LRPAllocation{
				ProcessGuid: inst.key.GetProcessGuid(), Index: inst.key.GetIndex(), InstanceGuid: inst.guid,
				MemoryMb: inst.memoryMB, DiskMb: inst.diskMB,
			})
			if inst.startingLocked() {
				resp.StartingContainers++
			}
		case kindTask:
			resp.Tasks = append(resp.Tasks, &repv1.TaskAllocation{TaskGuid: inst.guid, MemoryMb: inst.memoryMB, DiskMb: inst.diskMB})
		}
	}
	sort.Slice(resp.Lrps, func(i, j int) bool {
		a, b := resp.Lrps[i], resp.Lrps[j]
		if a.GetProcessGuid() != b.GetProcessGuid() {
			return a.GetProcessGuid() < b.GetProcessGuid()
		}
		return a.GetIndex() < b.GetIndex()
	})
	sort.Slice(resp.Tasks, func(i, j int) bool { return resp.Tasks[i].GetTaskGuid() < resp.Tasks[j].GetTaskGuid() })
	return resp
}

// availableLocked is the capacity left after every reservation.
func (e *Executor) availableLocked() Capacity {
	c := e.cfg.Capacity
	for _, inst := range e.instances {
		c.MemoryMB -= inst.memoryMB
		c.DiskMB -= inst.diskMB
		c.Containers--
	}
	return c
}

// fitsLocked returns "" when memoryMB and diskMB fit, or Diego's
// "insufficient resources: …" reason.
func (e *Executor) fitsLocked(memoryMB, diskMB int32) string {
	avail := e.availableLocked()
	var short []string
	if avail.Containers < 1 {
		short = append(short, "containers")
	}
	if avail.DiskMB < diskMB {
		short = append(short, "disk")
	}
	if avail.MemoryMB < memoryMB {
		short = append(short, "memory")
	}
	if len(short) == 0 {
		return ""
	}
	return "insufficient resources: " + strings.Join(short, ", ")
}

// stackOf returns the stack name of a root_fs ("preloaded:cflinuxfs4" or
// "cflinuxfs4"), and whether the cell has it.
func (e *Executor) stackOf(rootFS string) (string, bool) {
	name := strings.TrimPrefix(rootFS, "preloaded:")
	return name, e.stacks[name]
}

// Perform reserves resources for the work that fits and starts claiming
// and running it in the background; it answers with what it refused.
// Validation (non-negative resources, guids present) is the caller's.
func (e *Executor) Perform(_ context.Context, req *repv1.PerformRequest) *repv1.PerformResponse {
	resp := &repv1.PerformResponse{}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range req.GetLrps() {
		fail := func(reason string) {
			resp.FailedLrps = append(resp.FailedLrps, &repv1.WorkFailure{ProcessGuid: w.GetProcessGuid(), Index: w.GetIndex(), Reason: reason})
		}
		if reason := e.refuseLocked(w.GetRootFs(), w.GetMemoryMb(), w.GetDiskMb()); reason != "" {
			fail(reason)
			continue
		}
		guid := uuid.NewString()
		inst := e.addLocked(guid, kindLRP, w.GetMemoryMb(), w.GetDiskMb())
		inst.key = &bbsv1.ActualLRPKey{ProcessGuid: w.GetProcessGuid(), Index: w.GetIndex(), Domain: w.GetDomain()}
		inst.ik = &bbsv1.ActualLRPInstanceKey{InstanceGuid: guid, CellId: e.cfg.CellID}
		e.goLocked(inst, func(ctx context.Context) { e.runLRP(ctx, inst) })
	}
	for _, t := range req.GetTasks() {
		def := t.GetDefinition()
		if _, dup := e.instances[t.GetTaskGuid()]; dup {
			continue // already here: the BBS will not start it twice
		}
		reason := e.refuseLocked(def.GetRootFs(), def.GetMemoryMb(), def.GetDiskMb())
		if reason == "" && def.GetPrivileged() {
			reason = reasonPrivileged
		}
		if reason != "" {
			resp.FailedTasks = append(resp.FailedTasks, &repv1.WorkFailure{TaskGuid: t.GetTaskGuid(), Reason: reason})
			continue
		}
		inst := e.addLocked(t.GetTaskGuid(), kindTask, def.GetMemoryMb(), def.GetDiskMb())
		inst.task = t
		e.goLocked(inst, func(ctx context.Context) { e.runTask(ctx, inst) })
	}
	return resp
}

// refuseLocked returns why work cannot be taken, or "".
func (e *Executor) refuseLocked(rootFS string, memoryMB, diskMB int32) string {
	if e.evacuating || e.closed {
		return reasonEvacuating
	}
	if _, ok := e.stackOf(rootFS); !ok {
		return reasonRootFS
	}
	return e.fitsLocked(memoryMB, diskMB)
}

// addLocked reserves a container.
func (e *Executor) addLocked(guid string, k kind, memoryMB, diskMB int32) *instance {
	inst := &instance{
		guid: guid, kind: k, memoryMB: memoryMB, diskMB: diskMB,
		stopCh: make(chan struct{}), done: make(chan struct{}),
	}
	e.instances[guid] = inst
	return inst
}

// goLocked starts inst's goroutine with a context that ends when it is
// asked to stop or the executor closes. When the goroutine returns, the
// instance leaves the map and its resources are free.
func (e *Executor) goLocked(inst *instance, run func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(e.base)
	inst.cancel = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer cancel()
		run(ctx)
		e.mu.Lock()
		delete(e.instances, inst.guid)
		e.mu.Unlock()
		close(inst.done)
	}()
}
