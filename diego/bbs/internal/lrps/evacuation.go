package lrps

import (
	"context"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// The evacuation calls are made by a draining cell for each of its
// containers. keep tells the cell whether to keep the container running
// (until its replacement runs) or to stop it now. On a database error keep
// is true for claimed and running containers, so the cell asks again
// rather than dropping a serving instance.

// keepOnError is keep for an evacuation step that ended with err: true
// only for database failures.
func keepOnError(err error) bool {
	return err != nil && bbsv1.ErrorTypeOf(err) == bbsv1.ErrorType_ERROR_TYPE_UNSPECIFIED
}

// evacuate runs f on the locked slot of key in one transaction.
func (s *Store) evacuate(ctx context.Context, op string, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey, f func(tx pgx.Tx, sl slot) (bool, models.Result, error)) (bool, models.Result, error) {
	if err := validKey(key); err != nil {
		return false, models.Result{}, err
	}
	if err := validInstanceKey(ik); err != nil {
		return false, models.Result{}, err
	}
	var (
		keep bool
		res  models.Result
	)
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		var err error
		res, err = withSlot(ctx, tx, key.GetProcessGuid(), key.GetIndex(), func(sl slot) (models.Result, error) {
			var r models.Result
			var err error
			keep, r, err = f(tx, sl)
			return r, err
		})
		return err
	})
	if err != nil {
		return keep, models.Result{}, err
	}
	return keep, res, nil
}

// removeExtraCopy deletes the evacuating or suspect record a, the
// container's own.
func removeExtraCopy(ctx context.Context, tx pgx.Tx, a *bbsv1.ActualLRP) (models.Result, error) {
	return models.Result{Events: []*bbsv1.SubscribeToEventsResponse{models.ActualRemoved(a)}}, deleteActuals(ctx, tx, a)
}

// EvacuateClaimedActualLRP handles a draining cell's CLAIMED container:
// the ordinary instance becomes UNCLAIMED and is placed again; the
// container's evacuating or suspect record, if it has one instead, is
// removed. keep is always false. Unknown instance: RESOURCE_NOT_FOUND.
func (s *Store) EvacuateClaimedActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey) (bool, models.Result, error) {
	return s.evacuate(ctx, "evacuate claimed actual lrp", key, ik, func(tx pgx.Tx, sl slot) (bool, models.Result, error) {
		target := sl.byInstance(ik)
		if target == nil {
			return false, models.Result{}, errNotFound("actual lrp %s/%d of instance %s/%s not found", key.GetProcessGuid(), key.GetIndex(), ik.GetCellId(), ik.GetInstanceGuid())
		}
		if target.GetPresence() != ordinary {
			r, err := removeExtraCopy(ctx, tx, target)
			return keepOnError(err), r, err
		}
		r, err := s.unclaim(ctx, tx, target)
		return keepOnError(err), r, err
	})
}

// unclaim makes the locked ordinary record before UNCLAIMED again and asks
// for its placement.
func (s *Store) unclaim(ctx context.Context, tx pgx.Tx, before *bbsv1.ActualLRP) (models.Result, error) {
	var res models.Result
	after := clone(before)
	after.State = unclaimed
	after.InstanceKey = nil
	after.NetInfo = nil
	after.Routable = false
	after.Since = s.now().UnixNano()
	after.ModificationTag = bumped(before.GetModificationTag())
	if err := updateActuals(ctx, tx, after); err != nil {
		return res, err
	}
	res.Events = append(res.Events, models.ActualChanged(before, after))
	auctions, err := auctionFor(ctx, tx, after.GetKey())
	res.LRPAuctions = auctions
	return res, err
}

