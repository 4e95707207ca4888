package lrps

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// This file maps actual LRP records to rows of actual_lrps. Records are
// kept in one canonical form so that proto.Equal compares what matters:
// Key and ModificationTag are always set, InstanceKey and NetInfo are nil
// when empty.

// Short names for the enums the store switches on.
const (
	unclaimed = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED
	claimed   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED
	running   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING
	crashed   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED

	ordinary   = bbsv1.Presence_PRESENCE_ORDINARY
	evacuating = bbsv1.Presence_PRESENCE_EVACUATING
	suspect    = bbsv1.Presence_PRESENCE_SUSPECT
)

// querier is what the row helpers need: a pgx.Tx or the pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

const actualColumns = `process_guid, instance_index, presence, domain, instance_guid, cell_id, state,
	net_info, crash_count, crash_reason, since, placement_error,
	modification_tag_epoch, modification_tag_index, routable, availability_zone`

// actualArrayTypes are the unnest argument types for actualColumns, in
// order.
const actualUnnest = `unnest($1::text[], $2::int4[], $3::int2[], $4::text[], $5::text[], $6::text[], $7::int2[],
	$8::bytea[], $9::int4[], $10::text[], $11::int8[], $12::text[],
	$13::text[], $14::int8[], $15::bool[], $16::text[])`

// pk is an actual_lrps primary key.
type pk struct {
	guid     string
	index    int32
	presence bbsv1.Presence
}

func keyOf(a *bbsv1.ActualLRP) pk {
	return pk{a.GetKey().GetProcessGuid(), a.GetKey().GetIndex(), a.GetPresence()}
}

// canon puts a in canonical form and returns it.
func canon(a *bbsv1.ActualLRP) *bbsv1.ActualLRP {
	if a.Key == nil {
		a.Key = &bbsv1.ActualLRPKey{}
	}
	if a.ModificationTag == nil {
		a.ModificationTag = &bbsv1.ModificationTag{}
	}
	if a.InstanceKey != nil && a.InstanceKey.GetInstanceGuid() == "" && a.InstanceKey.GetCellId() == "" {
		a.InstanceKey = nil
	}
	if a.NetInfo != nil && proto.Size(a.NetInfo) == 0 {
		a.NetInfo = nil
	}
	return a
}

func clone(a *bbsv1.ActualLRP) *bbsv1.ActualLRP {
	return proto.Clone(a).(*bbsv1.ActualLRP)
}

// scanActual reads one row selected with actualColumns.
func scanActual(row pgx.Row) (*bbsv1.ActualLRP, error) {
	var (
		a                           bbsv1.ActualLRP
		guid, domain, ig, cell      string
		index                       int32
		presence, state             int16
		net                         []byte
		epoch                       string
		tagIndex                    int64
		crashReason, placementError string
	)
	err := row.Scan(&guid, &index, &presence, &domain, &ig, &cell, &state,
		&net, &a.CrashCount, &crashReason, &a.Since, &placementError,
		&epoch, &tagIndex, &a.Routable, &a.AvailabilityZone)
	if err != nil {
		return nil, err
	}
	a.Key = &bbsv1.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: domain}
	if ig != "" || cell != "" {
		a.InstanceKey = &bbsv1.ActualLRPInstanceKey{InstanceGuid: ig, CellId: cell}
	}
	if len(net) > 0 {
		a.NetInfo = &bbsv1.ActualLRPNetInfo{}
		if err := proto.Unmarshal(net, a.NetInfo); err != nil {
			return nil, fmt.Errorf("decode net_info of %s/%d: %w", guid, index, err)
		}
	}
	a.Presence = bbsv1.Presence(presence)
	a.State = bbsv1.ActualLRPState(state)
	a.CrashReason = crashReason
	a.PlacementError = placementError
	a.ModificationTag = &bbsv1.ModificationTag{Epoch: epoch, Index: uint32(tagIndex)}
	return &a, nil
}

