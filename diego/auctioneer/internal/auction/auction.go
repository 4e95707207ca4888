package auction

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/batch"
	"github.com/anvilpaas/anvil/diego/auctioneer/internal/placement"
)

// CellLister returns the cells currently registered.
type CellLister interface {
	Cells() []*bbsv1.CellPresence
}

// Reps reaches cells' reps by address.
type Reps interface {
	State(ctx context.Context, address string) (*repv1.StateResponse, error)
	Perform(ctx context.Context, address string, req *repv1.PerformRequest) (*repv1.PerformResponse, error)
	// Retain tells the client which addresses are still in use.
	Retain(addresses []string)
}

// Reporter records work that could not be placed.
type Reporter interface {
	FailActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, reason string) error
	FailTask(ctx context.Context, taskGUID, reason string) error
}

// Queue hands out batches and takes work back for another try.
type Queue interface {
	Next(ctx context.Context) ([]batch.Item, error)
	Retry(items []batch.Item)
}

// Config tunes auctions.
type Config struct {
	// StateTimeout bounds each cell's State call.
	StateTimeout time.Duration
	// PerformTimeout bounds each cell's Perform call.
	PerformTimeout time.Duration
	// MaxRetries is how many more auctions an item gets after a cell
	// refused it or could not be reached; 0 reports it at once.
	MaxRetries int
	// StartingContainerWeight is placement.Options.StartingContainerWeight.
	StartingContainerWeight float64
	// ReportConcurrency bounds the BBS calls reporting failures at once.
	ReportConcurrency int
}

// Deps are the Runner's collaborators.
type Deps struct {
	Cells   CellLister
	Reps    Reps
	BBS     Reporter
	Queue   Queue
	Metrics *Metrics
	Logger  *slog.Logger
}

// Runner runs auctions one at a time.
type Runner struct {
	cfg  Config
	deps Deps
}

// New returns a Runner. A nil Metrics records nothing registered; a nil
// Logger discards logs.
func New(cfg Config, deps Deps) *Runner {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics, _ = NewMetrics(nil)
	}
	cfg.ReportConcurrency = max(cfg.ReportConcurrency, 1)
	return &Runner{cfg: cfg, deps: deps}
}

// Run takes batches from the queue and auctions them until ctx is
// cancelled, then returns nil.
func (r *Runner) Run(ctx context.Context) error {
	for {
		items, err := r.deps.Queue.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		r.Auction(ctx, items)
	}
}

// Outcome counts what became of one auction's items.
type Outcome struct {
	// Cells is the number of cells that reported their state.
	Cells int
	// Started are the items a cell took.
	StartedLRPs, StartedTasks int
	// Failed are the items reported to the BBS.
	FailedLRPs, FailedTasks int
	// Retried are the items queued again.
	Retried int
}

// cell is a registered cell that answered for its state.
type cell struct {
	id      string
	address string
	state   *repv1.StateResponse
}

// failure is an item to report to the BBS.
type failure struct {
	item   *batch.Item
	reason string
}

// Auction runs one auction over items.
func (r *Runner) Auction(ctx context.Context, items []batch.Item) Outcome {
	began := time.Now()
	m := r.deps.Metrics
	m.batchSize.Observe(float64(len(items)))

	cells := r.fetchStates(ctx)
	pcells := make([]placement.Cell, len(cells))
	byID := make(map[string]*cell, len(cells))
	for i := range cells {
		pcells[i] = toPlacementCell(&cells[i])
		byID[cells[i].id] = &cells[i]
	}
	work := make([]placement.Work, len(items))
	for i := range items {
		work[i] = toWork(&items[i])
	}
	res := placement.Place(pcells, work, placement.Options{StartingContainerWeight: r.cfg.StartingContainerWeight})

	out := Outcome{Cells: len(cells)}
	var failed []failure
	var retry []batch.Item
	again := func(it *batch.Item, cellID, reason string) {
		it.Attempts++
		if cellID != "" && !slices.Contains(it.Avoid, cellID) {
			it.Avoid = append(it.Avoid, cellID)
		}
		if it.Attempts <= r.cfg.MaxRetries {
			retry = append(retry, *it)
			return
		}
		failed = append(failed, failure{it, reason})
	}
	for _, f := range res.Failures {
		if f.Reason == placement.CellCommunication {
			again(&items[f.Work], "", f.Reason)
			continue
		}
		failed = append(failed, failure{&items[f.Work], f.Reason})
	}

	perCell := map[string][]int{}
	for _, a := range res.Assignments {
		perCell[a.Cell] = append(perCell[a.Cell], a.Work)
	}
	refused := map[int]bool{}
	for _, rej := range r.perform(ctx, byID, perCell, items) {
		refused[rej.item] = true
		again(&items[rej.item], rej.cell, rej.reason)
	}
	for _, a := range res.Assignments {
		switch {
		case refused[a.Work]:
		case items[a.Work].LRP != nil:
			out.StartedLRPs++
		default:
			out.StartedTasks++
		}
	}
	for _, f := range failed {
		if f.item.LRP != nil {
			out.FailedLRPs++
		} else {
			out.FailedTasks++
		}
	}
	out.Retried = len(retry)
	m.lrpStarted.Add(float64(out.StartedLRPs))
	m.taskStarted.Add(float64(out.StartedTasks))
	m.lrpFailed.Add(float64(out.FailedLRPs))
	m.taskFailed.Add(float64(out.FailedTasks))
	m.retried.Add(float64(out.Retried))

	r.deps.Queue.Retry(retry)
	r.report(ctx, failed)
	m.auctionDuration.Observe(time.Since(began).Seconds())
	r.deps.Logger.Info("auction done",
		"items", len(items), "cells", out.Cells,
		"started_lrps", out.StartedLRPs, "started_tasks", out.StartedTasks,
		"failed_lrps", out.FailedLRPs, "failed_tasks", out.FailedTasks,
		"retried", out.Retried, "duration", time.Since(began))
	return out
}

