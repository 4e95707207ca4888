package executor

import (
	"context"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// StopLRPInstance stops an instance: its app gets SIGTERM, SIGKILL after
// the grace period, then the container is destroyed and the instance
// removed from the BBS (EvacuateStoppedActualLRP while evacuating). It
// returns once the stop is under way. An instance this cell does not have
// is removed from the BBS at once, as the bulk sync would.
func (e *Executor) StopLRPInstance(ctx context.Context, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey) error {
	e.mu.Lock()
	inst := e.instances[ik.GetInstanceGuid()]
	if inst != nil && inst.kind == kindLRP && inst.key.GetProcessGuid() == key.GetProcessGuid() && inst.key.GetIndex() == key.GetIndex() {
		if inst.requestStopLocked(stopRemove) {
			e.lrpLogger(inst).Info("stopping instance")
		}
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	_, err := e.bbs.RemoveActualLRP(ctx, &bbsv1.RemoveActualLRPRequest{ProcessGuid: key.GetProcessGuid(), Index: key.GetIndex(), InstanceKey: ik})
	return ignoreGone(err)
}

// CancelTask stops a task's process (SIGTERM, then SIGKILL) and destroys
// its container, without completing it: the BBS completed it as cancelled
// before asking. A task this cell does not have is not an error.
func (e *Executor) CancelTask(_ context.Context, guid string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if inst := e.instances[guid]; inst != nil && inst.kind == kindTask {
		if inst.requestStopLocked(stopCancel) {
			e.taskLogger(inst).Info("cancelling task")
		}
	}
	return nil
}
