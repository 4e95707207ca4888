package watcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/diego/routeemitter/internal/table"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// stream is a fake event stream fed by the test.
type stream struct {
	grpc.ClientStream
	ctx context.Context
	ch  chan *bbsv1.SubscribeToEventsResponse
}

func (s *stream) Recv() (*bbsv1.SubscribeToEventsResponse, error) {
	select {
	case ev, ok := <-s.ch:
		if !ok {
			return nil, status.Error(codes.Unavailable, "stream broken")
		}
		return ev, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

// fakeBBS hands out streams and listings.
type fakeBBS struct {
	mu       sync.Mutex
	reqs     []*bbsv1.SubscribeToEventsRequest
	streams  chan *stream // each subscription, for the test
	lists    int
	listGate chan struct{} // when set, ListActualLRPs waits for it
	listErr  error
	desired  []*bbsv1.DesiredLRPSchedulingInfo
	actuals  []*bbsv1.ActualLRP
}

func (f *fakeBBS) SubscribeToEvents(ctx context.Context, in *bbsv1.SubscribeToEventsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[bbsv1.SubscribeToEventsResponse], error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, in)
	f.mu.Unlock()
	s := &stream{ctx: ctx, ch: make(chan *bbsv1.SubscribeToEventsResponse, 100)}
	f.streams <- s
	return s, nil
}

func (f *fakeBBS) ListDesiredLRPSchedulingInfos(context.Context, *bbsv1.ListDesiredLRPSchedulingInfosRequest, ...grpc.CallOption) (*bbsv1.ListDesiredLRPSchedulingInfosResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	return &bbsv1.ListDesiredLRPSchedulingInfosResponse{SchedulingInfos: f.desired}, nil
}

func (f *fakeBBS) ListActualLRPs(ctx context.Context, _ *bbsv1.ListActualLRPsRequest, _ ...grpc.CallOption) (*bbsv1.ListActualLRPsResponse, error) {
	f.mu.Lock()
	gate := f.listGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	return &bbsv1.ListActualLRPsResponse{ActualLrps: f.actuals}, nil
}

func (f *fakeBBS) listings() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeBBS) request(i int) *bbsv1.SubscribeToEventsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[i]
}

// publisher records what is published.
type publisher struct {
	mu   sync.Mutex
	msgs []string
}

func (p *publisher) Publish(subject string, msgs []router.RegistryMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		p.msgs = append(p.msgs, fmt.Sprintf("%s %s %s:%d", subject, m.URIs[0], m.Host, m.Port))
	}
}

func (p *publisher) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

func info() *bbsv1.DesiredLRPSchedulingInfo {
	return &bbsv1.DesiredLRPSchedulingInfo{ProcessGuid: "web", LogGuid: "app",
		Routes:          map[string][]byte{"cf-router": []byte(`[{"hostnames":["web.example.com"],"port":8080}]`)},
		ModificationTag: &bbsv1.ModificationTag{Epoch: "d", Index: 0}}
}

func lrp(state bbsv1.ActualLRPState, routable bool, tag uint32) *bbsv1.ActualLRP {
	return &bbsv1.ActualLRP{
		Key:             &bbsv1.ActualLRPKey{ProcessGuid: "web", Index: 0},
		InstanceKey:     &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i0", CellId: "c"},
		NetInfo:         &bbsv1.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: 61000}}},
		State:           state,
		Presence:        bbsv1.Presence_PRESENCE_ORDINARY,
		Routable:        routable,
		ModificationTag: &bbsv1.ModificationTag{Epoch: "a", Index: tag},
	}
}

func event(epoch string, seq uint64, ev any) *bbsv1.SubscribeToEventsResponse {
	r := &bbsv1.SubscribeToEventsResponse{Epoch: epoch, Sequence: seq}
	switch e := ev.(type) {
	case *bbsv1.Resync:
		r.Event = &bbsv1.SubscribeToEventsResponse_Resync{Resync: e}
	case *bbsv1.ActualLRP:
		r.Event = &bbsv1.SubscribeToEventsResponse_ActualLrpChanged{ActualLrpChanged: &bbsv1.ActualLRPChanged{After: e}}
	case nil:
		r.Event = &bbsv1.SubscribeToEventsResponse_Heartbeat{Heartbeat: &bbsv1.Heartbeat{}}
	}
	return r
}

