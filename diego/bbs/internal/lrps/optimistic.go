package lrps

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// Claims and starts are most of the BBS's writes: every placed instance
// costs one of each. They usually change one record, so they first run
// optimistically, without a transaction: read the slot, decide, and write
// the one changed record with a compare-and-set on its modification tag,
// a single statement that is its own transaction. When the decision needs
// more than that one write (a start that removes a SUSPECT record, or
// creates the record), is refused (the refusal is then confirmed under the
// lock), or the compare-and-set finds the record changed, the operation
// runs again the locked way: SELECT … FOR UPDATE in a transaction. Both ways
// run the same decision code, through a writer.

// writer applies a decision's writes.
type writer interface {
	update(ctx context.Context, recs ...*bbsv1.ActualLRP) error
	insert(ctx context.Context, a *bbsv1.ActualLRP) (bool, error)
	delete(ctx context.Context, recs ...*bbsv1.ActualLRP) error
}

// txWriter writes inside the locked transaction.
type txWriter struct{ q querier }

func (w txWriter) update(ctx context.Context, recs ...*bbsv1.ActualLRP) error {
	return updateActuals(ctx, w.q, recs...)
}

func (w txWriter) insert(ctx context.Context, a *bbsv1.ActualLRP) (bool, error) {
	return insertActual(ctx, w.q, a)
}

func (w txWriter) delete(ctx context.Context, recs ...*bbsv1.ActualLRP) error {
	return deleteActuals(ctx, w.q, recs...)
}

// bufWriter only records what a decision would write.
type bufWriter struct {
	updates []*bbsv1.ActualLRP
	other   bool // an insert or a delete: not for the optimistic path
}

func (w *bufWriter) update(_ context.Context, recs ...*bbsv1.ActualLRP) error {
	w.updates = append(w.updates, recs...)
	return nil
}

func (w *bufWriter) insert(context.Context, *bbsv1.ActualLRP) (bool, error) {
	w.other = true
	return true, nil
}

func (w *bufWriter) delete(_ context.Context, recs ...*bbsv1.ActualLRP) error {
	if len(recs) > 0 {
		w.other = true
	}
	return nil
}

// slotOp runs op on one instance slot: optimistically first, then, when
// that does not settle it, in a transaction holding the slot's row locks.
func (s *Store) slotOp(ctx context.Context, name, guid string, index int32, op func(writer, slot) (models.Result, error)) (models.Result, error) {
	res, done, err := s.tryOptimistic(ctx, guid, index, op)
	if err != nil {
		return models.Result{}, fmt.Errorf("%s: %w", name, err)
	}
	if done {
		return res, nil
	}
	err = s.inTx(ctx, name, func(tx pgx.Tx) error {
		var err error
		res, err = withSlot(ctx, tx, guid, index, func(sl slot) (models.Result, error) {
			return op(txWriter{q: tx}, sl)
		})
		return err
	})
	if err != nil {
		return models.Result{}, err
	}
	return res, nil
}

// tryOptimistic runs op on an unlocked read of the slot and applies it when
// it is exactly one record update, compare-and-set on that record's tag. It
// reports whether the operation is settled; errors are database failures
// only.
func (s *Store) tryOptimistic(ctx context.Context, guid string, index int32, op func(writer, slot) (models.Result, error)) (models.Result, bool, error) {
	sl, err := readSlot(ctx, s.pool, guid, index)
	if err != nil {
		return models.Result{}, false, err
	}
	var w bufWriter
	res, err := op(&w, sl)
	switch {
	case err != nil, w.other, len(w.updates) > 1:
		return models.Result{}, false, nil
	case len(w.updates) == 0:
		return res, true, nil
	}
	after := w.updates[0]
	before := sl.byPresence(after.GetPresence())
	if before == nil {
		return models.Result{}, false, nil
	}
	ok, err := casUpdate(ctx, s.pool, before.GetModificationTag(), after)
	if err != nil {
		return models.Result{}, false, err
	}
	return res, ok, nil
}

// byPresence returns the slot's record of presence p, or nil.
func (sl slot) byPresence(p bbsv1.Presence) *bbsv1.ActualLRP {
	switch p {
	case ordinary:
		return sl.ord
	case evacuating:
		return sl.evac
	case suspect:
		return sl.susp
	}
	return nil
}
