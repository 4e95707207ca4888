// Package server is the rep's gRPC RepService: it validates requests and
// hands them to the cell (the executor). Errors become gRPC codes here and
// nowhere else.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
)

// Cell is what the service serves: the executor.
type Cell interface {
	State() *repv1.StateResponse
	Perform(ctx context.Context, req *repv1.PerformRequest) *repv1.PerformResponse
	StopLRPInstance(ctx context.Context, key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey) error
	CancelTask(ctx context.Context, guid string) error
}

// Server implements repv1.RepServiceServer.
type Server struct {
	repv1.UnimplementedRepServiceServer
	cell   Cell
	cellID string
	logger *slog.Logger
}

// New returns the service for cell, whose id requests naming a cell must
// carry.
func New(cell Cell, cellID string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cell: cell, cellID: cellID, logger: logger}
}

// State reports the cell's capacity and allocations.
func (s *Server) State(context.Context, *repv1.StateRequest) (*repv1.StateResponse, error) {
	return s.cell.State(), nil
}

// Perform takes the work that fits.
func (s *Server) Perform(ctx context.Context, req *repv1.PerformRequest) (*repv1.PerformResponse, error) {
	if err := validatePerform(req); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp := s.cell.Perform(ctx, req)
	if n := len(resp.GetFailedLrps()) + len(resp.GetFailedTasks()); n > 0 {
		s.logger.Info("refused work", "lrps", len(resp.GetFailedLrps()), "tasks", len(resp.GetFailedTasks()))
	}
	return resp, nil
}

// StopLRPInstance stops an instance of this cell.
func (s *Server) StopLRPInstance(ctx context.Context, req *repv1.StopLRPInstanceRequest) (*repv1.StopLRPInstanceResponse, error) {
	switch {
	case req.GetKey().GetProcessGuid() == "":
		return nil, status.Error(codes.InvalidArgument, "key.process_guid is empty")
	case req.GetKey().GetIndex() < 0:
		return nil, status.Error(codes.InvalidArgument, "key.index is negative")
	case req.GetInstanceKey().GetInstanceGuid() == "":
		return nil, status.Error(codes.InvalidArgument, "instance_key.instance_guid is empty")
	case req.GetInstanceKey().GetCellId() != s.cellID:
		return nil, status.Errorf(codes.FailedPrecondition, "instance_key.cell_id %q is not this cell (%s)", req.GetInstanceKey().GetCellId(), s.cellID)
	}
	if err := s.cell.StopLRPInstance(ctx, req.GetKey(), req.GetInstanceKey()); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &repv1.StopLRPInstanceResponse{}, nil
}

// CancelTask stops a task of this cell.
func (s *Server) CancelTask(ctx context.Context, req *repv1.CancelTaskRequest) (*repv1.CancelTaskResponse, error) {
	if req.GetTaskGuid() == "" {
		return nil, status.Error(codes.InvalidArgument, "task_guid is empty")
	}
	if err := s.cell.CancelTask(ctx, req.GetTaskGuid()); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &repv1.CancelTaskResponse{}, nil
}

// validatePerform checks what the cell relies on.
func validatePerform(req *repv1.PerformRequest) error {
	var errs []error
	for i, w := range req.GetLrps() {
		switch {
		case w.GetProcessGuid() == "":
			errs = append(errs, fmt.Errorf("lrps[%d]: process_guid is empty", i))
		case w.GetIndex() < 0:
			errs = append(errs, fmt.Errorf("lrps[%d]: index is negative", i))
		case w.GetMemoryMb() < 0 || w.GetDiskMb() < 0 || w.GetMaxPids() < 0:
			errs = append(errs, fmt.Errorf("lrps[%d]: memory_mb, disk_mb and max_pids must not be negative", i))
		}
	}
	for i, t := range req.GetTasks() {
		def := t.GetDefinition()
		switch {
		case t.GetTaskGuid() == "":
			errs = append(errs, fmt.Errorf("tasks[%d]: task_guid is empty", i))
		case def == nil || def.GetAction() == nil:
			errs = append(errs, fmt.Errorf("tasks[%d]: no definition or action", i))
		case def.GetMemoryMb() < 0 || def.GetDiskMb() < 0 || def.GetMaxPids() < 0:
			errs = append(errs, fmt.Errorf("tasks[%d]: memory_mb, disk_mb and max_pids must not be negative", i))
		}
	}
	return errors.Join(errs...)
}

// toStatus maps an error from the cell: BBS errors keep their status,
// context errors become their codes, anything else is internal.
func toStatus(ctx context.Context, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Error(codes.Internal, err.Error())
}