const (
	running = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING
	claimed = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED
	reg     = "router.register web.example.com 10.0.0.1:61000"
	unreg   = "router.unregister web.example.com 10.0.0.1:61000"
)

func start(t *testing.T, f *fakeBBS, cfg Config) (*Watcher, *publisher) {
	t.Helper()
	pub := &publisher{}
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 10*time.Millisecond
	w := New(cfg, Deps{BBS: f, Table: table.New(table.Options{}, nil), Publisher: pub, Logger: testenv.Logger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return w, pub
}

func waitLog(t *testing.T, pub *publisher, want ...string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		got := pub.log()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("published %q, want %q", got, want)
		}
		return nil
	})
}

func TestResumesWithoutListing(t *testing.T) {
	t.Parallel()
	f := &fakeBBS{streams: make(chan *stream, 10), desired: []*bbsv1.DesiredLRPSchedulingInfo{info()}}
	w, pub := start(t, f, Config{})
	s := <-f.streams
	if r := f.request(0); r.GetEpoch() != resyncEpoch {
		t.Fatalf("first subscription %v, want the no-position epoch", r)
	}
	s.ch <- event("e1", 4, &bbsv1.Resync{Reason: "new subscriber"})
	<-w.Synced()
	s.ch <- event("e1", 5, lrp(running, true, 1))
	waitLog(t, pub, reg)
	close(s.ch) // the stream breaks

	s = <-f.streams
	if r := f.request(1); r.GetEpoch() != "e1" || r.GetAfterSequence() != 5 {
		t.Fatalf("resumed with %v, want e1/5", r)
	}
	s.ch <- event("e1", 6, lrp(running, false, 2)) // replayed by the BBS
	waitLog(t, pub, reg, unreg)
	if n := f.listings(); n != 1 {
		t.Errorf("%d listings, want only the first", n)
	}
}

func TestEventsDuringListing(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	f := &fakeBBS{streams: make(chan *stream, 10), listGate: gate,
		desired: []*bbsv1.DesiredLRPSchedulingInfo{info()}, actuals: []*bbsv1.ActualLRP{lrp(running, true, 2)}}
	w, pub := start(t, f, Config{})
	s := <-f.streams
	s.ch <- event("e1", 1, &bbsv1.Resync{})
	// While the listing runs, an event older than the listing (index 1)
	// and one newer (index 3) arrive.
	s.ch <- event("e1", 2, lrp(claimed, false, 1))
	s.ch <- event("e1", 3, nil)
	close(gate)
	<-w.Synced()
	waitLog(t, pub, reg)
	s.ch <- event("e1", 4, lrp(running, false, 3))
	waitLog(t, pub, reg, unreg)
}

func TestIdleStreamIsDropped(t *testing.T) {
	t.Parallel()
	f := &fakeBBS{streams: make(chan *stream, 10)}
	start(t, f, Config{IdleTimeout: 50 * time.Millisecond})
	s := <-f.streams
	s.ch <- event("e1", 7, &bbsv1.Resync{})
	// Nothing more, not even a heartbeat: the watcher resubscribes.
	select {
	case <-f.streams:
	case <-time.After(10 * time.Second):
		t.Fatal("no resubscription after the idle timeout")
	}
	if r := f.request(1); r.GetEpoch() != "e1" || r.GetAfterSequence() != 7 {
		t.Errorf("resumed with %v", r)
	}
}

func TestFailedListingResyncsAgain(t *testing.T) {
	t.Parallel()
	f := &fakeBBS{streams: make(chan *stream, 10), listErr: errors.New("store down")}
	start(t, f, Config{})
	s := <-f.streams
	s.ch <- event("e1", 7, &bbsv1.Resync{})
	select {
	case <-f.streams:
	case <-time.After(10 * time.Second):
		t.Fatal("no resubscription")
	}
	if r := f.request(1); r.GetEpoch() != resyncEpoch {
		t.Errorf("after a failed listing resubscribed with %v, want the no-position epoch", r)
	}
}
