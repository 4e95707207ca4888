package lrps

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

const desiredColumns = `process_guid, domain, instances, root_fs, memory_mb, disk_mb, max_pids,
	placement_tags, routes, annotation, log_guid, modification_tag_epoch, modification_tag_index,
	created_at, run_info`

const schedulingColumns = `process_guid, domain, instances, root_fs, memory_mb, disk_mb, max_pids,
	placement_tags, routes, annotation, log_guid, modification_tag_epoch, modification_tag_index`

// desiredArgs are d's values for desiredColumns.
func desiredArgs(d *bbsv1.DesiredLRP) ([]any, error) {
	routes, err := encodeRoutes(d.GetRoutes())
	if err != nil {
		return nil, err
	}
	runInfo, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode desired lrp: %w", err)
	}
	tags := append([]string{}, d.GetPlacementTags()...)
	return []any{d.GetProcessGuid(), d.GetDomain(), d.GetInstances(), d.GetRootFs(), d.GetMemoryMb(),
		d.GetDiskMb(), d.GetMaxPids(), tags, routes, d.GetAnnotation(), d.GetLogGuid(),
		d.GetModificationTag().GetEpoch(), int64(d.GetModificationTag().GetIndex()), d.GetCreatedAt(), runInfo}, nil
}

// encodeRoutes stores a routes map as a scheduling info carrying only it.
func encodeRoutes(routes map[string][]byte) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&bbsv1.DesiredLRPSchedulingInfo{Routes: routes})
	if err != nil {
		return nil, fmt.Errorf("encode routes: %w", err)
	}
	return b, nil
}

func decodeDesired(b []byte) (*bbsv1.DesiredLRP, error) {
	d := &bbsv1.DesiredLRP{}
	if err := proto.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("decode desired lrp: %w", err)
	}
	return d, nil
}

// newUnclaimed is a new UNCLAIMED ordinary record for key.
func newUnclaimed(key *bbsv1.ActualLRPKey, since int64) *bbsv1.ActualLRP {
	return &bbsv1.ActualLRP{
		Key:             proto.Clone(key).(*bbsv1.ActualLRPKey),
		State:           unclaimed,
		Presence:        ordinary,
		Since:           since,
		ModificationTag: newTag(),
	}
}

