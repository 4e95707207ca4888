package lrps

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// ConvergeInput is what one convergence pass needs from outside the store.
type ConvergeInput struct {
	// Cells holds the ids of the cells present now (true). An instance on
	// any other cell is treated as lost. The caller must not converge when
	// it could not list the cells: an empty set loses every instance.
	Cells map[string]bool
	// Now is the pass's time; zero means the store's clock.
	Now time.Time
}

// ConvergeStats describes one convergence pass, for metrics.
type ConvergeStats struct {
	// DesiredLRPs is the number of desired LRPs, Desired the sum of their
	// instances.
	DesiredLRPs, Desired int
	// Ordinary instances by state after the pass.
	Unclaimed, Claimed, Running, Crashed int
	// Suspect and Evacuating count those records after the pass.
	Suspect, Evacuating int
	// CrashingDesired is the number of desired LRPs with a CRASHED
	// instance after the pass.
	CrashingDesired int

	// Missing counts instances created because their index had no record.
	Missing int
	// Extra counts instances retired because nothing desires them (in a
	// fresh domain) or their index is at or above the desired count.
	Extra int
	// Restarted counts CRASHED instances the restart policy started again.
	Restarted int
	// StaleUnclaimed counts UNCLAIMED instances whose placement was
	// requested again.
	StaleUnclaimed int
	// Rescheduled counts CLAIMED and RUNNING instances on lost cells that
	// were placed again (the RUNNING ones kept as SUSPECT).
	Rescheduled int
	// MissingCells lists, sorted, the cells that hold CLAIMED or RUNNING
	// instances but are not in ConvergeInput.Cells.
	MissingCells []string
	// Skipped counts planned changes dropped because their records changed
	// while the pass ran; the next pass looks at them again.
	Skipped int
}

// changeKind says why convergence changes a slot.
type changeKind int

const (
	kindMissing changeKind = iota + 1
	kindRetire
	kindRestart
	kindStale
	kindReschedule
	kindPruneEvacuating
	kindRemoveSuspect
	kindPromoteSuspect
)

// change is one planned convergence step on one slot. It applies only if
// every record in expect is unchanged (same modification tag) when locked,
// and its insert (if any) lands; then its events, stops and auction are
// reported. Writes run in phase order over all changes: del, ins, upd,
// delAfter. A change never both deletes and inserts (an insert may lose to
// a concurrent one, and must then leave nothing written), and never
// deletes and re-inserts one key (rows are updated in place instead).
type change struct {
	kind     changeKind
	expect   []*bbsv1.ActualLRP
	del      []*bbsv1.ActualLRP
	ins      *bbsv1.ActualLRP
	upd      []*bbsv1.ActualLRP
	delAfter []*bbsv1.ActualLRP
	events   []*bbsv1.SubscribeToEventsResponse
	stops    []models.StopInstance
	auction  *bbsv1.DesiredLRPSchedulingInfo // placement of the slot's index
	index    int32
	dropped  bool
}

func (c *change) writes() bool {
	return len(c.expect) > 0 || c.ins != nil
}

// snapshot is the state one pass works on, read in one transaction.
type snapshot struct {
	desired []*bbsv1.DesiredLRPSchedulingInfo
	// actual maps process guid and index to the slot's records.
	actual map[string]map[int32]*slot
}

