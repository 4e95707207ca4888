package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
)

// cell records what reaches it.
type cell struct {
	performed []*repv1.PerformRequest
	stops     []string
	cancels   []string
	err       error
}

func (c *cell) State() *repv1.StateResponse { return &repv1.StateResponse{CellId: "cell-1"} }

func (c *cell) Perform(_ context.Context, req *repv1.PerformRequest) *repv1.PerformResponse {
	c.performed = append(c.performed, req)
	return &repv1.PerformResponse{FailedLrps: []*repv1.WorkFailure{{ProcessGuid: "x", Reason: "insufficient resources: memory"}}}
}

func (c *cell) StopLRPInstance(_ context.Context, key *bbsv1.ActualLRPKey, _ *bbsv1.ActualLRPInstanceKey) error {
	c.stops = append(c.stops, key.GetProcessGuid())
	return c.err
}

func (c *cell) CancelTask(_ context.Context, guid string) error {
	c.cancels = append(c.cancels, guid)
	return c.err
}

func TestPerformValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  *repv1.PerformRequest
		want string // empty: accepted
	}{
		{"valid", &repv1.PerformRequest{Lrps: []*repv1.LRPWork{{ProcessGuid: "web", MemoryMb: 1}},
			Tasks: []*bbsv1.Task{{TaskGuid: "t", Definition: &bbsv1.TaskDefinition{Action: &bbsv1.RunAction{Path: "/bin/true"}}}}}, ""},
		{"empty", &repv1.PerformRequest{}, ""},
		{"no process guid", &repv1.PerformRequest{Lrps: []*repv1.LRPWork{{}}}, "lrps[0]: process_guid is empty"},
		{"negative index", &repv1.PerformRequest{Lrps: []*repv1.LRPWork{{ProcessGuid: "p", Index: -1}}}, "index is negative"},
		{"negative memory", &repv1.PerformRequest{Lrps: []*repv1.LRPWork{{ProcessGuid: "p", MemoryMb: -1}}}, "must not be negative"},
		{"no task guid", &repv1.PerformRequest{Tasks: []*bbsv1.Task{{}}}, "tasks[0]: task_guid is empty"},
		{"no action", &repv1.PerformRequest{Tasks: []*bbsv1.Task{{TaskGuid: "t", Definition: &bbsv1.TaskDefinition{}}}}, "no definition or action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &cell{}
			resp, err := New(c, "cell-1", nil).Perform(context.Background(), tt.req)
			if tt.want == "" {
				if err != nil || len(c.performed) != 1 || len(resp.GetFailedLrps()) != 1 {
					t.Errorf("Perform = %v, %v; performed %d", resp, err, len(c.performed))
				}
				return
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.want) || len(c.performed) != 0 {
				t.Errorf("Perform err = %v, want InvalidArgument %q", err, tt.want)
			}
		})
	}
}

func TestStopAndCancel(t *testing.T) {
	t.Parallel()
	key := &bbsv1.ActualLRPKey{ProcessGuid: "web"}
	tests := []struct {
		name string
		req  *repv1.StopLRPInstanceRequest
		err  error
		code codes.Code
	}{
		{"ok", &repv1.StopLRPInstanceRequest{Key: key, InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "cell-1"}}, nil, codes.OK},
		{"other cell", &repv1.StopLRPInstanceRequest{Key: key, InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "cell-2"}}, nil, codes.FailedPrecondition},
		{"no instance guid", &repv1.StopLRPInstanceRequest{Key: key, InstanceKey: &bbsv1.ActualLRPInstanceKey{CellId: "cell-1"}}, nil, codes.InvalidArgument},
		{"bbs error passes through", &repv1.StopLRPInstanceRequest{Key: key, InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "cell-1"}},
			bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_UNAVAILABLE, "down"), codes.Unavailable},
		{"other errors are internal", &repv1.StopLRPInstanceRequest{Key: key, InstanceKey: &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "cell-1"}},
			errors.New("boom"), codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(&cell{err: tt.err}, "cell-1", nil).StopLRPInstance(context.Background(), tt.req)
			if status.Code(err) != tt.code {
				t.Errorf("StopLRPInstance = %v, want %v", err, tt.code)
			}
		})
	}
	c := &cell{}
	s := New(c, "cell-1", nil)
	if _, err := s.CancelTask(context.Background(), &repv1.CancelTaskRequest{TaskGuid: "t"}); err != nil || len(c.cancels) != 1 {
		t.Errorf("CancelTask = %v, cancels %v", err, c.cancels)
	}
	if _, err := s.CancelTask(context.Background(), &repv1.CancelTaskRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("CancelTask without guid = %v", err)
	}
}