// collectActuals scans every row of rows.
func collectActuals(rows pgx.Rows) ([]*bbsv1.ActualLRP, error) {
	defer rows.Close()
	var out []*bbsv1.ActualLRP
	for rows.Next() {
		a, err := scanActual(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// actualRow is a record's sixteen column values, in actualColumns order.
func actualRow(a *bbsv1.ActualLRP) ([]any, error) {
	var net []byte
	if a.GetNetInfo() != nil && proto.Size(a.GetNetInfo()) > 0 {
		b, err := proto.Marshal(a.GetNetInfo())
		if err != nil {
			return nil, fmt.Errorf("encode net_info: %w", err)
		}
		net = b
	}
	return []any{
		a.GetKey().GetProcessGuid(), a.GetKey().GetIndex(), int16(a.GetPresence()), a.GetKey().GetDomain(),
		a.GetInstanceKey().GetInstanceGuid(), a.GetInstanceKey().GetCellId(), int16(a.GetState()), net,
		a.GetCrashCount(), truncate(a.GetCrashReason()), a.GetSince(), truncate(a.GetPlacementError()),
		a.GetModificationTag().GetEpoch(), int64(a.GetModificationTag().GetIndex()), a.GetRoutable(), a.GetAvailabilityZone(),
	}, nil
}

// actualArgs turns records into the sixteen column arrays of actualUnnest.
func actualArgs(recs []*bbsv1.ActualLRP) ([]any, error) {
	n := len(recs)
	var (
		guids, domains, igs, cells, reasons, perrs, epochs, zones = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		indices, counts                                           = make([]int32, n), make([]int32, n)
		presences, states                                         = make([]int16, n), make([]int16, n)
		nets                                                      = make([][]byte, n)
		sinces, tags                                              = make([]int64, n), make([]int64, n)
		routables                                                 = make([]bool, n)
	)
	for i, a := range recs {
		row, err := actualRow(a)
		if err != nil {
			return nil, err
		}
		guids[i], indices[i], presences[i], domains[i] = row[0].(string), row[1].(int32), row[2].(int16), row[3].(string)
		igs[i], cells[i], states[i], nets[i] = row[4].(string), row[5].(string), row[6].(int16), row[7].([]byte)
		counts[i], reasons[i], sinces[i], perrs[i] = row[8].(int32), row[9].(string), row[10].(int64), row[11].(string)
		epochs[i], tags[i], routables[i], zones[i] = row[12].(string), row[13].(int64), row[14].(bool), row[15].(string)
	}
	return []any{guids, indices, presences, domains, igs, cells, states, nets, counts, reasons, sinces, perrs, epochs, tags, routables, zones}, nil
}

func pkArgs(keys []pk) []any {
	guids, indices, presences := make([]string, len(keys)), make([]int32, len(keys)), make([]int16, len(keys))
	for i, k := range keys {
		guids[i], indices[i], presences[i] = k.guid, k.index, int16(k.presence)
	}
	return []any{guids, indices, presences}
}

func pksOf(recs []*bbsv1.ActualLRP) []pk {
	keys := make([]pk, len(recs))
	for i, a := range recs {
		keys[i] = keyOf(a)
	}
	return keys
}

// insertActuals inserts recs, skipping any whose key exists, and reports
// which were inserted.
func insertActuals(ctx context.Context, q querier, recs []*bbsv1.ActualLRP) (map[pk]bool, error) {
	inserted := make(map[pk]bool, len(recs))
	if len(recs) == 0 {
		return inserted, nil
	}
	args, err := actualArgs(recs)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `INSERT INTO actual_lrps (`+actualColumns+`)
		SELECT * FROM `+actualUnnest+`
		ON CONFLICT DO NOTHING
		RETURNING process_guid, instance_index, presence`, args...)
	if err != nil {
		return nil, fmt.Errorf("insert actual lrps: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k pk
		var p int16
		if err := rows.Scan(&k.guid, &k.index, &p); err != nil {
			return nil, fmt.Errorf("insert actual lrps: %w", err)
		}
		k.presence = bbsv1.Presence(p)
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert actual lrps: %w", err)
	}
	return inserted, nil
}

// insertActual inserts one record and reports whether it was new.
func insertActual(ctx context.Context, q querier, a *bbsv1.ActualLRP) (bool, error) {
	ins, err := insertActuals(ctx, q, []*bbsv1.ActualLRP{a})
	return ins[keyOf(a)], err
}

// updateActuals overwrites every non-key column of the rows with recs'
// keys. Callers hold the rows' locks.
func updateActuals(ctx context.Context, q querier, recs ...*bbsv1.ActualLRP) error {
	if len(recs) == 0 {
		return nil
	}
	if len(recs) == 1 {
		return updateActual(ctx, q, recs[0])
	}
	args, err := actualArgs(recs)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `UPDATE actual_lrps a SET
			domain = u.domain, instance_guid = u.instance_guid, cell_id = u.cell_id, state = u.state,
			net_info = u.net_info, crash_count = u.crash_count, crash_reason = u.crash_reason,
			since = u.since, placement_error = u.placement_error,
			modification_tag_epoch = u.modification_tag_epoch, modification_tag_index = u.modification_tag_index,
			routable = u.routable, availability_zone = u.availability_zone
		FROM `+actualUnnest+` AS u(`+actualColumns+`)
		WHERE a.process_guid = u.process_guid AND a.instance_index = u.instance_index AND a.presence = u.presence`, args...)
	if err != nil {
		return fmt.Errorf("update actual lrps: %w", err)
	}
	return nil
}

// updateActual is updateActuals for one record: a plain UPDATE by primary
// key costs Postgres a fraction of the unnest join, and single-record
// transitions (claim, start, crash) are most of the BBS's writes.
func updateActual(ctx context.Context, q querier, a *bbsv1.ActualLRP) error {
	one, err := actualRow(a)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `UPDATE actual_lrps SET
			domain = $4, instance_guid = $5, cell_id = $6, state = $7,
			net_info = $8, crash_count = $9, crash_reason = $10,
			since = $11, placement_error = $12,
			modification_tag_epoch = $13, modification_tag_index = $14,
			routable = $15, availability_zone = $16
		WHERE process_guid = $1 AND instance_index = $2 AND presence = $3`, one...)
	if err != nil {
		return fmt.Errorf("update actual lrp: %w", err)
	}
	return nil
}

// casUpdate writes a when its row still has modification tag was, and
// reports whether it did.
func casUpdate(ctx context.Context, q querier, was *bbsv1.ModificationTag, a *bbsv1.ActualLRP) (bool, error) {
	row, err := actualRow(a)
	if err != nil {
		return false, err
	}
	tag, err := q.Exec(ctx, `UPDATE actual_lrps SET
			domain = $4, instance_guid = $5, cell_id = $6, state = $7,
			net_info = $8, crash_count = $9, crash_reason = $10,
			since = $11, placement_error = $12,
			modification_tag_epoch = $13, modification_tag_index = $14,
			routable = $15, availability_zone = $16
		WHERE process_guid = $1 AND instance_index = $2 AND presence = $3
			AND modification_tag_epoch = $17 AND modification_tag_index = $18`,
		append(row, was.GetEpoch(), int64(was.GetIndex()))...)
	if err != nil {
		return false, fmt.Errorf("update actual lrp: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// deleteActuals deletes the rows with recs' keys.
func deleteActuals(ctx context.Context, q querier, recs ...*bbsv1.ActualLRP) error {
	if len(recs) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `DELETE FROM actual_lrps a
		USING unnest($1::text[], $2::int4[], $3::int2[]) AS u(process_guid, instance_index, presence)
		WHERE a.process_guid = u.process_guid AND a.instance_index = u.instance_index AND a.presence = u.presence`,
		pkArgs(pksOf(recs))...)
	if err != nil {
		return fmt.Errorf("delete actual lrps: %w", err)
	}
	return nil
}

// lockActuals locks the rows with the given keys, in key order, and returns
// them as they are now; missing keys are absent from the map.
func lockActuals(ctx context.Context, q querier, keys []pk) (map[pk]*bbsv1.ActualLRP, error) {
	out := make(map[pk]*bbsv1.ActualLRP, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT `+actualColumns+` FROM actual_lrps
		WHERE (process_guid, instance_index, presence) IN (
			SELECT * FROM unnest($1::text[], $2::int4[], $3::int2[]))
		ORDER BY process_guid, instance_index, presence
		FOR UPDATE`, pkArgs(keys)...)
	if err != nil {
		return nil, fmt.Errorf("lock actual lrps: %w", err)
	}
	recs, err := collectActuals(rows)
	if err != nil {
		return nil, fmt.Errorf("lock actual lrps: %w", err)
	}
	for _, a := range recs {
		out[keyOf(a)] = a
	}
	return out, nil
}

// slot is every record of one process guid and index.
type slot struct {
	ord, evac, susp *bbsv1.ActualLRP
}

// empty reports whether the slot has no record.
func (s slot) empty() bool { return s.ord == nil && s.evac == nil && s.susp == nil }

// byInstance returns the record of the slot whose instance key is ik,
// preferring the ordinary one, or nil.
func (s slot) byInstance(ik *bbsv1.ActualLRPInstanceKey) *bbsv1.ActualLRP {
	for _, a := range []*bbsv1.ActualLRP{s.ord, s.evac, s.susp} {
		if a != nil && a.GetInstanceKey() != nil && sameInstance(a.GetInstanceKey(), ik) {
			return a
		}
	}
	return nil
}

// lockSlot locks and returns every record of one slot (in presence order,
// which is the store's lock order).
func lockSlot(ctx context.Context, q querier, guid string, index int32) (slot, error) {
	return querySlot(ctx, q, `SELECT `+actualColumns+` FROM actual_lrps
		WHERE process_guid = $1 AND instance_index = $2
		ORDER BY presence FOR UPDATE`, guid, index)
}

// readSlot reads one slot's records without locking them.
func readSlot(ctx context.Context, q querier, guid string, index int32) (slot, error) {
	return querySlot(ctx, q, `SELECT `+actualColumns+` FROM actual_lrps
		WHERE process_guid = $1 AND instance_index = $2`, guid, index)
}

func querySlot(ctx context.Context, q querier, sql string, guid string, index int32) (slot, error) {
	rows, err := q.Query(ctx, sql, guid, index)
	if err != nil {
		return slot{}, err
	}
	recs, err := collectActuals(rows)
	if err != nil {
		return slot{}, err
	}
	var s slot
	for _, a := range recs {
		switch a.GetPresence() {
		case ordinary:
			s.ord = a
		case evacuating:
			s.evac = a
		case suspect:
			s.susp = a
		}
	}
	return s, nil
}

// lockProcess locks and returns the ordinary and suspect records of one
// process guid with index >= from, in lock order.
func lockProcess(ctx context.Context, q querier, guid string, from int32) ([]*bbsv1.ActualLRP, error) {
	rows, err := q.Query(ctx, `SELECT `+actualColumns+` FROM actual_lrps
		WHERE process_guid = $1 AND instance_index >= $2 AND presence <> $3
		ORDER BY instance_index, presence FOR UPDATE`, guid, from, int16(evacuating))
	if err != nil {
		return nil, err
	}
	return collectActuals(rows)
}

// sameInstance reports whether two instance keys name the same container;
// empty keys name none.
func sameInstance(a, b *bbsv1.ActualLRPInstanceKey) bool {
	return a.GetInstanceGuid() == b.GetInstanceGuid() && a.GetCellId() == b.GetCellId()
}

// isNoRows reports a QueryRow that found nothing.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// errRaced reports that an insert lost to a concurrent transaction before
// the caller wrote anything; withSlot then reads the slot again.
var errRaced = errors.New("slot changed concurrently")

const maxSlotAttempts = 5

// withSlot locks a slot and runs f on it. When f returns errRaced it locks
// the slot again and retries (a new statement sees the rows that other
// transactions committed meanwhile), up to maxSlotAttempts times.
func withSlot(ctx context.Context, tx pgx.Tx, guid string, index int32, f func(slot) (models.Result, error)) (models.Result, error) {
	for attempt := 1; ; attempt++ {
		sl, err := lockSlot(ctx, tx, guid, index)
		if err != nil {
			return models.Result{}, err
		}
		res, err := f(sl)
		if errors.Is(err, errRaced) && attempt < maxSlotAttempts {
			continue
		}
		return res, err
	}
}
