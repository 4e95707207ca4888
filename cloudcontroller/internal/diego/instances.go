package diego

import (
	"context"
	"fmt"
	"sync"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/web"
)

// Instances reports a process's actual instances for /stats: the BBS's
// actual LRPs of every version of the process, with each instance's newest
// container gauges from log-cache (one read for the app). Without
// log-cache (unset, down, or no gauges yet) usage is zero.
func (s *Syncer) Instances(ctx context.Context, processGUID string) ([]web.InstanceState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatsTimeout)
	defer cancel()
	p, err := s.deps.Store.GetProcess(ctx, processGUID)
	if err != nil {
		return nil, fmt.Errorf("instances: %w", err)
	}
	var wg sync.WaitGroup
	var gauges map[int]web.InstanceUsage
	wg.Add(1)
	go func() {
		defer wg.Done()
		g, err := s.readGauges(ctx, p.AppGUID)
		if err != nil {
			s.metrics.logCacheErrs.Inc()
			s.logger.Debug("log-cache gauges", "app", p.AppGUID, "err", err)
		}
		gauges = g
	}()
	actuals, err := s.actuals(ctx, processGUID)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("instances: %w", err)
	}
	now := s.deps.Now()
	out := make([]web.InstanceState, 0, len(actuals))
	for _, a := range actuals {
		st := instanceState(a)
		u, ok := gauges[st.Index]
		if !ok || st.State == web.InstanceDown {
			u = web.InstanceUsage{Time: now}
		}
		st.Usage = &u
		out = append(out, st)
	}
	return out, nil
}

// actuals returns the best actual LRP per index over the process's
// versions: RUNNING before any other state, then ORDINARY presence before
// EVACUATING and SUSPECT copies.
func (s *Syncer) actuals(ctx context.Context, processGUID string) (map[int]*bbsv1.ActualLRP, error) {
	versions, err := s.versions(ctx, processGUID)
	if err != nil {
		return nil, err
	}
	best := map[int]*bbsv1.ActualLRP{}
	for _, v := range versions {
		resp, err := s.deps.BBS.ListActualLRPs(ctx, &bbsv1.ListActualLRPsRequest{Filter: &bbsv1.ActualLRPFilter{ProcessGuid: v}})
		if err != nil {
			return nil, fmt.Errorf("list actual lrps: %w", err)
		}
		for _, a := range resp.GetActualLrps() {
			i := int(a.GetKey().GetIndex())
			if cur, ok := best[i]; !ok || rank(a) < rank(cur) {
				best[i] = a
			}
		}
	}
	return best, nil
}

func rank(a *bbsv1.ActualLRP) int {
	r := 0
	if a.GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING {
		r += 10
	}
	if a.GetPresence() != bbsv1.Presence_PRESENCE_ORDINARY && a.GetPresence() != bbsv1.Presence_PRESENCE_UNSPECIFIED {
		r++
	}
	return r
}

// instanceState maps an actual LRP to CF's instance: RUNNING; UNCLAIMED
// and CLAIMED are STARTING (with the placement error as details, which
// cf app shows); CRASHED.
func instanceState(a *bbsv1.ActualLRP) web.InstanceState {
	st := web.InstanceState{Index: int(a.GetKey().GetIndex()), Host: a.GetNetInfo().GetAddress(), Details: a.GetPlacementError()}
	if a.GetSince() > 0 {
		st.Since = timeFromNanos(a.GetSince())
	}
	switch a.GetState() {
	case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING:
		st.State = web.InstanceRunning
	case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED:
		st.State = web.InstanceCrashed
		if st.Details == "" {
			st.Details = a.GetCrashReason()
		}
	case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED:
		st.State = web.InstanceStarting
	default:
		st.State = web.InstanceDown
	}
	for _, pm := range a.GetNetInfo().GetPorts() {
		st.Ports = append(st.Ports, web.InstancePort{
			External: int(pm.GetHostPort()), Internal: int(pm.GetContainerPort()),
			ExternalTLSProxy: int(pm.GetHostTlsProxyPort()), InternalTLSProxy: int(pm.GetContainerTlsProxyPort()),
		})
	}
	if st.State == web.InstanceRunning {
		r := a.GetRoutable()
		st.Routable = &r
	}
	return st
}
