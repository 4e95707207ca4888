package lrps

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// StartRequest is a cell's report that an instance is healthy.
type StartRequest struct {
	Key         *bbsv1.ActualLRPKey
	InstanceKey *bbsv1.ActualLRPInstanceKey
	NetInfo     *bbsv1.ActualLRPNetInfo
	// Routable is false while the instance's readiness check fails.
	Routable bool
	// Zone is the availability zone of the cell.
	Zone string
}

// ActualLRPs lists the actual LRP records of every presence matching f
// (nil matches all), ordered by process guid, index and presence.
func (s *Store) ActualLRPs(ctx context.Context, f *bbsv1.ActualLRPFilter) ([]*bbsv1.ActualLRP, error) {
	var (
		conds []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.GetDomain() != "" {
		add("domain = $%d", f.GetDomain())
	}
	if f.GetCellId() != "" {
		add("cell_id = $%d", f.GetCellId())
	}
	if f.GetProcessGuid() != "" {
		add("process_guid = $%d", f.GetProcessGuid())
	}
	if f != nil && f.Index != nil {
		add("instance_index = $%d", f.GetIndex())
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := s.read.Query(ctx, `SELECT `+actualColumns+` FROM actual_lrps`+where+
		` ORDER BY process_guid, instance_index, presence`, args...)
	if err != nil {
		return nil, fmt.Errorf("list actual lrps: %w", err)
	}
	recs, err := collectActuals(rows)
	if err != nil {
		return nil, fmt.Errorf("list actual lrps: %w", err)
	}
	if recs == nil {
		recs = []*bbsv1.ActualLRP{}
	}
	return recs, nil
}

func validInstanceKey(ik *bbsv1.ActualLRPInstanceKey) error {
	if ik.GetInstanceGuid() == "" || ik.GetCellId() == "" {
		return errInvalidRequest("instance_key needs instance_guid and cell_id")
	}
	return nil
}

func validKey(key *bbsv1.ActualLRPKey) error {
	if key.GetProcessGuid() == "" || key.GetIndex() < 0 {
		return errInvalidRequest("key needs a process_guid and an index >= 0")
	}
	return nil
}

// sameDomain reports whether a caller's key agrees with a record's domain;
// an empty domain in the request matches any.
func sameDomain(key *bbsv1.ActualLRPKey, a *bbsv1.ActualLRP) bool {
	return key.GetDomain() == "" || key.GetDomain() == a.GetKey().GetDomain()
}

// ClaimActualLRP records that the cell in ik accepted an instance
// (UNCLAIMED → CLAIMED). Claiming again with the same instance key changes
// nothing; a claim by the container of a SUSPECT record is ignored, as
// Diego does. No ordinary record: RESOURCE_NOT_FOUND; a state or instance
// that does not allow it: INVALID_STATE_TRANSITION.
func (s *Store) ClaimActualLRP(ctx context.Context, guid string, index int32, ik *bbsv1.ActualLRPInstanceKey) (models.Result, error) {
	if err := validInstanceKey(ik); err != nil {
		return models.Result{}, err
	}
	return s.slotOp(ctx, "claim actual lrp", guid, index, func(w writer, sl slot) (models.Result, error) {
		return s.claim(ctx, w, sl, guid, index, ik)
	})
}

func (s *Store) claim(ctx context.Context, w writer, sl slot, guid string, index int32, ik *bbsv1.ActualLRPInstanceKey) (models.Result, error) {
	var res models.Result
	if sl.susp != nil && sameInstance(sl.susp.GetInstanceKey(), ik) {
		return res, nil
	}
	before := sl.ord
	if before == nil {
		return res, errNotFound("actual lrp %s/%d not found", guid, index)
	}
	if before.GetState() == claimed && sameInstance(before.GetInstanceKey(), ik) {
		return res, nil
	}
	if !models.AllowsTransition(before, ik, claimed) {
		return res, errInvalidTransition("actual lrp %s/%d cannot be claimed by %s/%s: it is %s",
			guid, index, ik.GetCellId(), ik.GetInstanceGuid(), describe(before))
	}
	after := clone(before)
	after.State = claimed
	after.InstanceKey = proto.Clone(ik).(*bbsv1.ActualLRPInstanceKey)
	after.NetInfo = nil
	after.PlacementError = ""
	after.Since = s.now().UnixNano()
	after.ModificationTag = bumped(before.GetModificationTag())
	canon(after)
	if err := w.update(ctx, after); err != nil {
		return res, err
	}
	res.Events = append(res.Events, models.ActualChanged(before, after))
	return res, nil
}

// StartActualLRP records that an instance is healthy (→ RUNNING), creating
// a RUNNING record when the slot has no ordinary one, as Diego does. It
// clears the placement error. Starting the same RUNNING instance again
// updates net info, routable and zone, and changes nothing (no event) when
// they are unchanged. A start by the container of a SUSPECT record is
// ignored. When the ordinary instance runs, the slot's SUSPECT and
// EVACUATING records are removed: they were only kept until it did.
func (s *Store) StartActualLRP(ctx context.Context, req StartRequest) (models.Result, error) {
	if err := validKey(req.Key); err != nil {
		return models.Result{}, err
	}
	if err := validInstanceKey(req.InstanceKey); err != nil {
		return models.Result{}, err
	}
	guid, index := req.Key.GetProcessGuid(), req.Key.GetIndex()
	return s.slotOp(ctx, "start actual lrp", guid, index, func(w writer, sl slot) (models.Result, error) {
		return s.start(ctx, w, sl, req)
	})
}

func (s *Store) start(ctx context.Context, w writer, sl slot, req StartRequest) (models.Result, error) {
	var res models.Result
	guid, index := req.Key.GetProcessGuid(), req.Key.GetIndex()
	if sl.susp != nil && sameInstance(sl.susp.GetInstanceKey(), req.InstanceKey) {
		return res, nil
	}
	now := s.now().UnixNano()
	if before := sl.ord; before == nil {
		after := canon(&bbsv1.ActualLRP{
			Key:              proto.Clone(req.Key).(*bbsv1.ActualLRPKey),
			InstanceKey:      proto.Clone(req.InstanceKey).(*bbsv1.ActualLRPInstanceKey),
			NetInfo:          cloneNet(req.NetInfo),
			State:            running,
			Presence:         ordinary,
			Since:            now,
			ModificationTag:  newTag(),
			Routable:         req.Routable,
			AvailabilityZone: req.Zone,
		})
		created, err := w.insert(ctx, after)
		if err != nil {
			return res, err
		}
		if !created {
			return res, errRaced
		}
		res.Events = append(res.Events, models.ActualCreated(after))
	} else {
		if !sameDomain(req.Key, before) {
			return res, errInvalidTransition("actual lrp %s/%d is in domain %q, not %q", guid, index, before.GetKey().GetDomain(), req.Key.GetDomain())
		}
		if before.GetState() == running && sameInstance(before.GetInstanceKey(), req.InstanceKey) &&
			proto.Equal(before.GetNetInfo(), cloneNet(req.NetInfo)) && before.GetRoutable() == req.Routable &&
			before.GetAvailabilityZone() == req.Zone {
			return res, nil
		}
		if !models.AllowsTransition(before, req.InstanceKey, running) {
			return res, errInvalidTransition("actual lrp %s/%d cannot be started by %s/%s: it is %s",
				guid, index, req.InstanceKey.GetCellId(), req.InstanceKey.GetInstanceGuid(), describe(before))
		}
		after := clone(before)
		after.InstanceKey = proto.Clone(req.InstanceKey).(*bbsv1.ActualLRPInstanceKey)
		after.NetInfo = cloneNet(req.NetInfo)
		after.Routable = req.Routable
		after.AvailabilityZone = req.Zone
		after.PlacementError = ""
		if before.GetState() != running || !sameInstance(before.GetInstanceKey(), req.InstanceKey) {
			after.Since = now
		}
		after.State = running
		after.ModificationTag = bumped(before.GetModificationTag())
		canon(after)
		if err := w.update(ctx, after); err != nil {
			return res, err
		}
		res.Events = append(res.Events, models.ActualChanged(before, after))
	}
	var gone []*bbsv1.ActualLRP
	for _, a := range []*bbsv1.ActualLRP{sl.evac, sl.susp} {
		if a != nil {
			gone = append(gone, a)
			res.Events = append(res.Events, models.ActualRemoved(a))
		}
	}
	return res, w.delete(ctx, gone...)
}

func cloneNet(n *bbsv1.ActualLRPNetInfo) *bbsv1.ActualLRPNetInfo {
	if n == nil || proto.Size(n) == 0 {
		return nil
	}
	return proto.Clone(n).(*bbsv1.ActualLRPNetInfo)
}

// CrashActualLRP records that an instance exited or failed its health
// check. Only the CLAIMED or RUNNING ordinary instance ik may be crashed
// (else INVALID_STATE_TRANSITION; no record: RESOURCE_NOT_FOUND). Its crash
// count advances by models.NextCrashCount. While the restart policy
// restarts at once it becomes UNCLAIMED (instance key and net info
// cleared) and its placement is requested; otherwise it becomes CRASHED
// until convergence restarts it. A crash reported by the container of a
// SUSPECT record removes that record.
func (s *Store) CrashActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey, reason string) (models.Result, error) {
	if err := validKey(key); err != nil {
		return models.Result{}, err
	}
	if err := validInstanceKey(ik); err != nil {
		return models.Result{}, err
	}
	var res models.Result
	err := s.inTx(ctx, "crash actual lrp", func(tx pgx.Tx) error {
		sl, err := lockSlot(ctx, tx, key.GetProcessGuid(), key.GetIndex())
		if err != nil {
			return err
		}
		if sl.susp != nil && sameInstance(sl.susp.GetInstanceKey(), ik) {
			res.Events = append(res.Events, models.ActualRemoved(sl.susp))
			return deleteActuals(ctx, tx, sl.susp)
		}
		r, err := s.crash(ctx, tx, sl.ord, key, ik, reason)
		res = r
		return err
	})
	if err != nil {
		return models.Result{}, err
	}
	return res, nil
}

// crash moves the locked ordinary record before to CRASHED or, when the
// policy restarts it at once, UNCLAIMED with an auction.
func (s *Store) crash(ctx context.Context, tx pgx.Tx, before *bbsv1.ActualLRP, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey, reason string) (models.Result, error) {
	var res models.Result
	if before == nil {
		return res, errNotFound("actual lrp %s/%d not found", key.GetProcessGuid(), key.GetIndex())
	}
	// Diego's table: only the container holding a CLAIMED or RUNNING
	// instance may crash it.
	st := before.GetState()
	if (st != claimed && st != running) || !sameInstance(before.GetInstanceKey(), ik) || !sameDomain(key, before) {
		return res, errInvalidTransition("actual lrp %s/%d cannot be crashed by %s/%s: it is %s",
			key.GetProcessGuid(), key.GetIndex(), ik.GetCellId(), ik.GetInstanceGuid(), describe(before))
	}
	now := s.now()
	after := clone(before)
	after.CrashCount = models.NextCrashCount(before.GetCrashCount(), st == running, timeOf(before.GetSince()), now)
	after.CrashReason = truncate(reason)
	after.InstanceKey = nil
	after.NetInfo = nil
	after.Routable = false
	after.Since = now.UnixNano()
	after.ModificationTag = bumped(before.GetModificationTag())
	after.State = crashed
	restart := s.restart.RestartImmediately(after.GetCrashCount())
	if restart {
		after.State = unclaimed
	}
	canon(after)
	if err := updateActuals(ctx, tx, after); err != nil {
		return res, err
	}
	res.Events = append(res.Events, models.ActualChanged(before, after))
	if restart {
		auctions, err := auctionFor(ctx, tx, after.GetKey())
		if err != nil {
			return res, err
		}
		res.LRPAuctions = auctions
	}
	return res, nil
}

// FailActualLRP records why an UNCLAIMED instance could not be placed.
// Any other state: INVALID_STATE_TRANSITION.
func (s *Store) FailActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, placementError string) (models.Result, error) {
	if err := validKey(key); err != nil {
		return models.Result{}, err
	}
	var res models.Result
	err := s.inTx(ctx, "fail actual lrp", func(tx pgx.Tx) error {
		sl, err := lockSlot(ctx, tx, key.GetProcessGuid(), key.GetIndex())
		if err != nil {
			return err
		}
		before := sl.ord
		if before == nil {
			return errNotFound("actual lrp %s/%d not found", key.GetProcessGuid(), key.GetIndex())
		}
		if before.GetState() != unclaimed {
			return errInvalidTransition("actual lrp %s/%d cannot be failed: it is %s", key.GetProcessGuid(), key.GetIndex(), describe(before))
		}
		after := clone(before)
		after.PlacementError = truncate(placementError)
		after.Since = s.now().UnixNano()
		after.ModificationTag = bumped(before.GetModificationTag())
		if err := updateActuals(ctx, tx, after); err != nil {
			return err
		}
		res.Events = append(res.Events, models.ActualChanged(before, after))
		return nil
	})
	if err != nil {
		return models.Result{}, err
	}
	return res, nil
}