// DesireLRP stores a new desired LRP with a fresh modification tag and
// created_at, and an UNCLAIMED instance for each index, in one transaction.
// It fails with INVALID_REQUEST when d is invalid and RESOURCE_EXISTS when
// its process guid is taken. Indices that still have a record (left over
// from an earlier desired LRP of the same guid) are adopted, not recreated.
func (s *Store) DesireLRP(ctx context.Context, d *bbsv1.DesiredLRP) (models.Result, error) {
	if err := models.ValidateDesiredLRP(d); err != nil {
		return models.Result{}, errInvalidRequest("invalid desired lrp: %v", err)
	}
	now := s.now().UnixNano()
	d = proto.Clone(d).(*bbsv1.DesiredLRP)
	d.ModificationTag = newTag()
	d.CreatedAt = now
	args, err := desiredArgs(d)
	if err != nil {
		return models.Result{}, fmt.Errorf("desire lrp: %w", err)
	}
	recs := make([]*bbsv1.ActualLRP, d.GetInstances())
	for i := range recs {
		recs[i] = newUnclaimed(&bbsv1.ActualLRPKey{ProcessGuid: d.GetProcessGuid(), Index: int32(i), Domain: d.GetDomain()}, now)
	}
	var res models.Result
	err = s.inTx(ctx, "desire lrp", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO desired_lrps (`+desiredColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_EXISTS, "desired lrp %q already exists", d.GetProcessGuid())
		}
		inserted, err := insertActuals(ctx, tx, recs)
		if err != nil {
			return err
		}
		res.Events = append(res.Events, models.DesiredCreated(d))
		var indices []int32
		for _, a := range recs {
			if inserted[keyOf(a)] {
				res.Events = append(res.Events, models.ActualCreated(a))
				indices = append(indices, a.GetKey().GetIndex())
			}
		}
		if len(indices) > 0 {
			res.LRPAuctions = append(res.LRPAuctions, models.StartRequest(models.SchedulingInfo(d), indices...))
		}
		return nil
	})
	if err != nil {
		return models.Result{}, err
	}
	return res, nil
}

// UpdateDesiredLRP applies u to a desired LRP. When expected is non-nil it
// must equal the stored modification tag, else RESOURCE_CONFLICT; every
// update increments the tag's index. Scaling up creates UNCLAIMED instances
// and requests their placement; scaling down retires the indices at and
// above the new count (see RetireActualLRP), suspect records included. It
// returns the updated desired LRP.
func (s *Store) UpdateDesiredLRP(ctx context.Context, guid string, u *bbsv1.DesiredLRPUpdate, expected *bbsv1.ModificationTag) (*bbsv1.DesiredLRP, models.Result, error) {
	if err := models.ValidateDesiredLRPUpdate(u); err != nil {
		return nil, models.Result{}, errInvalidRequest("invalid update: %v", err)
	}
	var (
		after *bbsv1.DesiredLRP
		res   models.Result
	)
	err := s.inTx(ctx, "update desired lrp", func(tx pgx.Tx) error {
		var b []byte
		err := tx.QueryRow(ctx, `SELECT run_info FROM desired_lrps WHERE process_guid = $1 FOR UPDATE`, guid).Scan(&b)
		if isNoRows(err) {
			return errNotFound("desired lrp %q not found", guid)
		}
		if err != nil {
			return err
		}
		before, err := decodeDesired(b)
		if err != nil {
			return err
		}
		if expected != nil && (expected.GetEpoch() != before.GetModificationTag().GetEpoch() || expected.GetIndex() != before.GetModificationTag().GetIndex()) {
			return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_CONFLICT,
				"desired lrp %q has modification tag %s/%d, not the expected %s/%d", guid,
				before.GetModificationTag().GetEpoch(), before.GetModificationTag().GetIndex(), expected.GetEpoch(), expected.GetIndex())
		}
		after = applyUpdate(before, u)
		args, err := desiredArgs(after)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE desired_lrps SET (`+desiredColumns+`) =
			($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			WHERE process_guid = $1`, args...)
		if err != nil {
			return err
		}
		res.Events = append(res.Events, models.DesiredChanged(before, after))
		switch from, to := before.GetInstances(), after.GetInstances(); {
		case to > from:
			now := s.now().UnixNano()
			var recs []*bbsv1.ActualLRP
			for i := from; i < to; i++ {
				recs = append(recs, newUnclaimed(&bbsv1.ActualLRPKey{ProcessGuid: guid, Index: i, Domain: after.GetDomain()}, now))
			}
			inserted, err := insertActuals(ctx, tx, recs)
			if err != nil {
				return err
			}
			var indices []int32
			for _, a := range recs {
				if inserted[keyOf(a)] {
					res.Events = append(res.Events, models.ActualCreated(a))
					indices = append(indices, a.GetKey().GetIndex())
				}
			}
			if len(indices) > 0 {
				res.LRPAuctions = append(res.LRPAuctions, models.StartRequest(models.SchedulingInfo(after), indices...))
			}
		case to < from:
			recs, err := lockProcess(ctx, tx, guid, to)
			if err != nil {
				return err
			}
			r, err := retire(ctx, tx, recs)
			if err != nil {
				return err
			}
			res.Merge(r)
		}
		return nil
	})
	if err != nil {
		return nil, models.Result{}, err
	}
	return after, res, nil
}

// applyUpdate returns a copy of d with u applied and its tag bumped.
func applyUpdate(d *bbsv1.DesiredLRP, u *bbsv1.DesiredLRPUpdate) *bbsv1.DesiredLRP {
	after := proto.Clone(d).(*bbsv1.DesiredLRP)
	if u.Instances != nil {
		after.Instances = u.GetInstances()
	}
	if u.GetSetRoutes() {
		after.Routes = u.GetRoutes()
	}
	if u.Annotation != nil {
		after.Annotation = u.GetAnnotation()
	}
	if u.GetSetMetricTags() {
		after.MetricTags = u.GetMetricTags()
	}
	after.ModificationTag = bumped(d.GetModificationTag())
	return after
}