// EvacuateRunningActualLRP handles a draining cell's RUNNING container,
// following Diego's rules:
//
//   - the LRP is no longer desired, or another instance of the slot already
//     runs (or crashed): the container's evacuating record is removed and
//     keep is false;
//   - the container is the ordinary instance (RUNNING or CLAIMED): it moves
//     to an EVACUATING record (a change event, same epoch) and a new
//     UNCLAIMED ordinary instance is created and placed; keep is true;
//   - the container has a suspect record: it becomes the EVACUATING record;
//     keep is true;
//   - the container has no record or only its evacuating one: its
//     evacuating record is created or its net info updated, keep is true —
//     unless another cell's container already evacuates this slot (keep
//     false).
func (s *Store) EvacuateRunningActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey, net *bbsv1.ActualLRPNetInfo) (bool, models.Result, error) {
	return s.evacuate(ctx, "evacuate running actual lrp", key, ik, func(tx pgx.Tx, sl slot) (bool, models.Result, error) {
		var res models.Result
		if sl.empty() {
			return false, res, nil
		}
		target := sl.byInstance(ik)
		ord := sl.ord
		replaced := ord != nil && ord != target && (ord.GetState() == running || ord.GetState() == crashed)
		desired := false
		if ord != nil && !replaced {
			var err error
			if _, desired, err = schedulingInfo(ctx, tx, key.GetProcessGuid()); err != nil {
				return true, res, err
			}
		}
		if !desired {
			if sl.evac != nil && sameInstance(sl.evac.GetInstanceKey(), ik) {
				r, err := removeExtraCopy(ctx, tx, sl.evac)
				return keepOnError(err), r, err
			}
			return false, res, nil
		}
		now := s.now().UnixNano()

		if target == nil || target.GetPresence() == evacuating {
			if sl.evac != nil && target != sl.evac {
				return false, res, nil // another cell's container evacuates this slot
			}
			if e := sl.evac; e != nil {
				if proto.Equal(e.GetNetInfo(), cloneNet(net)) {
					return true, res, nil
				}
				after := clone(e)
				after.NetInfo = cloneNet(net)
				after.Since = now
				after.ModificationTag = bumped(e.GetModificationTag())
				if err := updateActuals(ctx, tx, after); err != nil {
					return true, res, err
				}
				res.Events = append(res.Events, models.ActualChanged(e, after))
				return true, res, nil
			}
			e := canon(&bbsv1.ActualLRP{
				Key:             &bbsv1.ActualLRPKey{ProcessGuid: key.GetProcessGuid(), Index: key.GetIndex(), Domain: ord.GetKey().GetDomain()},
				InstanceKey:     proto.Clone(ik).(*bbsv1.ActualLRPInstanceKey),
				NetInfo:         cloneNet(net),
				State:           running,
				Presence:        evacuating,
				Since:           now,
				ModificationTag: newTag(),
				// It ran healthy on its cell until now.
				Routable: true,
			})
			ok, err := insertActual(ctx, tx, e)
			switch {
			case err != nil:
				return true, res, err
			case !ok:
				return true, res, errRaced
			}
			res.Events = append(res.Events, models.ActualCreated(e))
			return true, res, nil
		}

		st := target.GetState()
		if st != running && st != claimed {
			return false, res, nil
		}
		// The container's record becomes the slot's evacuating record. An
		// evacuating record of another container is replaced, as Diego
		// overwrites it.
		e := clone(target)
		e.Presence = evacuating
		e.State = running
		if n := cloneNet(net); n != nil {
			e.NetInfo = n
		}
		if st != running {
			e.Since = now
		}
		e.ModificationTag = bumped(target.GetModificationTag())
		canon(e)
		if old := sl.evac; old != nil {
			if err := updateActuals(ctx, tx, e); err != nil {
				return true, res, err
			}
			res.Events = append(res.Events, models.ActualRemoved(old))
		} else {
			ok, err := insertActual(ctx, tx, e)
			switch {
			case err != nil:
				return true, res, err
			case !ok:
				return true, res, errRaced
			}
		}
		res.Events = append(res.Events, models.ActualChanged(target, e))
		if target.GetPresence() == suspect {
			// The ordinary replacement exists already.
			return true, res, deleteActuals(ctx, tx, target)
		}
		fresh := newUnclaimed(target.GetKey(), now)
		if err := updateActuals(ctx, tx, fresh); err != nil {
			return true, res, err
		}
		res.Events = append(res.Events, models.ActualCreated(fresh))
		auctions, err := auctionFor(ctx, tx, fresh.GetKey())
		res.LRPAuctions = auctions
		return true, res, err
	})
}

// EvacuateStoppedActualLRP handles a draining cell's stopped container: its
// record (ordinary, evacuating or suspect) is removed. keep is always
// false. Unknown instance: RESOURCE_NOT_FOUND.
func (s *Store) EvacuateStoppedActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey) (bool, models.Result, error) {
	return s.evacuate(ctx, "evacuate stopped actual lrp", key, ik, func(tx pgx.Tx, sl slot) (bool, models.Result, error) {
		target := sl.byInstance(ik)
		if target == nil {
			return false, models.Result{}, errNotFound("actual lrp %s/%d of instance %s/%s not found", key.GetProcessGuid(), key.GetIndex(), ik.GetCellId(), ik.GetInstanceGuid())
		}
		r, err := removeExtraCopy(ctx, tx, target)
		return false, r, err
	})
}

// EvacuateCrashedActualLRP handles a draining cell's crashed container: its
// evacuating or suspect record is removed, or its ordinary instance crashes
// as CrashActualLRP does (restarted at once, with an auction, while the
// policy allows). keep is always false. Unknown instance:
// RESOURCE_NOT_FOUND.
func (s *Store) EvacuateCrashedActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey, reason string) (bool, models.Result, error) {
	return s.evacuate(ctx, "evacuate crashed actual lrp", key, ik, func(tx pgx.Tx, sl slot) (bool, models.Result, error) {
		target := sl.byInstance(ik)
		if target == nil {
			return false, models.Result{}, errNotFound("actual lrp %s/%d of instance %s/%s not found", key.GetProcessGuid(), key.GetIndex(), ik.GetCellId(), ik.GetInstanceGuid())
		}
		if target.GetPresence() != ordinary {
			r, err := removeExtraCopy(ctx, tx, target)
			return false, r, err
		}
		r, err := s.crash(ctx, tx, target, key, ik, reason)
		return false, r, err
	})
}

// RemoveEvacuatingActualLRP deletes the evacuating record of instance ik.
// No such record: RESOURCE_NOT_FOUND.
func (s *Store) RemoveEvacuatingActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey) (models.Result, error) {
	_, res, err := s.evacuate(ctx, "remove evacuating actual lrp", key, ik, func(tx pgx.Tx, sl slot) (bool, models.Result, error) {
		if sl.evac == nil || !sameInstance(sl.evac.GetInstanceKey(), ik) {
			return false, models.Result{}, errNotFound("evacuating actual lrp %s/%d of instance %s/%s not found", key.GetProcessGuid(), key.GetIndex(), ik.GetCellId(), ik.GetInstanceGuid())
		}
		r, err := removeExtraCopy(ctx, tx, sl.evac)
		return false, r, err
	})
	return res, err
}
