package cellregistry

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// member is what the registry knows of one live cluster member.
type member struct {
	kind    kind // 0 when its metadata was rejected
	leaving bool
	cell    *bbsv1.CellPresence // kindCell only; never handed out
}

// schedulable reports whether m counts as a cell: Cells lists it and
// subscribers have been told it joined.
func (m *member) schedulable() bool {
	return m != nil && m.kind == kindCell && !m.leaving
}

// events receives memberlist's membership callbacks. memberlist calls them
// with its node lock held, so they must not call back into memberlist
// (see the lock order in doc.go).
type events struct{ r *Registry }

var _ memberlist.EventDelegate = events{}

func (e events) NotifyJoin(n *memberlist.Node)   { e.r.nodeAlive(n) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.r.nodeAlive(n) }
func (e events) NotifyLeave(n *memberlist.Node)  { e.r.nodeGone(n) }

// nodeAlive handles a member that joined or changed its metadata.
func (r *Registry) nodeAlive(n *memberlist.Node) {
	m, err := decodeMeta(n.Meta)
	if err == nil && m.kind == kindCell && m.cell.GetCellId() != n.Name {
		err = fmt.Errorf("%w: node name %q is not the cell_id %q", errInvalidMetadata, n.Name, m.cell.GetCellId())
	}
	addr := n.Address()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if n.Name == r.name {
		r.addr = addr
	} else {
		r.markJoined()
	}
	cur := &member{}
	if err != nil {
		// memberlist calls back only when a member's metadata changes, so
		// this counts and logs each bad metadata once.
		r.metrics.badMetadata.Inc()
		r.logger.Warn("ignoring cluster member with invalid metadata", "node", n.Name, "addr", addr, "err", err)
	} else {
		cur.kind, cur.leaving, cur.cell = m.kind, m.leaving, m.cell
	}
	old := r.members[n.Name]
	r.members[n.Name] = cur
	// This member's own view of itself is not news.
	info := slog.LevelInfo
	if n.Name == r.name {
		info = slog.LevelDebug
	}

	switch was, is := old.schedulable(), cur.schedulable(); {
	case !was && is:
		r.logger.Log(context.Background(), info, "cell joined", "cell_id", cur.cell.GetCellId(), "addr", addr,
			"rep_address", cur.cell.GetRepAddress(), "zone", cur.cell.GetZone())
		r.publishLocked(Joined, cur.cell)
	case was && is:
		if !proto.Equal(old.cell, cur.cell) {
			c := cur.cell.GetCapacity()
			r.logger.Debug("cell updated", "cell_id", cur.cell.GetCellId(), "memory_mb", c.GetMemoryMb(),
				"disk_mb", c.GetDiskMb(), "containers", c.GetContainers())
			r.publishLocked(Updated, cur.cell)
		}
	case was && cur.kind == kindCell && cur.leaving:
		r.logger.Log(context.Background(), info, "cell leaving", "cell_id", old.cell.GetCellId(), "addr", addr)
		r.publishLocked(Left, old.cell)
	case was:
		r.logger.Warn("cell no longer publishes a cell presence; treating it as failed", "cell_id", old.cell.GetCellId(), "addr", addr)
		r.publishLocked(Failed, old.cell)
	case old == nil && cur.kind == kindObserver:
		r.logger.Debug("observer joined", "node", n.Name, "addr", addr)
	}
	r.setCellsGaugeLocked()
}

// nodeGone handles a member that left or was declared dead. memberlist's
// Node.State does not say which (v0.7.0 leaves it at StateAlive), hence
// the leaving flag in the envelope: a cell that announced its leave was
// already reported as Left.
func (r *Registry) nodeGone(n *memberlist.Node) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	old, ok := r.members[n.Name]
	if !ok {
		return
	}
	delete(r.members, n.Name)
	switch {
	case old.schedulable():
		r.logger.Warn("cell failed", "cell_id", old.cell.GetCellId(), "addr", n.Address())
		r.publishLocked(Failed, old.cell)
	case old.kind == kindCell:
		r.logger.Debug("cell left", "cell_id", old.cell.GetCellId(), "addr", n.Address())
	default:
		r.logger.Debug("member gone", "node", n.Name, "kind", old.kind.String(), "addr", n.Address())
	}
	r.setCellsGaugeLocked()
	select {
	case r.peerLost <- struct{}{}:
	default:
	}
}

// Cells returns the cells alive in the cluster as this member sees them,
// sorted by cell_id. Each is the caller's own copy. Cells that announced
// their leave are not included. Empty before Run and after Run returns.
func (r *Registry) Cells() []*bbsv1.CellPresence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cellsLocked()
}

func (r *Registry) cellsLocked() []*bbsv1.CellPresence {
	cells := make([]*bbsv1.CellPresence, 0, len(r.members))
	for _, m := range r.members {
		if m.schedulable() {
			cells = append(cells, proto.CloneOf(m.cell))
		}
	}
	slices.SortFunc(cells, func(a, b *bbsv1.CellPresence) int { return cmp.Compare(a.GetCellId(), b.GetCellId()) })
	return cells
}

// Cell returns a copy of the presence of the cell with the given id, and
// whether it is in Cells.
func (r *Registry) Cell(id string) (*bbsv1.CellPresence, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A cell's node name is its cell_id (nodeAlive rejects others).
	m := r.members[id]
	if !m.schedulable() {
		return nil, false
	}
	return proto.CloneOf(m.cell), true
}

// isolated reports whether this member should (re)join its seeds: a cell
// that sees no observer is invisible to the scheduler; an observer that
// sees no other member at all is alone.
func (r *Registry) isolated() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, m := range r.members {
		if name == r.name {
			continue
		}
		if !r.isCell || m.kind == kindObserver {
			return false
		}
	}
	return true
}

func (r *Registry) setCellsGaugeLocked() {
	n := 0
	for _, m := range r.members {
		if m.schedulable() {
			n++
		}
	}
	r.metrics.cells.Set(float64(n))
}