// RemoveActualLRP deletes an ordinary record, typically after its cell
// stopped the instance. With a non-empty ik the record must be that
// instance's. No such record: RESOURCE_NOT_FOUND.
func (s *Store) RemoveActualLRP(ctx context.Context, guid string, index int32, ik *bbsv1.ActualLRPInstanceKey) (models.Result, error) {
	var res models.Result
	err := s.inTx(ctx, "remove actual lrp", func(tx pgx.Tx) error {
		sl, err := lockSlot(ctx, tx, guid, index)
		if err != nil {
			return err
		}
		a := sl.ord
		if a == nil || (!models.EmptyInstanceKey(ik) && !sameInstance(a.GetInstanceKey(), ik)) {
			return errNotFound("actual lrp %s/%d of instance %s/%s not found", guid, index, ik.GetCellId(), ik.GetInstanceGuid())
		}
		res.Events = append(res.Events, models.ActualRemoved(a))
		return deleteActuals(ctx, tx, a)
	})
	if err != nil {
		return models.Result{}, err
	}
	return res, nil
}

// RetireActualLRP gets rid of an ordinary instance: UNCLAIMED and CRASHED
// records are deleted; CLAIMED and RUNNING ones are left in place and
// returned in Result.Stops, for the caller to ask their cell to stop them
// (the cell then calls RemoveActualLRP). When the cell is gone, the caller
// should call RemoveActualLRP itself, as Diego does. No ordinary record:
// RESOURCE_NOT_FOUND.
func (s *Store) RetireActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey) (models.Result, error) {
	var res models.Result
	err := s.inTx(ctx, "retire actual lrp", func(tx pgx.Tx) error {
		sl, err := lockSlot(ctx, tx, key.GetProcessGuid(), key.GetIndex())
		if err != nil {
			return err
		}
		if sl.ord == nil {
			return errNotFound("actual lrp %s/%d not found", key.GetProcessGuid(), key.GetIndex())
		}
		res, err = retire(ctx, tx, []*bbsv1.ActualLRP{sl.ord})
		return err
	})
	if err != nil {
		return models.Result{}, err
	}
	return res, nil
}

// describe is a record's state for error messages.
func describe(a *bbsv1.ActualLRP) string {
	state := strings.TrimPrefix(a.GetState().String(), "ACTUAL_LRP_STATE_")
	if ik := a.GetInstanceKey(); ik != nil {
		return fmt.Sprintf("%s on %s/%s", state, ik.GetCellId(), ik.GetInstanceGuid())
	}
	return state
}
