package server

import (
	"context"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
)

// taskCall runs one task change under the task's stripe.
func (s *Server) taskCall(guid string, f func() (models.Result, error)) error {
	if guid == "" {
		return invalid("task_guid is required")
	}
	return s.serialize("task/"+guid, f)
}

// DesireTask creates a task.
func (s *Server) DesireTask(ctx context.Context, req *bbsv1.DesireTaskRequest) (*bbsv1.DesireTaskResponse, error) {
	err := s.taskCall(req.GetTaskGuid(), func() (models.Result, error) {
		return s.deps.Tasks.DesireTask(ctx, req.GetTaskGuid(), req.GetDomain(), req.GetDefinition())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.DesireTaskResponse{}, nil
}

// StartTask: a cell starts a task.
func (s *Server) StartTask(ctx context.Context, req *bbsv1.StartTaskRequest) (*bbsv1.StartTaskResponse, error) {
	if req.GetCellId() == "" {
		return nil, invalid("cell_id is required")
	}
	var start bool
	err := s.taskCall(req.GetTaskGuid(), func() (models.Result, error) {
		should, r, err := s.deps.Tasks.StartTask(ctx, req.GetTaskGuid(), req.GetCellId())
		start = should
		return r, err
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.StartTaskResponse{ShouldStart: start}, nil
}

// CancelTask cancels a task.
func (s *Server) CancelTask(ctx context.Context, req *bbsv1.CancelTaskRequest) (*bbsv1.CancelTaskResponse, error) {
	err := s.taskCall(req.GetTaskGuid(), func() (models.Result, error) {
		return s.deps.Tasks.CancelTask(ctx, req.GetTaskGuid())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.CancelTaskResponse{}, nil
}

// FailTask: a task could not be placed.
func (s *Server) FailTask(ctx context.Context, req *bbsv1.FailTaskRequest) (*bbsv1.FailTaskResponse, error) {
	err := s.taskCall(req.GetTaskGuid(), func() (models.Result, error) {
		return s.deps.Tasks.FailTask(ctx, req.GetTaskGuid(), req.GetFailureReason())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.FailTaskResponse{}, nil
}

// RejectTask: a cell refused a task.
func (s *Server) RejectTask(ctx context.Context, req *bbsv1.RejectTaskRequest) (*bbsv1.RejectTaskResponse, error) {
	err := s.taskCall(req.GetTaskGuid(), func() (models.Result, error) {
		return s.deps.Tasks.RejectTask(ctx, req.GetTaskGuid(), req.GetRejectionReason())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.RejectTaskResponse{}, nil
}

// CompleteTask: a task's process exited.
func (s *Server) CompleteTask(ctx context.Context, req *bbsv1.CompleteTaskRequest) (*bbsv1.CompleteTaskResponse, error) {
	if req.GetCellId() == "" {
		return nil, invalid("cell_id is required")
	}
	err := s.taskCall(req.GetTaskGuid(), func() (models.Result, error) {
		return s.deps.Tasks.CompleteTask(ctx, tasks.CompleteRequest{
			GUID: req.GetTaskGuid(), CellID: req.GetCellId(), Failed: req.GetFailed(),
			FailureReason: req.GetFailureReason(), Result: req.GetResult(),
		})
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.CompleteTaskResponse{}, nil
}

// ResolvingTask: a client handles a completed task.
func (s *Server) ResolvingTask(ctx context.Context, req *bbsv1.ResolvingTaskRequest) (*bbsv1.ResolvingTaskResponse, error) {
	err := s.taskCall(req.GetTaskGuid(), func() (models.Result, error) {
		return s.deps.Tasks.ResolvingTask(ctx, req.GetTaskGuid())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.ResolvingTaskResponse{}, nil
}

// DeleteTask removes a resolved task.
func (s *Server) DeleteTask(ctx context.Context, req *bbsv1.DeleteTaskRequest) (*bbsv1.DeleteTaskResponse, error) {
	err := s.taskCall(req.GetTaskGuid(), func() (models.Result, error) {
		return s.deps.Tasks.DeleteTask(ctx, req.GetTaskGuid())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.DeleteTaskResponse{}, nil
}

// GetTask returns one task.
func (s *Server) GetTask(ctx context.Context, req *bbsv1.GetTaskRequest) (*bbsv1.GetTaskResponse, error) {
	if req.GetTaskGuid() == "" {
		return nil, invalid("task_guid is required")
	}
	t, err := s.deps.Tasks.Task(ctx, req.GetTaskGuid())
	if err != nil {
		return nil, toStatus(err)
	}
	return &bbsv1.GetTaskResponse{Task: t}, nil
}

// ListTasks lists tasks.
func (s *Server) ListTasks(ctx context.Context, req *bbsv1.ListTasksRequest) (*bbsv1.ListTasksResponse, error) {
	ts, err := s.deps.Tasks.Tasks(ctx, req.GetDomain(), req.GetCellId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &bbsv1.ListTasksResponse{Tasks: ts}, nil
}
