package auction

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/batch"
)

// acceptingReps answers State from a fixed map and takes all work.
type acceptingReps map[string]*repv1.StateResponse

func (r acceptingReps) State(_ context.Context, addr string) (*repv1.StateResponse, error) {
	return r[addr], nil
}

func (acceptingReps) Perform(context.Context, string, *repv1.PerformRequest) (*repv1.PerformResponse, error) {
	return &repv1.PerformResponse{}, nil
}

func (acceptingReps) Retain([]string) {}

// BenchmarkAuction runs one whole auction of 10,000 LRP instances (1,000
// processes × 10) over 100 cells in 3 zones, with in-memory reps: state
// fetch, conversion, placement and the Perform fan-out, without the
// network.
func BenchmarkAuction(b *testing.B) {
	reps := acceptingReps{}
	var cells cellList
	for i := range 100 {
		id := fmt.Sprintf("cell-%03d", i)
		capacity := &bbsv1.CellCapacity{MemoryMb: 32768, DiskMb: 131072, Containers: 250}
		reps["addr-"+id] = &repv1.StateResponse{CellId: id, Zone: fmt.Sprintf("z%d", i%3), Total: capacity, Available: capacity, Stacks: []string{"cflinuxfs4"}}
		cells = append(cells, &bbsv1.CellPresence{CellId: id, RepAddress: "addr-" + id})
	}
	items := make([]batch.Item, 0, 10_000)
	for p := range 1000 {
		for i := range 10 {
			items = append(items, lrpItem(fmt.Sprintf("proc-%d", p), int32(i), 256))
		}
	}
	r := New(Config{StateTimeout: time.Second, PerformTimeout: time.Second, MaxRetries: 5, StartingContainerWeight: 0.25},
		Deps{Cells: cells, Reps: reps, BBS: &fakeBBS{}, Queue: &fakeQueue{}, Logger: slog.New(slog.DiscardHandler)})
	b.ReportAllocs()
	for b.Loop() {
		out := r.Auction(context.Background(), items)
		if out.StartedLRPs != len(items) {
			b.Fatalf("outcome %+v", out)
		}
	}
}