// fetchStates asks every registered cell for its state, in parallel, and
// returns those that answered, sorted by cell id.
func (r *Runner) fetchStates(ctx context.Context) []cell {
	began := time.Now()
	presences := r.deps.Cells.Cells()
	seen := make(map[string]bool, len(presences))
	addresses := make([]string, 0, len(presences))
	var todo []*bbsv1.CellPresence
	for _, p := range presences {
		if p.GetCellId() == "" || p.GetRepAddress() == "" || seen[p.GetCellId()] {
			continue
		}
		seen[p.GetCellId()] = true
		addresses = append(addresses, p.GetRepAddress())
		todo = append(todo, p)
	}
	r.deps.Reps.Retain(addresses)

	var (
		mu    sync.Mutex
		cells = make([]cell, 0, len(todo))
		wg    sync.WaitGroup
	)
	for _, p := range todo {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, r.cfg.StateTimeout)
			defer cancel()
			st, err := r.deps.Reps.State(sctx, p.GetRepAddress())
			switch {
			case err != nil:
				r.deps.Metrics.stateFailures.Inc()
				r.deps.Logger.Warn("cell state fetch failed", "cell_id", p.GetCellId(), "address", p.GetRepAddress(), "err", err)
				return
			case st.GetCellId() != "" && st.GetCellId() != p.GetCellId():
				r.deps.Metrics.stateFailures.Inc()
				r.deps.Logger.Error("cell state is for another cell", "cell_id", p.GetCellId(), "address", p.GetRepAddress(), "state_cell_id", st.GetCellId())
				return
			}
			mu.Lock()
			cells = append(cells, cell{id: p.GetCellId(), address: p.GetRepAddress(), state: st})
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.SortFunc(cells, func(a, b cell) int { return strings.Compare(a.id, b.id) })
	r.deps.Metrics.fetchDuration.Observe(time.Since(began).Seconds())
	r.deps.Logger.Debug("cell states fetched", "registered", len(todo), "answered", len(cells), "duration", time.Since(began))
	return cells
}

// rejection is an item a cell did not take.
type rejection struct {
	item   int
	cell   string
	reason string
}