// Converge runs one convergence pass: it reads the desired scheduling
// infos and every actual record (two queries, one snapshot), decides in
// memory what Diego's rules require, writes only the records that change
// (in batches, in one transaction, each checked against its modification
// tag), and returns what the changes set off. Passes are serialised.
func (s *Store) Converge(ctx context.Context, in ConvergeInput) (models.Result, ConvergeStats, error) {
	s.converging.Lock()
	defer s.converging.Unlock()
	began := time.Now()
	now := in.Now
	if now.IsZero() {
		now = s.now()
	}
	fresh, err := freshDomains(ctx, s.pool, now)
	if err != nil {
		return models.Result{}, ConvergeStats{}, fmt.Errorf("converge: %w", err)
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return models.Result{}, ConvergeStats{}, fmt.Errorf("converge: %w", err)
	}
	p := planner{store: s, cells: in.Cells, fresh: fresh, now: now, missingCells: map[string]bool{}}
	p.plan(snap)
	if err := s.apply(ctx, p.changes); err != nil {
		return models.Result{}, ConvergeStats{}, fmt.Errorf("converge: %w", err)
	}
	res, stats := report(snap, p)
	level := slog.LevelDebug
	if !res.Empty() || stats.Skipped > 0 {
		level = slog.LevelInfo
	}
	s.logger.Log(ctx, level, "converged lrps", "took", time.Since(began),
		"missing", stats.Missing, "extra", stats.Extra, "restarted", stats.Restarted,
		"stale_unclaimed", stats.StaleUnclaimed, "rescheduled", stats.Rescheduled,
		"missing_cells", stats.MissingCells, "skipped", stats.Skipped)
	return res, stats, nil
}

