// Package server is the auctioneer's gRPC AuctioneerService: it validates
// auction requests, turns them into queue items (one per LRP instance, one
// per task) and returns at once; the auction loop places them later.
//
// A request is taken whole or not at all: one invalid entry fails the call
// with InvalidArgument naming it, and a full queue fails it with
// ResourceExhausted, so the caller (the BBS) can retry or leave the work to
// convergence.
package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/batch"
)

// Queue takes validated work.
type Queue interface {
	Add(items []batch.Item) error
}

// Server implements auctioneerv1.AuctioneerServiceServer.
type Server struct {
	auctioneerv1.UnimplementedAuctioneerServiceServer
	queue  Queue
	logger *slog.Logger
}

// New returns a server adding work to queue.
func New(queue Queue, logger *slog.Logger) *Server {
	return &Server{queue: queue, logger: logger}
}

// RequestLRPAuctions queues every requested instance.
func (s *Server) RequestLRPAuctions(ctx context.Context, req *auctioneerv1.RequestLRPAuctionsRequest) (*auctioneerv1.RequestLRPAuctionsResponse, error) {
	if err := validateLRPStarts(req.GetStarts()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var items []batch.Item
	for _, st := range req.GetStarts() {
		for _, index := range st.GetIndices() {
			items = append(items, batch.Item{LRP: &repv1.LRPWork{
				ProcessGuid:   st.GetProcessGuid(),
				Domain:        st.GetDomain(),
				Index:         index,
				MemoryMb:      st.GetMemoryMb(),
				DiskMb:        st.GetDiskMb(),
				MaxPids:       st.GetMaxPids(),
				RootFs:        st.GetRootFs(),
				PlacementTags: st.GetPlacementTags(),
			}})
		}
	}
	if err := s.add(ctx, items); err != nil {
		return nil, err
	}
	return &auctioneerv1.RequestLRPAuctionsResponse{}, nil
}

// RequestTaskAuctions queues every requested task.
func (s *Server) RequestTaskAuctions(ctx context.Context, req *auctioneerv1.RequestTaskAuctionsRequest) (*auctioneerv1.RequestTaskAuctionsResponse, error) {
	if err := validateTasks(req.GetTasks()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	items := make([]batch.Item, 0, len(req.GetTasks()))
	for _, t := range req.GetTasks() {
		items = append(items, batch.Item{Task: t})
	}
	if err := s.add(ctx, items); err != nil {
		return nil, err
	}
	return &auctioneerv1.RequestTaskAuctionsResponse{}, nil
}

func (s *Server) add(ctx context.Context, items []batch.Item) error {
	if len(items) == 0 {
		return nil
	}
	if err := s.queue.Add(items); err != nil {
		if errors.Is(err, batch.ErrFull) {
			return status.Error(codes.ResourceExhausted, err.Error())
		}
		return status.Error(codes.Internal, err.Error())
	}
	s.logger.DebugContext(ctx, "auctions queued", "items", len(items))
	return nil
}