// retire stops or deletes records (locked by the caller) that are no longer
// wanted: UNCLAIMED and CRASHED records are deleted; CLAIMED and RUNNING
// ordinary records are left for their cell to remove after it stops them;
// suspect records are deleted and their containers stopped.
func retire(ctx context.Context, tx pgx.Tx, recs []*bbsv1.ActualLRP) (models.Result, error) {
	var (
		res  models.Result
		dels []*bbsv1.ActualLRP
	)
	for _, a := range recs {
		switch {
		case a.GetPresence() == evacuating:
			continue
		case a.GetPresence() == suspect:
			dels = append(dels, a)
			res.Events = append(res.Events, models.ActualRemoved(a))
			res.Stops = append(res.Stops, stopOf(a))
		case a.GetState() == claimed || a.GetState() == running:
			res.Stops = append(res.Stops, stopOf(a))
		default:
			dels = append(dels, a)
			res.Events = append(res.Events, models.ActualRemoved(a))
		}
	}
	if err := deleteActuals(ctx, tx, dels...); err != nil {
		return models.Result{}, err
	}
	return res, nil
}

func stopOf(a *bbsv1.ActualLRP) models.StopInstance {
	return models.StopInstance{
		Key:         proto.Clone(a.GetKey()).(*bbsv1.ActualLRPKey),
		InstanceKey: proto.Clone(a.GetInstanceKey()).(*bbsv1.ActualLRPInstanceKey),
	}
}

// RemoveDesiredLRP deletes a desired LRP and retires all its instances
// (see RetireActualLRP); evacuating records are left to their cells.
func (s *Store) RemoveDesiredLRP(ctx context.Context, guid string) (models.Result, error) {
	var res models.Result
	err := s.inTx(ctx, "remove desired lrp", func(tx pgx.Tx) error {
		var b []byte
		err := tx.QueryRow(ctx, `DELETE FROM desired_lrps WHERE process_guid = $1 RETURNING run_info`, guid).Scan(&b)
		if isNoRows(err) {
			return errNotFound("desired lrp %q not found", guid)
		}
		if err != nil {
			return err
		}
		d, err := decodeDesired(b)
		if err != nil {
			return err
		}
		res.Events = append(res.Events, models.DesiredRemoved(d))
		recs, err := lockProcess(ctx, tx, guid, 0)
		if err != nil {
			return err
		}
		r, err := retire(ctx, tx, recs)
		if err != nil {
			return err
		}
		res.Merge(r)
		return nil
	})
	if err != nil {
		return models.Result{}, err
	}
	return res, nil
}

// DesiredLRP returns one desired LRP, or RESOURCE_NOT_FOUND.
func (s *Store) DesiredLRP(ctx context.Context, guid string) (*bbsv1.DesiredLRP, error) {
	var b []byte
	err := s.read.QueryRow(ctx, `SELECT run_info FROM desired_lrps WHERE process_guid = $1`, guid).Scan(&b)
	if isNoRows(err) {
		return nil, errNotFound("desired lrp %q not found", guid)
	}
	if err != nil {
		return nil, fmt.Errorf("get desired lrp: %w", err)
	}
	return decodeDesired(b)
}

