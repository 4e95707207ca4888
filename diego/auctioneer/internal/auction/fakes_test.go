package auction

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/batch"
)

const rootFS = "preloaded:cflinuxfs4"

// cellList is a fixed registry.
type cellList []*bbsv1.CellPresence

func (c cellList) Cells() []*bbsv1.CellPresence { return c }

// rep is one simulated cell.
type rep struct {
	state *repv1.StateResponse
	// stateErr fails State; performErr fails Perform.
	stateErr, performErr error
	// refuse lists work keys ("lrp p 0", "task t") the cell does not take.
	refuse []string
}

// fakeReps simulates reps by address, recording Perform calls.
type fakeReps struct {
	mu        sync.Mutex
	reps      map[string]*rep
	performed map[string][]*repv1.PerformRequest
	retained  []string
}

func newFakeReps() *fakeReps {
	return &fakeReps{reps: map[string]*rep{}, performed: map[string][]*repv1.PerformRequest{}}
}

// add registers a cell with address "addr-<id>" and the given free
// capacity (also its total), returning its presence.
func (f *fakeReps) add(id, zone string, memMB, diskMB, containers int32, opts ...func(*rep)) *bbsv1.CellPresence {
	capacity := &bbsv1.CellCapacity{MemoryMb: memMB, DiskMb: diskMB, Containers: containers}
	r := &rep{state: &repv1.StateResponse{
		CellId: id, Zone: zone, Total: capacity, Available: capacity,
		Stacks: []string{"cflinuxfs4"},
	}}
	for _, o := range opts {
		o(r)
	}
	f.mu.Lock()
	f.reps["addr-"+id] = r
	f.mu.Unlock()
	return &bbsv1.CellPresence{CellId: id, RepAddress: "addr-" + id, Zone: zone}
}

func (f *fakeReps) State(ctx context.Context, address string) (*repv1.StateResponse, error) {
	f.mu.Lock()
	r, ok := f.reps[address]
	f.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("no rep at %s", address)
	case r.stateErr != nil:
		return nil, r.stateErr
	}
	return r.state, nil
}

func (f *fakeReps) Perform(ctx context.Context, address string, req *repv1.PerformRequest) (*repv1.PerformResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.performed[address] = append(f.performed[address], req)
	r := f.reps[address]
	if r.performErr != nil {
		return nil, r.performErr
	}
	resp := &repv1.PerformResponse{}
	for _, l := range req.GetLrps() {
		if slices.Contains(r.refuse, (&batch.Item{LRP: l}).Key()) {
			resp.FailedLrps = append(resp.FailedLrps, &repv1.WorkFailure{ProcessGuid: l.GetProcessGuid(), Index: l.GetIndex(), Reason: "claim failed"})
		}
	}
	for _, t := range req.GetTasks() {
		if slices.Contains(r.refuse, (&batch.Item{Task: t}).Key()) {
			resp.FailedTasks = append(resp.FailedTasks, &repv1.WorkFailure{TaskGuid: t.GetTaskGuid()})
		}
	}
	return resp, nil
}

func (f *fakeReps) Retain(addresses []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retained = slices.Clone(addresses)
}

// placed returns the work keys each address was given.
func (f *fakeReps) placed() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]string{}
	for addr, reqs := range f.performed {
		for _, req := range reqs {
			for _, l := range req.GetLrps() {
				out[addr] = append(out[addr], (&batch.Item{LRP: l}).Key())
			}
			for _, t := range req.GetTasks() {
				out[addr] = append(out[addr], (&batch.Item{Task: t}).Key())
			}
		}
	}
	return out
}

// fakeBBS records reported failures as "key: reason".
type fakeBBS struct {
	mu       sync.Mutex
	failures []string
	err      error
}

func (b *fakeBBS) FailActualLRP(_ context.Context, key *bbsv1.ActualLRPKey, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = append(b.failures, fmt.Sprintf("lrp %s %d %s: %s", key.GetProcessGuid(), key.GetIndex(), key.GetDomain(), reason))
	return b.err
}

func (b *fakeBBS) FailTask(_ context.Context, guid, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = append(b.failures, fmt.Sprintf("task %s: %s", guid, reason))
	return b.err
}

func (b *fakeBBS) reported() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.failures)
	slices.Sort(out)
	return out
}

// fakeQueue records retries; Next is not used by Auction.
type fakeQueue struct {
	mu      sync.Mutex
	retried []batch.Item
}

func (q *fakeQueue) Next(ctx context.Context) ([]batch.Item, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (q *fakeQueue) Retry(items []batch.Item) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.retried = append(q.retried, items...)
}

func (q *fakeQueue) take() []batch.Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.retried
	q.retried = nil
	return out
}

func lrpItem(guid string, index, memMB int32) batch.Item {
	return batch.Item{LRP: &repv1.LRPWork{ProcessGuid: guid, Domain: "cf-apps", Index: index, MemoryMb: memMB, DiskMb: 64, RootFs: rootFS}}
}

func taskItem(guid string, memMB int32) batch.Item {
	return batch.Item{Task: &bbsv1.Task{TaskGuid: guid, Definition: &bbsv1.TaskDefinition{RootFs: rootFS, MemoryMb: memMB, DiskMb: 64}}}
}

var errDown = errors.New("connection refused")

// counter reads a counter.
func counter(t interface{ Fatal(...any) }, c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
