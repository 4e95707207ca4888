package diego

import (
	"context"
	"errors"
	"fmt"
	"sort"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Rolling deployments. While an ACTIVE deployment moves a process to a
// new run definition (store.RolloutFor > 0), the process has two LRP
// versions instead of one: the new version grows max_in_flight instances
// at a time beyond those already RUNNING, and the old version shrinks to
// (instances − new RUNNING), so the app keeps serving from the old
// instances until new ones run (both versions carry the process's routes).
// The new version's guid is the deployment's guid.
// Desire and the reconciler take one step; the Cloud Controller's
// deployment updater calls Roll every few seconds and finalizes the
// deployment once Roll reports done; the next Desire (no rollout any
// more) leaves the one new version at full scale.

// Roll takes one step of the process's rolling deployment and reports
// whether it is complete: every instance of the new version RUNNING and
// the old versions gone. A process without an ACTIVE deployment is done.
func (s *Syncer) Roll(ctx context.Context, p store.Process) (bool, error) {
	defer s.lockProcess(p.GUID)()
	in, err := s.load(ctx, p.GUID)
	if errors.Is(err, errNotDesirable) {
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("roll %s: %w", p.GUID, err)
	}
	if in.Rollout.MaxInFlight == 0 {
		return true, nil
	}
	versions, err := s.versions(ctx, p.GUID)
	if err != nil {
		return false, fmt.Errorf("roll %s: %w", p.GUID, err)
	}
	var infos []*bbsv1.DesiredLRPSchedulingInfo
	if len(versions) > 0 {
		resp, err := s.deps.BBS.ListDesiredLRPSchedulingInfos(ctx, &bbsv1.ListDesiredLRPSchedulingInfosRequest{
			Filter: &bbsv1.DesiredLRPFilter{ProcessGuids: versions}})
		if err != nil {
			return false, fmt.Errorf("roll %s: list: %w", p.GUID, err)
		}
		infos = resp.GetSchedulingInfos()
	}
	done, _, err := s.rollStep(ctx, in, infos)
	return done, err
}

// rollStep applies one step of a rollout to the listed versions; the
// caller holds the process's lock.
func (s *Syncer) rollStep(ctx context.Context, in lrpInput, infos []*bbsv1.DesiredLRPSchedulingInfo) (bool, outcome, error) {
	// The new version is named by the deployment, so that a rolling
	// restart (same run definition) gets new instances too, and a later
	// sync without the rollout keeps it (its run hash matches).
	version := in.Rollout.DeploymentGUID
	want := buildLRP(in, version)
	total := int32(in.Process.Instances)
	step := int32(in.Rollout.MaxInFlight)
	var current *bbsv1.DesiredLRPSchedulingInfo
	var olds []*bbsv1.DesiredLRPSchedulingInfo
	for _, info := range infos {
		if info.GetProcessGuid() == want.LRP.GetProcessGuid() {
			current = info
		} else {
			olds = append(olds, info)
		}
	}
	if current == nil {
		want.LRP.Instances = min(step, total)
		if _, err := s.deps.BBS.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: want.LRP}); err != nil {
			return false, unchanged, fmt.Errorf("desire lrp %s: %w", want, err)
		}
		s.indexAdd(want.LRP.GetProcessGuid())
		s.logger.Info("rolling: desired new version", "process", in.Process.GUID, "lrp", want.LRP.GetProcessGuid(), "instances", want.LRP.GetInstances())
		return total == 0 && len(olds) == 0, created, nil
	}
	running, err := s.runningInstances(ctx, current.GetProcessGuid(), total)
	if err != nil {
		return false, unchanged, err
	}
	res := unchanged
	want.LRP.Instances = min(total, running+step)
	if u := update(current, want); u != nil {
		if _, err := s.deps.BBS.UpdateDesiredLRP(ctx, &bbsv1.UpdateDesiredLRPRequest{ProcessGuid: current.GetProcessGuid(), Update: u}); err != nil {
			return false, unchanged, fmt.Errorf("update lrp %s: %w", current.GetProcessGuid(), err)
		}
		res = updated
	}
	// The old version keeps (total − new RUNNING) instances; older ones
	// than that go.
	oldTarget := max(total-running, 0)
	sort.Slice(olds, func(i, j int) bool { return olds[i].GetInstances() > olds[j].GetInstances() })
	for i, old := range olds {
		if i > 0 || oldTarget == 0 {
			if err := s.removeLRP(ctx, old.GetProcessGuid()); err != nil {
				return false, res, err
			}
			continue
		}
		if old.GetInstances() > oldTarget {
			n := oldTarget
			if _, err := s.deps.BBS.UpdateDesiredLRP(ctx, &bbsv1.UpdateDesiredLRPRequest{ProcessGuid: old.GetProcessGuid(),
				Update: &bbsv1.DesiredLRPUpdate{Instances: &n}}); err != nil {
				return false, res, fmt.Errorf("scale down lrp %s: %w", old.GetProcessGuid(), err)
			}
			res = updated
		}
	}
	if res != unchanged {
		s.logger.Info("rolling: step", "process", in.Process.GUID, "new_running", running, "new_desired", want.LRP.GetInstances(), "old_desired", oldTarget)
	}
	return running >= total && oldTarget == 0, res, nil
}

// runningInstances counts the indexes below total with a RUNNING actual
// LRP of one LRP version.
func (s *Syncer) runningInstances(ctx context.Context, lrp string, total int32) (int32, error) {
	resp, err := s.deps.BBS.ListActualLRPs(ctx, &bbsv1.ListActualLRPsRequest{Filter: &bbsv1.ActualLRPFilter{ProcessGuid: lrp}})
	if err != nil {
		return 0, fmt.Errorf("list actual lrps: %w", err)
	}
	seen := map[int32]bool{}
	for _, a := range resp.GetActualLrps() {
		if i := a.GetKey().GetIndex(); i < total && a.GetState() == bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING {
			seen[i] = true
		}
	}
	return int32(len(seen)), nil
}