// perform hands each cell its items, in parallel, and returns the items
// the cells did not take.
func (r *Runner) perform(ctx context.Context, cells map[string]*cell, perCell map[string][]int, items []batch.Item) []rejection {
	var (
		mu  sync.Mutex
		out []rejection
		wg  sync.WaitGroup
	)
	for id, idx := range perCell {
		c := cells[id]
		wg.Go(func() {
			rej := r.performOn(ctx, c, idx, items)
			mu.Lock()
			out = append(out, rej...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// performOn hands cell c the items idx and returns those it did not take.
func (r *Runner) performOn(ctx context.Context, c *cell, idx []int, items []batch.Item) []rejection {
	req := &repv1.PerformRequest{}
	byKey := make(map[string]int, len(idx))
	for _, i := range idx {
		it := &items[i]
		byKey[it.Key()] = i
		if it.LRP != nil {
			req.Lrps = append(req.Lrps, it.LRP)
		} else {
			req.Tasks = append(req.Tasks, it.Task)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.PerformTimeout)
	defer cancel()
	resp, err := r.deps.Reps.Perform(pctx, c.address, req)
	if err != nil {
		r.deps.Logger.Warn("perform failed", "cell_id", c.id, "lrps", len(req.Lrps), "tasks", len(req.Tasks), "err", err)
		out := make([]rejection, len(idx))
		for n, i := range idx {
			out[n] = rejection{item: i, cell: c.id, reason: placement.CellCommunication}
		}
		return out
	}
	var out []rejection
	refused := func(it batch.Item, reason string) {
		i, ok := byKey[it.Key()]
		if !ok {
			r.deps.Logger.Warn("cell refused work it was not given", "cell_id", c.id, "work", it.Key())
			return
		}
		delete(byKey, it.Key()) // count each item once
		if reason == "" {
			reason = "refused by cell " + c.id
		}
		r.deps.Logger.Info("cell refused work", "cell_id", c.id, "work", it.Key(), "reason", reason)
		out = append(out, rejection{item: i, cell: c.id, reason: reason})
	}
	for _, f := range resp.GetFailedLrps() {
		refused(batch.Item{LRP: &repv1.LRPWork{ProcessGuid: f.GetProcessGuid(), Index: f.GetIndex()}}, f.GetReason())
	}
	for _, f := range resp.GetFailedTasks() {
		refused(batch.Item{Task: &bbsv1.Task{TaskGuid: f.GetTaskGuid()}}, f.GetReason())
	}
	return out
}

// report tells the BBS about every failure, with bounded concurrency.
func (r *Runner) report(ctx context.Context, failed []failure) {
	if len(failed) == 0 {
		return
	}
	var g errgroup.Group
	g.SetLimit(r.cfg.ReportConcurrency)
	for _, f := range failed {
		if ctx.Err() != nil {
			r.deps.Logger.Info("shutting down: placement failures not reported", "count", len(failed))
			break
		}
		g.Go(func() error {
			if lrp := f.item.LRP; lrp != nil {
				r.deps.Logger.Info("lrp auction failed", "process_guid", lrp.GetProcessGuid(), "index", lrp.GetIndex(), "attempts", f.item.Attempts, "reason", f.reason)
				key := &bbsv1.ActualLRPKey{ProcessGuid: lrp.GetProcessGuid(), Index: lrp.GetIndex(), Domain: lrp.GetDomain()}
				if err := r.deps.BBS.FailActualLRP(ctx, key, f.reason); err != nil {
					r.deps.Logger.Error("report lrp auction failure", "process_guid", lrp.GetProcessGuid(), "index", lrp.GetIndex(), "err", err)
				}
				return nil
			}
			task := f.item.Task
			r.deps.Logger.Info("task auction failed", "task_guid", task.GetTaskGuid(), "attempts", f.item.Attempts, "reason", f.reason)
			if err := r.deps.BBS.FailTask(ctx, task.GetTaskGuid(), f.reason); err != nil {
				r.deps.Logger.Error("report task auction failure", "task_guid", task.GetTaskGuid(), "err", err)
			}
			return nil
		})
	}
	_ = g.Wait()
}

// toPlacementCell converts a cell's reported state.
func toPlacementCell(c *cell) placement.Cell {
	st := c.state
	instances := make([]string, len(st.GetLrps()))
	for i, l := range st.GetLrps() {
		instances[i] = l.GetProcessGuid()
	}
	return placement.Cell{
		ID:                    c.id,
		Zone:                  st.GetZone(),
		Total:                 resources(st.GetTotal()),
		Available:             resources(st.GetAvailable()),
		Stacks:                st.GetStacks(),
		PlacementTags:         st.GetPlacementTags(),
		OptionalPlacementTags: st.GetOptionalPlacementTags(),
		Instances:             instances,
		Tasks:                 len(st.GetTasks()),
		StartingContainers:    int(st.GetStartingContainers()),
		Evacuating:            st.GetEvacuating(),
	}
}

func resources(c *bbsv1.CellCapacity) placement.Resources {
	return placement.Resources{MemoryMB: c.GetMemoryMb(), DiskMB: c.GetDiskMb(), Containers: c.GetContainers()}
}

// toWork converts a queued item.
func toWork(it *batch.Item) placement.Work {
	if l := it.LRP; l != nil {
		return placement.Work{
			Kind: placement.LRP, ProcessGUID: l.GetProcessGuid(), Index: l.GetIndex(),
			RootFS: l.GetRootFs(), PlacementTags: l.GetPlacementTags(),
			MemoryMB: l.GetMemoryMb(), DiskMB: l.GetDiskMb(), Avoid: it.Avoid,
		}
	}
	def := it.Task.GetDefinition()
	return placement.Work{
		Kind: placement.Task, TaskGUID: it.Task.GetTaskGuid(),
		RootFS: def.GetRootFs(), PlacementTags: def.GetPlacementTags(),
		MemoryMB: def.GetMemoryMb(), DiskMB: def.GetDiskMb(), Avoid: it.Avoid,
	}
}
