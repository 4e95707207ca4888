// Package server implements the BBS's gRPC API (bbs.v1.BBSService) over the
// LRP and task stores.
//
// Every mutating call commits in its store and then hands the store's
// models.Result to Effects, which publishes the events and sets off
// auctions, stops and callbacks. Calls that change the same record are
// serialised by striped locks held across commit and publish, so the events
// of one record always come out in the order the changes committed: a
// change of one instance slot holds its LRP's stripe shared and the slot's
// stripe exclusively; a change of a desired LRP (which may touch all its
// instances) holds the LRP's stripe exclusively; a task change holds the
// task's stripe.
package server

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/events"
	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
)

// DefaultHeartbeatInterval is how often an idle event stream gets a
// heartbeat.
const DefaultHeartbeatInterval = 30 * time.Second

// Effects carries out a committed change's Result.
type Effects interface {
	Apply(r models.Result)
}

// Cells lists the registry's cells.
type Cells interface {
	Cells() []*bbsv1.CellPresence
}

// Deps are what the server works with.
type Deps struct {
	LRPs    *lrps.Store
	Tasks   *tasks.Store
	Events  *events.Hub
	Effects Effects
	Cells   Cells
	Logger  *slog.Logger
}

// Options tunes the server.
type Options struct {
	HeartbeatInterval time.Duration
}

// Server is the BBSService implementation.
type Server struct {
	bbsv1.UnimplementedBBSServiceServer
	deps    Deps
	opts    Options
	seed    maphash.Seed
	stripes [256]sync.RWMutex // by LRP process guid, or "task/<guid>"
	slots   [1024]sync.Mutex  // by "<process guid>/<index>"
}

// New returns a Server.
func New(opts Options, deps Deps) *Server {
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	return &Server{deps: deps, opts: opts, seed: maphash.MakeSeed()}
}

// serialize runs f holding key's stripe exclusively, then applies f's
// Result while still holding it. Errors come back as gRPC statuses. Desired
// LRP changes (which touch every instance of the LRP) and task changes use
// it.
func (s *Server) serialize(key string, f func() (models.Result, error)) error {
	return toStatus(s.serializeRaw(key, f))
}

// serializeRaw is serialize with f's error returned as it is.
func (s *Server) serializeRaw(key string, f func() (models.Result, error)) error {
	m := &s.stripes[maphash.String(s.seed, key)%uint64(len(s.stripes))]
	m.Lock()
	defer m.Unlock()
	return s.apply(f)
}

// serializeSlot runs a change of one instance slot: it holds the LRP's
// stripe shared (so it waits for desired LRP changes, but not for other
// slots of the same LRP) and the slot's own stripe exclusively. Lock order:
// LRP stripe, then slot stripe.
func (s *Server) serializeSlot(guid string, index int32, f func() (models.Result, error)) error {
	return toStatus(s.serializeSlotRaw(guid, index, f))
}

func (s *Server) serializeSlotRaw(guid string, index int32, f func() (models.Result, error)) error {
	lrp := &s.stripes[maphash.String(s.seed, guid)%uint64(len(s.stripes))]
	lrp.RLock()
	defer lrp.RUnlock()
	slot := &s.slots[maphash.String(s.seed, guid+"/"+strconv.Itoa(int(index)))%uint64(len(s.slots))]
	slot.Lock()
	defer slot.Unlock()
	return s.apply(f)
}

func (s *Server) apply(f func() (models.Result, error)) error {
	r, err := f()
	if err != nil {
		return err
	}
	s.deps.Effects.Apply(r)
	return nil
}

// toStatus passes typed BBS errors through and turns anything else (a
// database failure) into a generic unavailable error, without leaking
// internals.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if bbsv1.ErrorTypeOf(err) != bbsv1.ErrorType_ERROR_TYPE_UNSPECIFIED {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "request deadline exceeded")
	}
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_UNAVAILABLE, "the BBS store failed: %v", err)
}

func invalid(format string, args ...any) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST, format, args...)
}

// Ping answers that this BBS serves: only the active BBS listens.
func (s *Server) Ping(context.Context, *bbsv1.PingRequest) (*bbsv1.PingResponse, error) {
	return &bbsv1.PingResponse{Available: true}, nil
}

// ListCells lists the registry's cells.
func (s *Server) ListCells(context.Context, *bbsv1.ListCellsRequest) (*bbsv1.ListCellsResponse, error) {
	return &bbsv1.ListCellsResponse{Cells: s.deps.Cells.Cells()}, nil
}

// UpsertDomain marks a domain fresh.
func (s *Server) UpsertDomain(ctx context.Context, req *bbsv1.UpsertDomainRequest) (*bbsv1.UpsertDomainResponse, error) {
	if req.GetDomain() == "" {
		return nil, invalid("domain is required")
	}
	ttl := time.Duration(req.GetTtlSeconds()) * time.Second
	if err := s.deps.LRPs.UpsertDomain(ctx, req.GetDomain(), ttl); err != nil {
		return nil, toStatus(err)
	}
	return &bbsv1.UpsertDomainResponse{}, nil
}

// ListDomains lists fresh domains.
func (s *Server) ListDomains(ctx context.Context, _ *bbsv1.ListDomainsRequest) (*bbsv1.ListDomainsResponse, error) {
	ds, err := s.deps.LRPs.FreshDomains(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &bbsv1.ListDomainsResponse{Domains: ds}, nil
}
