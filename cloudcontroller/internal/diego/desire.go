package diego

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Desire, Remove and StopInstance: the web package's Desirer.

// lockProcess serialises the changes of one process within this Syncer
// (two concurrent Desires would each make a version and remove the
// other's). It returns the unlock.
func (s *Syncer) lockProcess(guid string) func() {
	h := fnv.New32a()
	h.Write([]byte(guid))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// staleIndexAfter is how old the index may be before a process missing
// from it makes the Syncer list the BBS again.
const staleIndexAfter = 5 * time.Second

// Desire creates or updates the desired LRP of p. A process that should
// not run (its app is stopped or has no staged droplet) is removed.
func (s *Syncer) Desire(ctx context.Context, p store.Process) error {
	defer s.lockProcess(p.GUID)()
	in, err := s.load(ctx, p.GUID)
	if errors.Is(err, errNotDesirable) {
		return s.removeLocked(ctx, p.GUID)
	}
	if err != nil {
		return fmt.Errorf("desire %s: %w", p.GUID, err)
	}
	_, err = s.sync(ctx, in)
	return err
}

// sync lists the BBS's versions of in's process and applies in to them;
// the caller holds the process's lock.
func (s *Syncer) sync(ctx context.Context, in lrpInput) (outcome, error) {
	p := in.Process.GUID
	versions, err := s.versions(ctx, p)
	if err != nil {
		return unchanged, fmt.Errorf("desire %s: %w", p, err)
	}
	var infos []*bbsv1.DesiredLRPSchedulingInfo
	if len(versions) > 0 {
		resp, err := s.deps.BBS.ListDesiredLRPSchedulingInfos(ctx, &bbsv1.ListDesiredLRPSchedulingInfosRequest{
			Filter: &bbsv1.DesiredLRPFilter{ProcessGuids: versions}})
		if err != nil {
			return unchanged, fmt.Errorf("desire %s: list: %w", p, err)
		}
		infos = resp.GetSchedulingInfos()
	}
	if in.Rollout.MaxInFlight > 0 {
		_, out, err := s.rollStep(ctx, in, infos)
		return out, err
	}
	return s.apply(ctx, in, infos)
}

// inSync reports whether infos (a listing of the process's versions) are
// exactly one version matching in.
func inSync(in lrpInput, infos []*bbsv1.DesiredLRPSchedulingInfo) bool {
	if len(infos) != 1 {
		return false
	}
	want := buildLRP(in, "")
	run, _ := parseAnnotation(infos[0].GetAnnotation())
	return run == want.RunHash && update(infos[0], want) == nil
}

// outcome is what apply did.
type outcome int

const (
	unchanged outcome = iota
	created
	updated
)

// apply makes the BBS hold exactly one version of in's process, matching
// it: the existing version with the same run definition (updated in place
// when instances, routes or tags differ), or a new one; other versions are
// removed after.
func (s *Syncer) apply(ctx context.Context, in lrpInput, infos []*bbsv1.DesiredLRPSchedulingInfo) (outcome, error) {
	want := buildLRP(in, "")
	var current *bbsv1.DesiredLRPSchedulingInfo
	for _, info := range infos {
		if run, _ := parseAnnotation(info.GetAnnotation()); run == want.RunHash && current == nil {
			current = info
		}
	}
	res := unchanged
	if current == nil {
		want = buildLRP(in, uuid.NewString())
		if _, err := s.deps.BBS.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: want.LRP}); err != nil {
			return unchanged, fmt.Errorf("desire lrp %s: %w", want, err)
		}
		s.indexAdd(want.LRP.GetProcessGuid())
		s.logger.Info("desired lrp", "process", in.Process.GUID, "lrp", want.LRP.GetProcessGuid(), "instances", want.LRP.GetInstances())
		res = created
	} else if u := update(current, want); u != nil {
		if _, err := s.deps.BBS.UpdateDesiredLRP(ctx, &bbsv1.UpdateDesiredLRPRequest{ProcessGuid: current.GetProcessGuid(), Update: u}); err != nil {
			return unchanged, fmt.Errorf("update lrp %s: %w", current.GetProcessGuid(), err)
		}
		res = updated
	}
	keep := want.LRP.GetProcessGuid()
	if current != nil {
		keep = current.GetProcessGuid()
	}
	for _, info := range infos {
		if g := info.GetProcessGuid(); g != keep {
			if err := s.removeLRP(ctx, g); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// update returns the change that makes have match want, or nil.
func update(have *bbsv1.DesiredLRPSchedulingInfo, want builtLRP) *bbsv1.DesiredLRPUpdate {
	w := want.LRP
	_, haveTags := parseAnnotation(have.GetAnnotation())
	sameRoutes := bytes.Equal(have.GetRoutes()["cf-router"], w.GetRoutes()["cf-router"]) && len(have.GetRoutes()) == len(w.GetRoutes())
	if have.GetInstances() == w.GetInstances() && sameRoutes && haveTags == want.TagsHash {
		return nil
	}
	u := &bbsv1.DesiredLRPUpdate{}
	if have.GetInstances() != w.GetInstances() {
		n := w.GetInstances()
		u.Instances = &n
	}
	if !sameRoutes {
		u.Routes, u.SetRoutes = maps.Clone(w.GetRoutes()), true
	}
	if haveTags != want.TagsHash {
		ann := annotation(want.RunHash, want.TagsHash)
		u.Annotation = &ann
		u.MetricTags, u.SetMetricTags = maps.Clone(w.GetMetricTags()), true
	}
	return u
}

// Remove removes every version of the process's LRP.
func (s *Syncer) Remove(ctx context.Context, processGUID string) error {
	defer s.lockProcess(processGUID)()
	return s.removeLocked(ctx, processGUID)
}

func (s *Syncer) removeLocked(ctx context.Context, processGUID string) error {
	versions, err := s.versions(ctx, processGUID)
	if err != nil {
		return fmt.Errorf("remove %s: %w", processGUID, err)
	}
	for _, v := range versions {
		if err := s.removeLRP(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// removeLRP removes one LRP; one already gone is fine.
func (s *Syncer) removeLRP(ctx context.Context, lrp string) error {
	_, err := s.deps.BBS.RemoveDesiredLRP(ctx, &bbsv1.RemoveDesiredLRPRequest{ProcessGuid: lrp})
	if err != nil && !bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND) {
		return fmt.Errorf("remove lrp %s: %w", lrp, err)
	}
	s.indexRemove(lrp)
	s.logger.Info("removed lrp", "lrp", lrp)
	return nil
}

// StopInstance retires instance index of the process; the BBS starts it
// again.
func (s *Syncer) StopInstance(ctx context.Context, processGUID string, index int) error {
	versions, err := s.versions(ctx, processGUID)
	if err != nil {
		return fmt.Errorf("stop instance: %w", err)
	}
	for _, v := range versions {
		_, err := s.deps.BBS.RetireActualLRP(ctx, &bbsv1.RetireActualLRPRequest{
			Key: &bbsv1.ActualLRPKey{ProcessGuid: v, Index: int32(index), Domain: Domain}})
		if err != nil && !bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND) {
			return fmt.Errorf("retire %s/%d: %w", v, index, err)
		}
	}
	return nil
}

// versions returns the LRP process guids of a process from the index,
// listing the BBS first when the index was never loaded, or when it does
// not know the process and is older than staleIndexAfter.
func (s *Syncer) versions(ctx context.Context, processGUID string) ([]string, error) {
	s.mu.Lock()
	vs := slices.Sorted(maps.Keys(s.index[processGUID]))
	fresh := !s.loadedAt.IsZero() && (len(vs) > 0 || s.deps.Now().Sub(s.loadedAt) < staleIndexAfter)
	s.mu.Unlock()
	if fresh {
		return vs, nil
	}
	if _, err := s.reload(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.index[processGUID])), nil
}

// reload lists the cf-apps LRPs and makes the listing the index.
func (s *Syncer) reload(ctx context.Context) ([]*bbsv1.DesiredLRPSchedulingInfo, error) {
	resp, err := s.deps.BBS.ListDesiredLRPSchedulingInfos(ctx, &bbsv1.ListDesiredLRPSchedulingInfosRequest{
		Filter: &bbsv1.DesiredLRPFilter{Domain: Domain}})
	if err != nil {
		return nil, fmt.Errorf("list desired lrps: %w", err)
	}
	idx := map[string]map[string]bool{}
	for _, info := range resp.GetSchedulingInfos() {
		if p := processOf(info.GetProcessGuid()); p != "" {
			if idx[p] == nil {
				idx[p] = map[string]bool{}
			}
			idx[p][info.GetProcessGuid()] = true
		}
	}
	s.mu.Lock()
	s.index, s.loadedAt = idx, s.deps.Now()
	s.mu.Unlock()
	return resp.GetSchedulingInfos(), nil
}

func (s *Syncer) indexAdd(lrp string) {
	p := processOf(lrp)
	if p == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index[p] == nil {
		s.index[p] = map[string]bool{}
	}
	s.index[p][lrp] = true
}

func (s *Syncer) indexRemove(lrp string) {
	p := processOf(lrp)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.index[p], lrp)
	if len(s.index[p]) == 0 {
		delete(s.index, p)
	}
}
