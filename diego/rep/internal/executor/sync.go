package executor

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// Sync compares the cell's containers with what the BBS thinks runs on
// this cell, and mends the differences as Diego's rep bulker does:
//
//   - an instance record of this cell without a container (the rep lost
//     it) is removed (RemoveActualLRP, or RemoveEvacuatingActualLRP);
//   - a task running here without a container is completed as failed,
//     "task container does not exist";
//   - a container the BBS has no record of (it was removed or given to
//     another cell) is stopped, silently; so is a task the BBS no longer
//     runs here (cancelled);
//   - a running instance whose record is not RUNNING with its net info and
//     routability is started again (a start report that was lost);
//   - runtime containers without an allocation (left by a failed destroy)
//     are destroyed.
//
// Containers claimed after the BBS was listed are left alone: the lists
// may predate them. Sync does nothing while the cell evacuates.
func (e *Executor) Sync(ctx context.Context) error {
	start := e.clock.Now()
	defer func() { e.metrics.syncDuration.Observe(e.clock.Now().Sub(start).Seconds()) }()
	if e.isEvacuating() {
		return nil
	}
	ctrs, err := e.rt.List(ctx)
	if err != nil {
		return fmt.Errorf("bulk sync: list containers: %w", err)
	}
	lrps, err := e.bbs.ListActualLRPs(ctx, &bbsv1.ListActualLRPsRequest{Filter: &bbsv1.ActualLRPFilter{CellId: e.cfg.CellID}})
	if err != nil {
		return fmt.Errorf("bulk sync: list actual lrps: %w", err)
	}
	tasks, err := e.bbs.ListTasks(ctx, &bbsv1.ListTasksRequest{CellId: e.cfg.CellID})
	if err != nil {
		return fmt.Errorf("bulk sync: list tasks: %w", err)
	}

	// What the BBS has, by instance or task guid.
	ordinary := map[string]*bbsv1.ActualLRP{}
	evac := map[string]*bbsv1.ActualLRP{}
	for _, a := range lrps.GetActualLrps() {
		guid := a.GetInstanceKey().GetInstanceGuid()
		if guid == "" || a.GetInstanceKey().GetCellId() != e.cfg.CellID {
			continue
		}
		if a.GetPresence() == bbsv1.Presence_PRESENCE_EVACUATING {
			evac[guid] = a
		} else if a.GetPresence() != bbsv1.Presence_PRESENCE_SUSPECT {
			ordinary[guid] = a
		}
	}
	running := map[string]*bbsv1.Task{}
	for _, t := range tasks.GetTasks() {
		if t.GetState() == bbsv1.TaskState_TASK_STATE_RUNNING && t.GetCellId() == e.cfg.CellID {
			running[t.GetTaskGuid()] = t
		}
	}

	type restart struct {
		inst *instance
		rec  *bbsv1.ActualLRP
	}
	var restarts []restart
	local := map[string]bool{}
	e.mu.Lock()
	for guid, inst := range e.instances {
		local[guid] = true
		if !inst.claimed || inst.claimedAt.After(start) || inst.stop != stopNone || inst.state == stateCompleted {
			continue
		}
		switch inst.kind {
		case kindLRP:
			rec := ordinary[guid]
			if rec == nil && evac[guid] == nil {
				e.lrpLogger(inst).Info("the bbs has no record of the instance; stopping it")
				inst.requestStopLocked(stopSilent)
				continue
			}
			if rec != nil && inst.state == stateRunning && (rec.GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING ||
				rec.GetRoutable() != inst.routable || !proto.Equal(rec.GetNetInfo(), inst.netInfo)) {
				restarts = append(restarts, restart{inst, rec})
			}
		case kindTask:
			if running[guid] == nil {
				e.taskLogger(inst).Info("the bbs no longer runs the task here; stopping it")
				inst.requestStopLocked(stopCancel)
			}
		}
	}
	e.mu.Unlock()

	var errs []error
	for guid, a := range ordinary {
		if local[guid] {
			continue
		}
		if st := a.GetState(); st != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED && st != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING {
			continue
		}
		e.logger.Info("removing an instance this cell has no container for", "process_guid", a.GetKey().GetProcessGuid(), "index", a.GetKey().GetIndex(), "instance_guid", guid)
		_, err := e.bbs.RemoveActualLRP(ctx, &bbsv1.RemoveActualLRPRequest{ProcessGuid: a.GetKey().GetProcessGuid(), Index: a.GetKey().GetIndex(), InstanceKey: a.GetInstanceKey()})
		errs = append(errs, ignoreGone(err))
	}
	for guid, a := range evac {
		if local[guid] {
			continue
		}
		e.logger.Info("removing an evacuating instance this cell has no container for", "process_guid", a.GetKey().GetProcessGuid(), "index", a.GetKey().GetIndex(), "instance_guid", guid)
		_, err := e.bbs.RemoveEvacuatingActualLRP(ctx, &bbsv1.RemoveEvacuatingActualLRPRequest{Key: a.GetKey(), InstanceKey: a.GetInstanceKey()})
		errs = append(errs, ignoreGone(err))
	}
	for guid := range running {
		if local[guid] {
			continue
		}
		e.logger.Info("failing a task this cell has no container for", "task_guid", guid)
		_, err := e.bbs.CompleteTask(ctx, &bbsv1.CompleteTaskRequest{TaskGuid: guid, CellId: e.cfg.CellID, Failed: true, FailureReason: reasonMissingContainer})
		errs = append(errs, ignoreGone(err))
	}
	for _, r := range restarts {
		if refused := e.startInBBS(ctx, r.inst, e.lrpLogger(r.inst)); refused {
			e.mu.Lock()
			r.inst.requestStopLocked(stopSilent)
			e.mu.Unlock()
		}
	}
	for _, c := range ctrs {
		if local[c.ID] {
			continue
		}
		e.mu.Lock()
		_, now := e.instances[c.ID]
		e.mu.Unlock()
		if now { // reserved since the snapshot: its own
			continue
		}
		e.logger.Info("destroying a container without an allocation", "container", c.ID)
		errs = append(errs, e.rt.Destroy(ctx, c.ID))
	}
	return errors.Join(errs...)
}

// ignoreGone drops the errors of a record that changed meanwhile.
func ignoreGone(err error) error {
	switch bbsv1.ErrorTypeOf(err) {
	case bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION,
		bbsv1.ErrorType_ERROR_TYPE_RUNNING_ON_DIFFERENT_CELL:
		return nil
	}
	return err
}

func (e *Executor) isEvacuating() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.evacuating
}
