package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/batch"
)

// fakeQueue records what is added, or fails with err.
type fakeQueue struct {
	items []batch.Item
	err   error
}

func (q *fakeQueue) Add(items []batch.Item) error {
	if q.err != nil {
		return q.err
	}
	q.items = append(q.items, items...)
	return nil
}

func start(guid string, indices ...int32) *auctioneerv1.LRPStartRequest {
	return &auctioneerv1.LRPStartRequest{
		ProcessGuid: guid, Domain: "cf-apps", Indices: indices,
		MemoryMb: 256, DiskMb: 1024, MaxPids: 1024, RootFs: "preloaded:cflinuxfs4",
		PlacementTags: []string{"gpu"},
	}
}

func newTask(guid string) *bbsv1.Task {
	return &bbsv1.Task{TaskGuid: guid, Domain: "cf-tasks", Definition: &bbsv1.TaskDefinition{RootFs: "preloaded:cflinuxfs4", MemoryMb: 128, DiskMb: 256}}
}

func TestRequestLRPAuctions(t *testing.T) {
	t.Parallel()
	with := func(f func(*auctioneerv1.LRPStartRequest)) *auctioneerv1.LRPStartRequest {
		s := start("p", 0)
		f(s)
		return s
	}
	tests := []struct {
		name     string
		starts   []*auctioneerv1.LRPStartRequest
		wantCode codes.Code
		wantMsg  []string
		wantKeys []string
	}{
		{"several starts", []*auctioneerv1.LRPStartRequest{start("p", 0, 2), start("q", 1)}, codes.OK, nil, []string{"lrp p 0", "lrp p 2", "lrp q 1"}},
		{"empty request", nil, codes.OK, nil, nil},
		{"empty process guid", []*auctioneerv1.LRPStartRequest{with(func(s *auctioneerv1.LRPStartRequest) { s.ProcessGuid = "" })}, codes.InvalidArgument, []string{"starts[0]", "process_guid is empty"}, nil},
		{"empty domain", []*auctioneerv1.LRPStartRequest{with(func(s *auctioneerv1.LRPStartRequest) { s.Domain = "" })}, codes.InvalidArgument, []string{"domain is empty"}, nil},
		{"no indices", []*auctioneerv1.LRPStartRequest{start("p"), start("q", 0)}, codes.InvalidArgument, []string{`starts[0] ("p"): indices is empty`}, nil},
		{"negative index", []*auctioneerv1.LRPStartRequest{start("p", 0, -1)}, codes.InvalidArgument, []string{"index -1 is negative"}, nil},
		{"negative memory", []*auctioneerv1.LRPStartRequest{with(func(s *auctioneerv1.LRPStartRequest) { s.MemoryMb = -1 })}, codes.InvalidArgument, []string{"must not be negative"}, nil},
		{"negative disk", []*auctioneerv1.LRPStartRequest{with(func(s *auctioneerv1.LRPStartRequest) { s.DiskMb = -1 })}, codes.InvalidArgument, []string{"must not be negative"}, nil},
		{"negative pids", []*auctioneerv1.LRPStartRequest{with(func(s *auctioneerv1.LRPStartRequest) { s.MaxPids = -1 })}, codes.InvalidArgument, []string{"must not be negative"}, nil},
		{"empty root_fs", []*auctioneerv1.LRPStartRequest{with(func(s *auctioneerv1.LRPStartRequest) { s.RootFs = "" })}, codes.InvalidArgument, []string{"root_fs is empty"}, nil},
		{"every problem listed, nothing queued", []*auctioneerv1.LRPStartRequest{start("ok", 0), {ProcessGuid: "bad"}}, codes.InvalidArgument, []string{"starts[1]", "domain is empty", "indices is empty", "root_fs is empty"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := &fakeQueue{}
			s := New(q, slog.New(slog.DiscardHandler))
			_, err := s.RequestLRPAuctions(context.Background(), &auctioneerv1.RequestLRPAuctionsRequest{Starts: tt.starts})
			checkStatus(t, err, tt.wantCode, tt.wantMsg)
			var got []string
			for _, it := range q.items {
				got = append(got, it.Key())
			}
			if !slices.Equal(got, tt.wantKeys) {
				t.Errorf("queued %q, want %q", got, tt.wantKeys)
			}
		})
	}
}