// desiredWhere builds the WHERE clause for a desired LRP filter.
func desiredWhere(f *bbsv1.DesiredLRPFilter) (string, []any) {
	var (
		conds []string
		args  []any
	)
	if f.GetDomain() != "" {
		args = append(args, f.GetDomain())
		conds = append(conds, fmt.Sprintf("domain = $%d", len(args)))
	}
	if len(f.GetProcessGuids()) > 0 {
		args = append(args, f.GetProcessGuids())
		conds = append(conds, fmt.Sprintf("process_guid = ANY($%d)", len(args)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// DesiredLRPs lists the desired LRPs matching f (nil matches all), by
// process guid.
func (s *Store) DesiredLRPs(ctx context.Context, f *bbsv1.DesiredLRPFilter) ([]*bbsv1.DesiredLRP, error) {
	where, args := desiredWhere(f)
	rows, err := s.read.Query(ctx, `SELECT run_info FROM desired_lrps`+where+` ORDER BY process_guid`, args...)
	if err != nil {
		return nil, fmt.Errorf("list desired lrps: %w", err)
	}
	defer rows.Close()
	out := []*bbsv1.DesiredLRP{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("list desired lrps: %w", err)
		}
		d, err := decodeDesired(b)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list desired lrps: %w", err)
	}
	return out, nil
}

// SchedulingInfos lists the scheduling part of the desired LRPs matching f
// (nil matches all), by process guid. It reads only the scheduling columns,
// never the stored actions.
func (s *Store) SchedulingInfos(ctx context.Context, f *bbsv1.DesiredLRPFilter) ([]*bbsv1.DesiredLRPSchedulingInfo, error) {
	where, args := desiredWhere(f)
	rows, err := s.read.Query(ctx, `SELECT `+schedulingColumns+` FROM desired_lrps`+where+` ORDER BY process_guid`, args...)
	if err != nil {
		return nil, fmt.Errorf("list scheduling infos: %w", err)
	}
	defer rows.Close()
	out := []*bbsv1.DesiredLRPSchedulingInfo{}
	for rows.Next() {
		var (
			si       bbsv1.DesiredLRPSchedulingInfo
			routes   []byte
			epoch    string
			tagIndex int64
		)
		if err := rows.Scan(&si.ProcessGuid, &si.Domain, &si.Instances, &si.RootFs, &si.MemoryMb, &si.DiskMb,
			&si.MaxPids, &si.PlacementTags, &routes, &si.Annotation, &si.LogGuid, &epoch, &tagIndex); err != nil {
			return nil, fmt.Errorf("list scheduling infos: %w", err)
		}
		var r bbsv1.DesiredLRPSchedulingInfo
		if err := proto.Unmarshal(routes, &r); err != nil {
			return nil, fmt.Errorf("decode routes of %s: %w", si.ProcessGuid, err)
		}
		si.Routes = r.Routes
		if len(si.PlacementTags) == 0 {
			si.PlacementTags = nil
		}
		si.ModificationTag = &bbsv1.ModificationTag{Epoch: epoch, Index: uint32(tagIndex)}
		out = append(out, &si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list scheduling infos: %w", err)
	}
	return out, nil
}

// schedulingInfo loads what an auction request needs for one process guid;
// ok is false when it is not desired.
func schedulingInfo(ctx context.Context, q querier, guid string) (*bbsv1.DesiredLRPSchedulingInfo, bool, error) {
	rows, err := q.Query(ctx, `SELECT process_guid, domain, instances, root_fs, memory_mb, disk_mb, max_pids, placement_tags
		FROM desired_lrps WHERE process_guid = $1`, guid)
	if err != nil {
		return nil, false, fmt.Errorf("load scheduling info: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	var si bbsv1.DesiredLRPSchedulingInfo
	if err := rows.Scan(&si.ProcessGuid, &si.Domain, &si.Instances, &si.RootFs, &si.MemoryMb, &si.DiskMb, &si.MaxPids, &si.PlacementTags); err != nil {
		return nil, false, fmt.Errorf("load scheduling info: %w", err)
	}
	if len(si.PlacementTags) == 0 {
		si.PlacementTags = nil
	}
	return &si, true, nil
}

// auctionFor requests placement of index of guid if it is still desired.
func auctionFor(ctx context.Context, q querier, key *bbsv1.ActualLRPKey) ([]*auctioneerv1.LRPStartRequest, error) {
	si, ok, err := schedulingInfo(ctx, q, key.GetProcessGuid())
	if err != nil || !ok || key.GetIndex() >= si.GetInstances() {
		return nil, err
	}
	return []*auctioneerv1.LRPStartRequest{models.StartRequest(si, key.GetIndex())}, nil
}
