package executor

import (
	"context"
	"fmt"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
)

// Evacuate drains the cell, as Diego's evacuator does: the cell takes no
// more work (State reports evacuating), and every EvacuationPollInterval
// each instance is handed over to the BBS — a running one with
// EvacuateRunningActualLRP, whose keep_container keeps it serving until
// its replacement runs elsewhere, one not yet running with
// EvacuateClaimedActualLRP after stopping it. Tasks run on to their end.
// When no container is left, or after EvacuationTimeout (or when ctx
// ends), whatever remains is stopped: instances are reported with
// EvacuateStoppedActualLRP, tasks completed as failed. Evacuate returns
// once every container is gone, or the stops' own time ran out.
func (e *Executor) Evacuate(ctx context.Context) {
	e.mu.Lock()
	if e.evacuating {
		e.mu.Unlock()
		return
	}
	e.evacuating = true
	e.mu.Unlock()
	started := time.Now()
	e.metrics.evacuating.Set(1)
	defer func() {
		e.metrics.evacuating.Set(0)
		e.metrics.evacuationDuration.Set(time.Since(started).Seconds())
	}()
	e.logger.Info("evacuating", "timeout", e.cfg.EvacuationTimeout)

	ctx, cancel := context.WithTimeout(ctx, e.cfg.EvacuationTimeout)
	defer cancel()
	for {
		e.evacuateRound(ctx)
		if e.count() == 0 {
			e.logger.Info("evacuation complete", "duration", time.Since(started))
			return
		}
		if !wait(ctx, e.cfg.EvacuationPollInterval) {
			break
		}
	}
	left := e.stopAll(stopEvacuated)
	e.logger.Warn("evacuation timed out; stopped what was left", "containers", left)
	e.waitAll(e.cfg.GracePeriod + killWait + 2*reportTimeout)
}

// evacuateRound hands each instance over once.
func (e *Executor) evacuateRound(ctx context.Context) {
	type running struct {
		inst *instance
		net  *bbsv1.ActualLRPNetInfo
	}
	var handover []running
	e.mu.Lock()
	for _, inst := range e.instances {
		if inst.kind != kindLRP || inst.stop != stopNone || inst.state == stateCompleted {
			continue
		}
		if inst.state == stateRunning {
			handover = append(handover, running{inst, inst.netInfo})
			continue
		}
		// Not serving yet: the BBS places it again elsewhere
		// (EvacuateClaimedActualLRP once its container is stopped).
		e.lrpLogger(inst).Info("evacuating an instance that is not running yet")
		inst.requestStopLocked(stopEvacuated)
	}
	e.mu.Unlock()

	for _, r := range handover {
		inst := r.inst
		log := e.lrpLogger(inst)
		resp, err := e.bbs.EvacuateRunningActualLRP(ctx, &bbsv1.EvacuateRunningActualLRPRequest{Key: inst.key, InstanceKey: inst.ik, NetInfo: r.net})
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("cannot evacuate instance; retrying at the next round", "err", err)
			}
			continue
		}
		e.mu.Lock()
		first := !inst.evacKept
		if resp.GetKeepContainer() {
			inst.evacKept = true
		} else {
			inst.requestStopLocked(stopSilent)
		}
		run := inst.run
		e.mu.Unlock()
		if first && resp.GetKeepContainer() {
			log.Info("keeping the instance until its replacement runs")
			e.logs.EmitLog(ctx, logstream.Line{
				AppID: run.LogGUID, SourceType: sourceCell, InstanceIndex: inst.key.GetIndex(), Stream: logstream.Stdout,
				Message:   fmt.Sprintf("Cell %s requesting replacement for instance %s", e.cfg.CellID, inst.guid),
				Timestamp: e.clock.Now(), Tags: run.MetricTags,
			})
		} else if !resp.GetKeepContainer() {
			log.Info("instance replaced or no longer wanted; stopping it")
		}
	}
}

// stopAll asks every container to stop for reason and returns how many
// there were.
func (e *Executor) stopAll(reason stopReason) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, inst := range e.instances {
		inst.requestStopLocked(reason)
	}
	return len(e.instances)
}

// waitAll waits until no container is left, at most d.
func (e *Executor) waitAll(d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		var one *instance
		for _, inst := range e.instances {
			one = inst
			break
		}
		e.mu.Unlock()
		if one == nil {
			return
		}
		select {
		case <-one.done:
		case <-deadline.C:
			e.logger.Warn("containers still stopping", "containers", e.count())
			return
		}
	}
}

// count is the number of containers.
func (e *Executor) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.instances)
}
