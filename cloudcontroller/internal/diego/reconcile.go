package diego

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// The reconciler (CF's "bulker"): at start and every sync interval it
// compares the started processes with the cf-apps LRPs and repairs the
// difference both ways, then marks cf-apps fresh so that BBS convergence
// may retire instances of LRPs that are no longer desired.
//
// Ordering: the BBS is listed before the store. A process started after
// the BBS listing has its new LRP outside the listing, so it is never
// removed by mistake; one stopped after the store listing is removed by
// its handler (or the next pass). Drift is repaired under the process's
// lock from a fresh listing of that process, never from the snapshot.

func (s *Syncer) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	for {
		if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("diego sync pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PassResult counts what one pass repaired. Invalid counts processes
// the BBS refused as invalid (logged; like CF's bulker they do not keep
// the domain stale, or one bad process would stop convergence for all);
// Failed counts every other failure.
type PassResult struct {
	Desired, Updated, Removed, Invalid, Failed int
}

// Reconcile runs one pass.
func (s *Syncer) Reconcile(ctx context.Context) error {
	start := time.Now()
	res, err := s.reconcile(ctx)
	s.metrics.syncDuration.Observe(time.Since(start).Seconds())
	s.metrics.repairs.WithLabelValues("desired").Add(float64(res.Desired))
	s.metrics.repairs.WithLabelValues("updated").Add(float64(res.Updated))
	s.metrics.repairs.WithLabelValues("removed").Add(float64(res.Removed))
	if err != nil {
		s.metrics.syncFailures.Inc()
		return err
	}
	if res.Desired+res.Updated+res.Removed > 0 {
		s.logger.Info("diego sync repaired drift", "desired", res.Desired, "updated", res.Updated, "removed", res.Removed)
	}
	return nil
}

func (s *Syncer) reconcile(ctx context.Context) (PassResult, error) {
	var res PassResult
	infos, err := s.reload(ctx)
	if err != nil {
		return res, err
	}
	byProcess := map[string][]*bbsv1.DesiredLRPSchedulingInfo{}
	for _, info := range infos {
		if p := processOf(info.GetProcessGuid()); p != "" {
			byProcess[p] = append(byProcess[p], info)
		}
	}
	f := store.Filter{}
	f.Where("pa.state = ?", store.AppStarted)
	f.Where("pa.droplet_guid IS NOT NULL")
	procs, _, err := s.deps.Store.ListProcesses(ctx, f)
	if err != nil {
		return res, fmt.Errorf("list started processes: %w", err)
	}
	wanted := make(map[string]bool, len(procs))
	for _, p := range procs {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		wanted[p.GUID] = true
		out, err := s.reconcileProcess(ctx, p.GUID, byProcess[p.GUID])
		switch {
		case errors.Is(err, errNotDesirable):
			delete(wanted, p.GUID)
		case bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST):
			res.Invalid++
			s.logger.Error("diego sync: the BBS refused the process's LRP", "process", p.GUID, "app", p.AppGUID, "err", err)
		case err != nil:
			res.Failed++
			s.logger.Warn("diego sync: process", "process", p.GUID, "app", p.AppGUID, "err", err)
		case out == created:
			res.Desired++
		case out == updated:
			res.Updated++
		}
	}
	for p, infos := range byProcess {
		if wanted[p] {
			continue
		}
		for _, info := range infos {
			if err := s.removeExtra(ctx, p, info.GetProcessGuid()); err != nil {
				res.Failed++
				s.logger.Warn("diego sync: remove", "lrp", info.GetProcessGuid(), "err", err)
				continue
			}
			res.Removed++
		}
	}
	if res.Failed > 0 {
		// Not refreshing cf-apps keeps convergence from retiring
		// instances on the strength of an incomplete pass.
		return res, fmt.Errorf("%d processes could not be synced", res.Failed)
	}
	ttl := uint32(s.cfg.DomainTTL / time.Second)
	if _, err := s.deps.BBS.UpsertDomain(ctx, &bbsv1.UpsertDomainRequest{Domain: Domain, TtlSeconds: ttl}); err != nil {
		return res, fmt.Errorf("upsert domain: %w", err)
	}
	return res, nil
}

// reconcileProcess repairs one started process whose snapshot listing is
// infos.
func (s *Syncer) reconcileProcess(ctx context.Context, guid string, infos []*bbsv1.DesiredLRPSchedulingInfo) (outcome, error) {
	defer s.lockProcess(guid)()
	in, err := s.load(ctx, guid)
	if err != nil {
		return unchanged, err
	}
	if inSync(in, infos) {
		return unchanged, nil
	}
	return s.sync(ctx, in)
}

// removeExtra removes an LRP of a process that should not run, after
// checking under its lock that it still should not.
func (s *Syncer) removeExtra(ctx context.Context, process, lrp string) error {
	defer s.lockProcess(process)()
	if _, err := s.load(ctx, process); !errors.Is(err, errNotDesirable) {
		if err == nil {
			return nil // started meanwhile: its handler desired it
		}
		return err
	}
	return s.removeLRP(ctx, lrp)
}
