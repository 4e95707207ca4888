package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// Recover rebuilds the allocations from the containers a previous rep
// left (their labels) and reattaches to their processes. Containers whose
// labels do not decode are destroyed. Call it once, before Run and before
// taking work; the first bulk sync then destroys what the BBS no longer
// wants.
func (e *Executor) Recover(ctx context.Context) error {
	ctrs, err := e.rt.List(ctx)
	if err != nil {
		return fmt.Errorf("recover: list containers: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ctr := range ctrs {
		id, err := decodeLabels(ctr.Labels)
		if err == nil && id.guid != ctr.ID {
			err = fmt.Errorf("guid label %q differs from the container id", id.guid)
		}
		if err == nil && e.instances[ctr.ID] != nil {
			err = errors.New("duplicate container")
		}
		if err != nil {
			if !errors.Is(err, errNotOurs) {
				e.logger.Warn("destroying a container with unreadable labels", "container", ctr.ID, "err", err)
			} else {
				e.logger.Warn("destroying a container the rep did not create", "container", ctr.ID)
			}
			e.wg.Go(func() {
				if err := e.rt.Destroy(ctx, ctr.ID); err != nil {
					e.logger.Warn("cannot destroy container", "container", ctr.ID, "err", err)
				}
			})
			continue
		}
		inst := e.addLocked(id.guid, id.kind, id.memoryMB, id.diskMB)
		inst.ctr, inst.run = ctr, id.run
		inst.claimed, inst.claimedAt = true, e.clock.Now()
		switch id.kind {
		case kindLRP:
			inst.key = id.key
			inst.ik = &bbsv1.ActualLRPInstanceKey{InstanceGuid: id.guid, CellId: e.cfg.CellID}
			inst.state = stateCreated
			hasApp := slices.Contains(ctr.Processes, appProcess)
			e.goLocked(inst, func(ctx context.Context) { e.recoverLRP(ctx, inst, hasApp) })
		case kindTask:
			inst.state = stateRunning
			hasProc := slices.Contains(ctr.Processes, taskProcess)
			e.goLocked(inst, func(ctx context.Context) { e.recoverTask(ctx, inst, hasProc) })
		}
		e.logger.Info("recovered container", "container", ctr.ID, "kind", id.kind.String(), "process_running", slices.Contains(ctr.Processes, appProcess) || slices.Contains(ctr.Processes, taskProcess))
	}
	return nil
}

// attach reconnects to a process of a recovered container. A process the
// runtime no longer lists may still have an exit status to collect, so
// Attach is tried either way.
func (e *Executor) attach(ctx context.Context, containerID, processID string, listed bool, logs *logstream.Streamer) (runtime.Process, error) {
	proc, err := e.rt.Attach(ctx, containerID, processID, logs.Stdout(), logs.Stderr())
	if err != nil && !listed && errors.Is(err, runtime.ErrNotFound) {
		return nil, fmt.Errorf("process %s is not running: %w", processID, err)
	}
	return proc, err
}
