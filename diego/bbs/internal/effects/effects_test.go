package effects

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/internal/testenv"
)

type recorder struct {
	mu        sync.Mutex
	events    int
	lrpCalls  [][]*auctioneerv1.LRPStartRequest
	taskCalls int
	stops     []string
	removed   []string
	callbacks []string
	fail      bool
}

func (r *recorder) Publish(evs ...*bbsv1.SubscribeToEventsResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events += len(evs)
}

func (r *recorder) RequestLRPAuctions(_ context.Context, in *auctioneerv1.RequestLRPAuctionsRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("auctioneer down")
	}
	r.lrpCalls = append(r.lrpCalls, in.GetStarts())
	return nil
}

func (r *recorder) RequestTaskAuctions(context.Context, *auctioneerv1.RequestTaskAuctionsRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.taskCalls++
	return nil
}

func (r *recorder) RemoveActualLRP(_ context.Context, guid string, _ int32, _ *bbsv1.ActualLRPInstanceKey) (models.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = append(r.removed, guid)
	return models.Result{}, nil
}

func (r *recorder) Submit(t *bbsv1.Task) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.callbacks = append(r.callbacks, t.GetTaskGuid())
}

// cells knows one cell, "cell-a", whose rep records stops.
type cells struct{ r *recorder }

func (c cells) Rep(id string) (repv1.RepServiceClient, bool) {
	if id != "cell-a" {
		return nil, false
	}
	return rep{c.r}, true
}

type rep struct{ r *recorder }

func (p rep) State(context.Context, *repv1.StateRequest, ...grpc.CallOption) (*repv1.StateResponse, error) {
	return nil, errors.New("unused")
}

func (p rep) Perform(context.Context, *repv1.PerformRequest, ...grpc.CallOption) (*repv1.PerformResponse, error) {
	return nil, errors.New("unused")
}

func (p rep) StopLRPInstance(_ context.Context, in *repv1.StopLRPInstanceRequest, _ ...grpc.CallOption) (*repv1.StopLRPInstanceResponse, error) {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.r.stops = append(p.r.stops, in.GetKey().GetProcessGuid())
	return &repv1.StopLRPInstanceResponse{}, nil
}

func (p rep) CancelTask(context.Context, *repv1.CancelTaskRequest, ...grpc.CallOption) (*repv1.CancelTaskResponse, error) {
	return &repv1.CancelTaskResponse{}, nil
}

func run(t *testing.T, r *recorder) *Effects {
	t.Helper()
	e, err := New(Options{BatchWindow: 20 * time.Millisecond}, Deps{
		Events: r, Auctioneer: r, Cells: cells{r}, Remover: r, Callbacks: r, Logger: testenv.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return e
}

func start(guid string) *auctioneerv1.LRPStartRequest {
	return &auctioneerv1.LRPStartRequest{ProcessGuid: guid, Indices: []int32{0}}
}

func TestAuctionsAreBatched(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	e := run(t, r)
	e.Apply(models.Result{
		Events:      []*bbsv1.SubscribeToEventsResponse{{}, {}},
		LRPAuctions: []*auctioneerv1.LRPStartRequest{start("a"), start("b")},
	})
	e.Apply(models.Result{LRPAuctions: []*auctioneerv1.LRPStartRequest{start("c")}, TaskAuctions: []*bbsv1.Task{{TaskGuid: "t"}}})
	testenv.Eventually(t, 5*time.Second, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		n := 0
		for _, c := range r.lrpCalls {
			n += len(c)
		}
		if n != 3 || r.taskCalls != 1 {
			return errors.New("auctions not all requested")
		}
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events != 2 {
		t.Errorf("published %d events, want 2 (at Apply)", r.events)
	}
	if len(r.lrpCalls) != 1 {
		t.Errorf("%d auctioneer calls for instances applied together, want 1", len(r.lrpCalls))
	}
}

func TestStops(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	e := run(t, r)
	e.Apply(models.Result{
		Stops: []models.StopInstance{
			{Key: &bbsv1.ActualLRPKey{ProcessGuid: "on-a"}, InstanceKey: &bbsv1.ActualLRPInstanceKey{CellId: "cell-a"}},
			{Key: &bbsv1.ActualLRPKey{ProcessGuid: "on-gone"}, InstanceKey: &bbsv1.ActualLRPInstanceKey{CellId: "cell-gone"}},
		},
		Callbacks: []*bbsv1.Task{{TaskGuid: "done"}},
	})
	testenv.Eventually(t, 5*time.Second, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		// The instance on a known cell is stopped by its rep; the one on a
		// cell that is gone is forgotten.
		if len(r.stops) != 1 || r.stops[0] != "on-a" || len(r.removed) != 1 || r.removed[0] != "on-gone" {
			return errors.New("stops not carried out")
		}
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.callbacks) != 1 {
		t.Errorf("callbacks = %v", r.callbacks)
	}
}

func TestAuctioneerDownIsNotFatal(t *testing.T) {
	t.Parallel()
	r := &recorder{fail: true}
	logs := testenv.NewLogRecorder(t)
	e, err := New(Options{BatchWindow: time.Millisecond}, Deps{Events: r, Auctioneer: r, Cells: cells{r}, Remover: r, Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	e.Apply(models.Result{LRPAuctions: []*auctioneerv1.LRPStartRequest{start("a")}})
	testenv.Eventually(t, 5*time.Second, func() error { return logs.Find("auctioneer did not take instances") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
