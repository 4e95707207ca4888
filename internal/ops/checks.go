package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CheckFunc is a readiness check. It returns nil when the dependency it
// checks is usable. It must honour ctx's deadline; if it does not, it is
// counted as failing when the deadline passes and is not run again until it
// returns.
type CheckFunc func(ctx context.Context) error

// ReadyCheck returns a check that passes once ready is closed, for gating
// /readyz on another unit's Ready channel.
func ReadyCheck(ready <-chan struct{}) CheckFunc {
	return func(context.Context) error {
		select {
		case <-ready:
			return nil
		default:
			return errors.New("not ready yet")
		}
	}
}

var (
	errTimeout   = errors.New("timed out")
	errStillBusy = errors.New("previous run still in progress")
	errPanic     = errors.New("check panicked")
	errShutdown  = errors.New("shutting down")
)

// shutdownCheck is the pseudo-check /readyz reports once Run is stopping.
const shutdownCheck = "shutdown"

type check struct {
	name    string
	fn      CheckFunc
	running atomic.Bool
}

type checkResult struct {
	name string
	err  error
}

// round is one evaluation of all checks, shared by concurrent requests.
type round struct {
	done    chan struct{}
	results []checkResult
}

// checker holds the readiness checks. Lock order: none; mu is never held
// while a check runs.
type checker struct {
	timeout time.Duration

	mu       sync.Mutex
	checks   []*check
	inflight *round
}

func (c *checker) add(name string, fn CheckFunc) {
	if name == "" || fn == nil {
		panic("ops: AddCheck with empty name or nil check")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.checks {
		if ch.name == name {
			panic(fmt.Sprintf("ops: duplicate readiness check %q", name))
		}
	}
	c.checks = append(c.checks, &check{name: name, fn: fn})
}

// evaluate runs every check, or joins a round already in flight. It returns
// early with ctx's error if ctx ends first.
func (c *checker) evaluate(ctx context.Context) ([]checkResult, error) {
	c.mu.Lock()
	r := c.inflight
	if r == nil {
		r = &round{done: make(chan struct{})}
		c.inflight = r
		checks := append([]*check(nil), c.checks...)
		go func() {
			r.results = c.run(checks)
			c.mu.Lock()
			c.inflight = nil
			c.mu.Unlock()
			close(r.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.results, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run runs checks concurrently and returns within about c.timeout.
func (c *checker) run(checks []*check) []checkResult {
	results := make([]checkResult, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		results[i].name = ch.name
		wg.Go(func() { results[i].err = c.runOne(ch) })
	}
	wg.Wait()
	return results
}

func (c *checker) runOne(ch *check) error {
	if !ch.running.CompareAndSwap(false, true) {
		return errStillBusy
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: %v", errPanic, p)
			}
			cancel()
			// Clear running before reporting, so that the next round,
			// which may start as soon as this one ends, can run the check.
			ch.running.Store(false)
			done <- err
		}()
		err = ch.fn(ctx)
	}()
	select {
	case err := <-done:
		if err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return errTimeout // the check gave up on its deadline
		}
		return err
	case <-ctx.Done():
		// The check may have returned at the same moment; prefer its result.
		select {
		case err := <-done:
			if err != nil && errors.Is(err, context.DeadlineExceeded) {
				return errTimeout
			}
			return err
		default:
			return errTimeout
		}
	}
}

// report renders results as the /readyz body and says whether all passed.
func report(results []checkResult) (string, bool) {
	var b strings.Builder
	ok := true
	for _, r := range results {
		if r.err != nil {
			ok = false
			// Keep the body one line per check.
			msg := strings.ReplaceAll(r.err.Error(), "\n", "; ")
			fmt.Fprintf(&b, "[-]%s failed: %s\n", r.name, msg)
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", r.name)
		}
	}
	if ok {
		b.WriteString("readyz check passed\n")
	} else {
		b.WriteString("readyz check failed\n")
	}
	return b.String(), ok
}