// snapshot reads the desired LRPs' scheduling columns and all actual
// records in one repeatable-read transaction, so that a desired LRP and its
// instances are seen together.
func (s *Store) snapshot(ctx context.Context) (*snapshot, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	snap := &snapshot{actual: map[string]map[int32]*slot{}}
	rows, err := tx.Query(ctx, `SELECT process_guid, domain, instances, root_fs, memory_mb, disk_mb, max_pids, placement_tags
		FROM desired_lrps ORDER BY process_guid`)
	if err != nil {
		return nil, fmt.Errorf("load desired lrps: %w", err)
	}
	for rows.Next() {
		var si bbsv1.DesiredLRPSchedulingInfo
		if err := rows.Scan(&si.ProcessGuid, &si.Domain, &si.Instances, &si.RootFs, &si.MemoryMb, &si.DiskMb, &si.MaxPids, &si.PlacementTags); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load desired lrps: %w", err)
		}
		if len(si.PlacementTags) == 0 {
			si.PlacementTags = nil
		}
		snap.desired = append(snap.desired, &si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load desired lrps: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT `+actualColumns+` FROM actual_lrps`)
	if err != nil {
		return nil, fmt.Errorf("load actual lrps: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanActual(rows)
		if err != nil {
			return nil, fmt.Errorf("load actual lrps: %w", err)
		}
		byIndex := snap.actual[a.GetKey().GetProcessGuid()]
		if byIndex == nil {
			byIndex = map[int32]*slot{}
			snap.actual[a.GetKey().GetProcessGuid()] = byIndex
		}
		sl := byIndex[a.GetKey().GetIndex()]
		if sl == nil {
			sl = &slot{}
			byIndex[a.GetKey().GetIndex()] = sl
		}
		switch a.GetPresence() {
		case ordinary:
			sl.ord = a
		case evacuating:
			sl.evac = a
		case suspect:
			sl.susp = a
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load actual lrps: %w", err)
	}
	return snap, nil
}

// planner decides a pass's changes.
type planner struct {
	store        *Store
	cells        map[string]bool
	fresh        map[string]bool
	now          time.Time
	changes      []*change
	missingCells map[string]bool
}

func (p *planner) plan(snap *snapshot) {
	desired := make(map[string]bool, len(snap.desired))
	for _, d := range snap.desired {
		desired[d.GetProcessGuid()] = true
		slots := snap.actual[d.GetProcessGuid()]
		indices := make([]int32, 0, max(int(d.GetInstances()), len(slots)))
		for i := range d.GetInstances() {
			indices = append(indices, i)
		}
		for i := range slots {
			if i >= d.GetInstances() || i < 0 {
				indices = append(indices, i)
			}
		}
		slices.Sort(indices)
		for _, i := range indices {
			sl := slots[i]
			if sl == nil {
				sl = &slot{}
			}
			p.slot(d, i, sl)
		}
	}
	var orphans []string
	for guid := range snap.actual {
		if !desired[guid] {
			orphans = append(orphans, guid)
		}
	}
	slices.Sort(orphans)
	for _, guid := range orphans {
		slots := snap.actual[guid]
		indices := make([]int32, 0, len(slots))
		for i := range slots {
			indices = append(indices, i)
		}
		slices.Sort(indices)
		for _, i := range indices {
			p.slot(nil, i, slots[i])
		}
	}
}

func (p *planner) present(a *bbsv1.ActualLRP) bool {
	return p.cells[a.GetInstanceKey().GetCellId()]
}

func (p *planner) add(c *change) { p.changes = append(p.changes, c) }

// slot plans one slot; d is nil when its process guid is not desired.
func (p *planner) slot(d *bbsv1.DesiredLRPSchedulingInfo, index int32, sl *slot) {
	now := p.now.UnixNano()
	wanted := d != nil && index < d.GetInstances() && index >= 0
	var domain string
	switch {
	case d != nil:
		domain = d.GetDomain()
	case sl.ord != nil:
		domain = sl.ord.GetKey().GetDomain()
	case sl.susp != nil:
		domain = sl.susp.GetKey().GetDomain()
	}
	// Destructive steps on unwanted instances need a fresh domain.
	mayRetire := p.fresh[domain]
	ord, susp := sl.ord, sl.susp

	if e := sl.evac; e != nil && !p.present(e) {
		p.add(&change{kind: kindPruneEvacuating, expect: []*bbsv1.ActualLRP{e}, del: []*bbsv1.ActualLRP{e},
			events: []*bbsv1.SubscribeToEventsResponse{models.ActualRemoved(e)}})
	}

	if susp != nil {
		switch {
		case !wanted && !mayRetire:
		case !wanted || (ord != nil && ord.GetState() == running):
			// Not wanted, or its replacement runs: the suspect goes.
			c := &change{kind: kindRemoveSuspect, expect: []*bbsv1.ActualLRP{susp}, del: []*bbsv1.ActualLRP{susp},
				events: []*bbsv1.SubscribeToEventsResponse{models.ActualRemoved(susp)}}
			// Its container is stopped unless it is the ordinary instance
			// too (a start that raced with the suspect's creation).
			if p.present(susp) && (ord == nil || !sameInstance(ord.GetInstanceKey(), susp.GetInstanceKey())) {
				c.stops = append(c.stops, stopOf(susp))
			}
			p.add(c)
		case p.present(susp):
			// Its cell is back and its replacement does not run: it is
			// the ordinary instance again; the replacement goes.
			// The replacement's row is overwritten in place rather than
			// deleted and inserted again, so that transactions waiting
			// for its lock find the promoted record.
			promoted := clone(susp)
			promoted.Presence = ordinary
			promoted.ModificationTag = bumped(susp.GetModificationTag())
			c := &change{kind: kindPromoteSuspect, expect: []*bbsv1.ActualLRP{susp}, delAfter: []*bbsv1.ActualLRP{susp}}
			if ord == nil {
				c.ins = promoted
			} else {
				c.expect = append(c.expect, ord)
				c.upd = append(c.upd, promoted)
				c.events = append(c.events, models.ActualRemoved(ord))
				if ord.GetState() == claimed {
					c.stops = append(c.stops, stopOf(ord))
				}
			}
			c.events = append(c.events, models.ActualChanged(susp, promoted))
			p.add(c)
			return
		}
	}

	if ord == nil {
		if wanted {
			a := newUnclaimed(&bbsv1.ActualLRPKey{ProcessGuid: d.GetProcessGuid(), Index: index, Domain: d.GetDomain()}, now)
			p.add(&change{kind: kindMissing, ins: a, events: []*bbsv1.SubscribeToEventsResponse{models.ActualCreated(a)},
				auction: d, index: index})
		}
		return
	}

	st := ord.GetState()
	if (st == claimed || st == running) && !p.present(ord) {
		p.missingCells[ord.GetInstanceKey().GetCellId()] = true
	}

	if !wanted {
		if !mayRetire {
			return
		}
		if (st == claimed || st == running) && p.present(ord) {
			// Its cell stops it, then removes the record.
			p.add(&change{kind: kindRetire, stops: []models.StopInstance{stopOf(ord)}})
			return
		}
		p.add(&change{kind: kindRetire, expect: []*bbsv1.ActualLRP{ord}, del: []*bbsv1.ActualLRP{ord},
			events: []*bbsv1.SubscribeToEventsResponse{models.ActualRemoved(ord)}})
		return
	}

	switch {
	case st == running && !p.present(ord):
		// Keep the unreachable instance as SUSPECT (it may still serve)
		// and place a replacement.
		s := clone(ord)
		s.Presence = suspect
		s.ModificationTag = bumped(ord.GetModificationTag())
		fresh := newUnclaimed(ord.GetKey(), now)
		p.add(&change{kind: kindReschedule, expect: []*bbsv1.ActualLRP{ord}, ins: s, upd: []*bbsv1.ActualLRP{fresh},
			events:  []*bbsv1.SubscribeToEventsResponse{models.ActualChanged(ord, s), models.ActualCreated(fresh)},
			auction: d, index: index})
	case st == claimed && !p.present(ord):
		after := unclaimedCopy(ord, now)
		p.add(&change{kind: kindReschedule, expect: []*bbsv1.ActualLRP{ord}, upd: []*bbsv1.ActualLRP{after},
			events: []*bbsv1.SubscribeToEventsResponse{models.ActualChanged(ord, after)}, auction: d, index: index})
	case st == crashed && p.store.restart.ShouldRestart(p.now, timeOf(ord.GetSince()), ord.GetCrashCount()):
		after := unclaimedCopy(ord, now)
		p.add(&change{kind: kindRestart, expect: []*bbsv1.ActualLRP{ord}, upd: []*bbsv1.ActualLRP{after},
			events: []*bbsv1.SubscribeToEventsResponse{models.ActualChanged(ord, after)}, auction: d, index: index})
	case st == unclaimed && p.now.Sub(timeOf(ord.GetSince())) >= p.store.stale:
		// Ask again without touching the record: since keeps meaning the
		// last state change, so it is asked for on every pass until
		// placed, as in Diego.
		p.add(&change{kind: kindStale, auction: d, index: index})
	}
}

// unclaimedCopy is before made UNCLAIMED at now, keeping its crash count.
func unclaimedCopy(before *bbsv1.ActualLRP, now int64) *bbsv1.ActualLRP {
	after := clone(before)
	after.State = unclaimed
	after.InstanceKey = nil
	after.NetInfo = nil
	after.Routable = false
	after.Since = now
	after.ModificationTag = bumped(before.GetModificationTag())
	return after
}

// apply writes the changes in one transaction, marking those it had to
// drop.
func (s *Store) apply(ctx context.Context, changes []*change) error {
	var lockKeys []pk
	for _, c := range changes {
		for _, a := range c.expect {
			lockKeys = append(lockKeys, keyOf(a))
		}
	}
	if !slices.ContainsFunc(changes, (*change).writes) {
		return nil
	}
	return s.inTx(ctx, "apply", func(tx pgx.Tx) error {
		current, err := lockActuals(ctx, tx, lockKeys)
		if err != nil {
			return err
		}
		for _, c := range changes {
			for _, a := range c.expect {
				cur := current[keyOf(a)]
				if cur == nil || cur.GetModificationTag().GetEpoch() != a.GetModificationTag().GetEpoch() ||
					cur.GetModificationTag().GetIndex() != a.GetModificationTag().GetIndex() {
					c.dropped = true
				}
			}
		}
		live := func(pick func(*change) []*bbsv1.ActualLRP) []*bbsv1.ActualLRP {
			var out []*bbsv1.ActualLRP
			for _, c := range changes {
				if !c.dropped {
					out = append(out, pick(c)...)
				}
			}
			return out
		}
		if err := deleteActuals(ctx, tx, live(func(c *change) []*bbsv1.ActualLRP { return c.del })...); err != nil {
			return err
		}
		inserts := live(func(c *change) []*bbsv1.ActualLRP {
			if c.ins == nil {
				return nil
			}
			return []*bbsv1.ActualLRP{c.ins}
		})
		inserted, err := insertActuals(ctx, tx, inserts)
		if err != nil {
			return err
		}
		for _, c := range changes {
			if !c.dropped && c.ins != nil && !inserted[keyOf(c.ins)] {
				// No change both deletes and inserts, so nothing of it
				// was written yet.
				c.dropped = true
			}
		}
		if err := updateActuals(ctx, tx, live(func(c *change) []*bbsv1.ActualLRP { return c.upd })...); err != nil {
			return err
		}
		return deleteActuals(ctx, tx, live(func(c *change) []*bbsv1.ActualLRP { return c.delAfter })...)
	})
}

// report gathers the applied changes' work and the pass's statistics.
func report(snap *snapshot, p planner) (models.Result, ConvergeStats) {
	var (
		res      models.Result
		stats    ConvergeStats
		auctions = map[string]*auctioneerv1.LRPStartRequest{}
		crashes  = map[string]int{}
	)
	count := func(a *bbsv1.ActualLRP, n int) {
		switch a.GetPresence() {
		case suspect:
			stats.Suspect += n
		case evacuating:
			stats.Evacuating += n
		case ordinary:
			switch a.GetState() {
			case unclaimed:
				stats.Unclaimed += n
			case claimed:
				stats.Claimed += n
			case running:
				stats.Running += n
			case crashed:
				stats.Crashed += n
				crashes[a.GetKey().GetProcessGuid()] += n
			}
		}
	}
	for _, d := range snap.desired {
		stats.DesiredLRPs++
		stats.Desired += int(d.GetInstances())
	}
	for _, slots := range snap.actual {
		for _, sl := range slots {
			for _, a := range []*bbsv1.ActualLRP{sl.ord, sl.evac, sl.susp} {
				if a != nil {
					count(a, 1)
				}
			}
		}
	}
	for _, c := range p.changes {
		if c.dropped {
			stats.Skipped++
			continue
		}
		before := map[pk]*bbsv1.ActualLRP{}
		for _, a := range c.expect {
			before[keyOf(a)] = a
		}
		for _, a := range append(slices.Clip(c.del), c.delAfter...) {
			count(a, -1)
		}
		for _, a := range c.upd {
			count(before[keyOf(a)], -1)
			count(a, 1)
		}
		if c.ins != nil {
			count(c.ins, 1)
		}
		switch c.kind {
		case kindMissing:
			stats.Missing++
		case kindRetire:
			stats.Extra++
		case kindRestart:
			stats.Restarted++
		case kindStale:
			stats.StaleUnclaimed++
		case kindReschedule:
			stats.Rescheduled++
		}
		res.Events = append(res.Events, c.events...)
		res.Stops = append(res.Stops, c.stops...)
		if c.auction != nil {
			guid := c.auction.GetProcessGuid()
			if r := auctions[guid]; r != nil {
				r.Indices = append(r.Indices, c.index)
			} else {
				r = models.StartRequest(c.auction, c.index)
				auctions[guid] = r
				res.LRPAuctions = append(res.LRPAuctions, r)
			}
		}
	}
	for _, d := range snap.desired {
		if crashes[d.GetProcessGuid()] > 0 {
			stats.CrashingDesired++
		}
	}
	for cell := range p.missingCells {
		stats.MissingCells = append(stats.MissingCells, cell)
	}
	slices.Sort(stats.MissingCells)
	return res, stats
}
