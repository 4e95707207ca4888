package converger

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
	"github.com/anvilpaas/anvil/internal/testenv"
)

type fakeStores struct {
	mu      sync.Mutex
	passes  int
	cells   []map[string]bool
	lrpErr  error
	applied []models.Result
}

func (f *fakeStores) Converge(_ context.Context, in lrps.ConvergeInput) (models.Result, lrps.ConvergeStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passes++
	f.cells = append(f.cells, in.Cells)
	// Part of the work is returned with the error, as the stores do.
	return models.Result{LRPAuctions: []*auctioneerv1.LRPStartRequest{{ProcessGuid: "p"}}}, lrps.ConvergeStats{Desired: 1}, f.lrpErr
}

type fakeTasks struct{}

func (fakeTasks) Converge(context.Context, tasks.ConvergeInput) (models.Result, tasks.ConvergeStats, error) {
	return models.Result{}, tasks.ConvergeStats{}, nil
}

func (f *fakeStores) Apply(r models.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, r)
}

type cellList []string

func (c cellList) Cells() []*bbsv1.CellPresence {
	var out []*bbsv1.CellPresence
	for _, id := range c {
		out = append(out, &bbsv1.CellPresence{CellId: id})
	}
	return out
}

func TestPasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		lrpErr error
	}{
		{"ok", nil},
		{"store fails after doing part", errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeStores{lrpErr: tt.lrpErr}
			c, err := New(Options{Interval: time.Hour, TriggerDelay: time.Millisecond}, Deps{
				LRPs: f, Tasks: fakeTasks{}, Cells: cellList{"cell-a", "cell-b"}, Effects: f, Logger: testenv.Logger(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			passes := func(n int) func() error {
				return func() error {
					f.mu.Lock()
					defer f.mu.Unlock()
					if f.passes < n {
						return errors.New("pass not run")
					}
					return nil
				}
			}
			// One pass at start, one more per trigger (the hour-long
			// interval never fires).
			testenv.Eventually(t, 5*time.Second, passes(1))
			c.Trigger()
			testenv.Eventually(t, 5*time.Second, passes(2))
			f.mu.Lock()
			defer f.mu.Unlock()
			if got := f.cells[0]; !got["cell-a"] || !got["cell-b"] || len(got) != 2 {
				t.Errorf("cells given to the store = %v", got)
			}
			auctions := 0
			for _, r := range f.applied {
				auctions += len(r.LRPAuctions)
			}
			if auctions < 2 {
				t.Errorf("applied %d auctions over 2 passes, want the store's work applied even with an error", auctions)
			}
		})
	}
}
