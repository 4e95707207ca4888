// Package converger runs the BBS's convergence: every Interval, and soon
// after a cell leaves or joins, it compares desired and actual state in the
// LRP and task stores (against the cells the registry sees) and carries out
// what the stores decide: missing instances created and auctioned, extras
// retired, crashed instances restarted by the restart policy, instances of
// lost cells replaced, stale tasks failed or cleaned up.
//
// Only one pass runs at a time; triggers that arrive during a pass are
// folded into one more pass after it.
package converger

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
)

// DefaultInterval is how often convergence runs without a trigger.
const DefaultInterval = 30 * time.Second

// LRPs converges instances (the LRP store).
type LRPs interface {
	Converge(ctx context.Context, in lrps.ConvergeInput) (models.Result, lrps.ConvergeStats, error)
}

// Tasks converges tasks (the task store).
type Tasks interface {
	Converge(ctx context.Context, in tasks.ConvergeInput) (models.Result, tasks.ConvergeStats, error)
}

// Cells lists the registry's cells.
type Cells interface {
	Cells() []*bbsv1.CellPresence
}

// Effects carries out a Result.
type Effects interface {
	Apply(r models.Result)
}

// Deps are what the converger works with.
type Deps struct {
	LRPs       LRPs
	Tasks      Tasks
	Cells      Cells
	Effects    Effects
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Clock defaults to time.Now.
	Clock func() time.Time
}

// Options tunes the converger.
type Options struct {
	Interval time.Duration
	// TriggerDelay is how long a trigger waits before its pass, so that a
	// burst of registry events causes one pass.
	TriggerDelay time.Duration
}

// Converger runs convergence passes.
type Converger struct {
	deps    Deps
	opts    Options
	trigger chan struct{}
	passes  chan struct{} // receives after each pass, for tests; never blocks
	m       metrics
}

// New returns a Converger.
func New(opts Options, deps Deps) (*Converger, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.TriggerDelay <= 0 {
		opts.TriggerDelay = 500 * time.Millisecond
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	return &Converger{deps: deps, opts: opts, trigger: make(chan struct{}, 1), passes: make(chan struct{}, 1), m: m}, nil
}

// Trigger asks for a pass soon.
func (c *Converger) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run converges at once, then every Interval and after triggers, until ctx
// is cancelled.
func (c *Converger) Run(ctx context.Context) error {
	tick := time.NewTicker(c.opts.Interval)
	defer tick.Stop()
	for {
		c.Converge(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-c.trigger:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(c.opts.TriggerDelay):
			}
		}
	}
}

// Converge runs one pass now.
func (c *Converger) Converge(ctx context.Context) {
	start := time.Now()
	cells := make(map[string]bool)
	for _, cell := range c.deps.Cells.Cells() {
		cells[cell.GetCellId()] = true
	}
	now := c.deps.Clock()

	// A store may return part of its work with an error: what it committed
	// is carried out either way.
	lr, ls, err := c.deps.LRPs.Converge(ctx, lrps.ConvergeInput{Cells: cells, Now: now})
	c.deps.Effects.Apply(lr)
	if err != nil {
		if ctx.Err() == nil {
			c.m.failures.WithLabelValues("lrps").Inc()
			c.deps.Logger.Error("LRP convergence failed", "error", err)
		}
	} else {
		c.m.observeLRPs(ls)
	}
	tr, ts, err := c.deps.Tasks.Converge(ctx, tasks.ConvergeInput{Cells: cells, Now: now})
	c.deps.Effects.Apply(tr)
	if err != nil {
		if ctx.Err() == nil {
			c.m.failures.WithLabelValues("tasks").Inc()
			c.deps.Logger.Error("task convergence failed", "error", err)
		}
	} else {
		c.m.observeTasks(ts)
	}
	d := time.Since(start)
	c.m.duration.Observe(d.Seconds())
	c.m.cells.Set(float64(len(cells)))
	c.deps.Logger.Debug("convergence pass", "duration", d, "cells", len(cells),
		"auctions", len(lr.LRPAuctions)+len(tr.TaskAuctions), "stops", len(lr.Stops))
	select {
	case c.passes <- struct{}{}:
	default:
	}
}