func TestLRPWorkCarriesTheStart(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	s := New(q, slog.New(slog.DiscardHandler))
	if _, err := s.RequestLRPAuctions(context.Background(), &auctioneerv1.RequestLRPAuctionsRequest{Starts: []*auctioneerv1.LRPStartRequest{start("p", 3)}}); err != nil {
		t.Fatal(err)
	}
	w := q.items[0].LRP
	if w.GetProcessGuid() != "p" || w.GetDomain() != "cf-apps" || w.GetIndex() != 3 || w.GetMemoryMb() != 256 ||
		w.GetDiskMb() != 1024 || w.GetMaxPids() != 1024 || w.GetRootFs() != "preloaded:cflinuxfs4" || !slices.Equal(w.GetPlacementTags(), []string{"gpu"}) {
		t.Errorf("LRPWork = %v", w)
	}
}

func TestRequestTaskAuctions(t *testing.T) {
	t.Parallel()
	with := func(f func(*bbsv1.Task)) *bbsv1.Task {
		tk := newTask("t")
		f(tk)
		return tk
	}
	tests := []struct {
		name     string
		tasks    []*bbsv1.Task
		wantCode codes.Code
		wantMsg  []string
		wantKeys []string
	}{
		{"two tasks", []*bbsv1.Task{newTask("a"), newTask("b")}, codes.OK, nil, []string{"task a", "task b"}},
		{"nil task", []*bbsv1.Task{nil}, codes.InvalidArgument, []string{"tasks[0]", "missing"}, nil},
		{"empty guid", []*bbsv1.Task{with(func(t *bbsv1.Task) { t.TaskGuid = "" })}, codes.InvalidArgument, []string{"task_guid is empty"}, nil},
		{"no definition", []*bbsv1.Task{with(func(t *bbsv1.Task) { t.Definition = nil })}, codes.InvalidArgument, []string{"definition is missing"}, nil},
		{"negative memory", []*bbsv1.Task{with(func(t *bbsv1.Task) { t.Definition.MemoryMb = -5 })}, codes.InvalidArgument, []string{"must not be negative"}, nil},
		{"empty root_fs", []*bbsv1.Task{newTask("ok"), with(func(t *bbsv1.Task) { t.Definition.RootFs = "" })}, codes.InvalidArgument, []string{`tasks[1] ("t"): root_fs is empty`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := &fakeQueue{}
			s := New(q, slog.New(slog.DiscardHandler))
			_, err := s.RequestTaskAuctions(context.Background(), &auctioneerv1.RequestTaskAuctionsRequest{Tasks: tt.tasks})
			checkStatus(t, err, tt.wantCode, tt.wantMsg)
			var got []string
			for _, it := range q.items {
				got = append(got, it.Key())
			}
			if !slices.Equal(got, tt.wantKeys) {
				t.Errorf("queued %q, want %q", got, tt.wantKeys)
			}
		})
	}
}

func TestQueueErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want codes.Code
	}{
		{fmt.Errorf("wrapped: %w", batch.ErrFull), codes.ResourceExhausted},
		{errors.New("boom"), codes.Internal},
	}
	for _, tt := range tests {
		s := New(&fakeQueue{err: tt.err}, slog.New(slog.DiscardHandler))
		_, err := s.RequestTaskAuctions(context.Background(), &auctioneerv1.RequestTaskAuctionsRequest{Tasks: []*bbsv1.Task{newTask("t")}})
		if status.Code(err) != tt.want {
			t.Errorf("queue error %v: got %v, want %v", tt.err, err, tt.want)
		}
	}
}

func TestProblemsCapped(t *testing.T) {
	t.Parallel()
	starts := make([]*auctioneerv1.LRPStartRequest, 50)
	for i := range starts {
		starts[i] = &auctioneerv1.LRPStartRequest{ProcessGuid: fmt.Sprint("p", i), Domain: "d", Indices: []int32{0}}
	}
	_, err := New(&fakeQueue{}, slog.New(slog.DiscardHandler)).RequestLRPAuctions(context.Background(), &auctioneerv1.RequestLRPAuctionsRequest{Starts: starts})
	msg := status.Convert(err).Message()
	if !strings.Contains(msg, "and 40 more problems") || strings.Count(msg, "root_fs is empty") != maxProblems {
		t.Errorf("message = %q", msg)
	}
}

func checkStatus(t *testing.T, err error, code codes.Code, msgs []string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("err = %v, want code %v", err, code)
	}
	for _, m := range msgs {
		if !strings.Contains(status.Convert(err).Message(), m) {
			t.Errorf("message %q does not contain %q", status.Convert(err).Message(), m)
		}
	}
}
