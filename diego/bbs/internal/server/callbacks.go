package server

import (
	"context"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// CallbackStore is the task store as the callback workers should use it:
// through the same per-task lock as API calls, with the Result applied
// before the lock is released. The Results it returns are empty (already
// applied).
func (s *Server) CallbackStore() CallbackStore { return CallbackStore{s: s} }

// CallbackStore implements the callback workers' store.
type CallbackStore struct{ s *Server }

// ResolvingTask marks a task as being resolved.
func (c CallbackStore) ResolvingTask(ctx context.Context, guid string) (models.Result, error) {
	return models.Result{}, c.s.serializeRaw("task/"+guid, func() (models.Result, error) {
		return c.s.deps.Tasks.ResolvingTask(ctx, guid)
	})
}

// DeleteTask removes a resolved task.
func (c CallbackStore) DeleteTask(ctx context.Context, guid string) (models.Result, error) {
	return models.Result{}, c.s.serializeRaw("task/"+guid, func() (models.Result, error) {
		return c.s.deps.Tasks.DeleteTask(ctx, guid)
	})
}

// Remover is the LRP store's RemoveActualLRP through the per-LRP lock, with
// the Result applied before the lock is released (the Results it returns
// are empty). Effects uses it to forget instances of cells that are gone.
type Remover struct{ s *Server }

// Remover returns the server's Remover.
func (s *Server) Remover() Remover { return Remover{s: s} }

// RemoveActualLRP deletes an instance record.
func (r Remover) RemoveActualLRP(ctx context.Context, guid string, index int32, ik *bbsv1.ActualLRPInstanceKey) (models.Result, error) {
	return models.Result{}, r.s.serializeSlotRaw(guid, index, func() (models.Result, error) {
		return r.s.deps.LRPs.RemoveActualLRP(ctx, guid, index, ik)
	})
}
