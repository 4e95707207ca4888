// Package runner composes a daemon's long-running units and owns its signal
// handling.
//
// Every long-running unit in Anvil is a Runner: Run(ctx) blocks until ctx is
// cancelled (then returns nil after a bounded shutdown) or until it fails
// (then returns the error). A daemon's main composes its units with Group and
// gets its root context from Signals. Library code never installs signal
// handlers; only cmd/ code calls Signals.
//
// Signal semantics:
//
//	SIGINT, SIGTERM  first: cancel the root context (graceful, bounded shutdown)
//	                 second: exit the process at once with status 1
//	SIGHUP           call the reload hook (log level, certificates)
//	SIGUSR1          write every goroutine's stack to the dump writer
package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Runner is a long-running unit.
type Runner interface {
	Run(ctx context.Context) error
}

// Func adapts a function to Runner.
type Func func(ctx context.Context) error

// Run calls f(ctx).
func (f Func) Run(ctx context.Context) error { return f(ctx) }

// Named gives a Runner a name used in errors and logs.
type Named struct {
	Name string
	Runner
}

// Group runs every unit until all return. The first unit to fail cancels the
// others' context; Group returns that first error, wrapped with the unit's
// name. A unit that returns nil before ctx is cancelled does not stop the
// others (a one-shot unit such as a migration may finish early).
func Group(ctx context.Context, units ...Named) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, u := range units {
		g.Go(func() error {
			if err := u.Run(gctx); err != nil {
				return fmt.Errorf("%s: %w", u.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// WithDeadline runs r and, once ctx is cancelled, gives it at most grace to
// return. If it does not, WithDeadline returns an error without waiting
// further (the unit's goroutine is abandoned; the process is about to exit).
func WithDeadline(ctx context.Context, r Runner, grace time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("shutdown did not finish within %s", grace)
	}
}

// SignalOptions configures Signals.
type SignalOptions struct {
	Logger *slog.Logger
	// Reload is called on SIGHUP. Nil ignores SIGHUP.
	Reload func()
	// Dump receives goroutine stacks on SIGUSR1. Nil means os.Stderr.
	Dump io.Writer
	// Exit is called on the second terminating signal. Nil means os.Exit.
	Exit func(code int)
	// USR1Terminates makes SIGUSR1 cancel the context like SIGTERM instead
	// of dumping stacks: the gorouter's drain signal, as in Cloud Foundry.
	// SIGQUIT still dumps stacks (and exits), as in every Go program.
	USR1Terminates bool
}

// Signals returns a context cancelled by the first SIGINT or SIGTERM, and a
// stop function that releases the signal handlers.
func Signals(parent context.Context, opts SignalOptions) (context.Context, func()) {
	if opts.Dump == nil {
		opts.Dump = os.Stderr
	}
	if opts.Exit == nil {
		opts.Exit = os.Exit
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	quit := make(chan struct{})
	go func() {
		terminating := false
		for {
			select {
			case <-quit:
				return
			case s := <-ch:
				terminate := s == syscall.SIGINT || s == syscall.SIGTERM ||
					(s == syscall.SIGUSR1 && opts.USR1Terminates)
				switch {
				case terminate:
					if terminating {
						opts.Logger.Error("second signal, exiting now", "signal", s.String())
						opts.Exit(1)
						continue
					}
					terminating = true
					opts.Logger.Info("shutting down", "signal", s.String())
					cancel(fmt.Errorf("received %s", s))
				case s == syscall.SIGHUP:
					if opts.Reload != nil {
						opts.Logger.Info("reloading", "signal", s.String())
						opts.Reload()
					}
				case s == syscall.SIGUSR1:
					opts.Logger.Info("dumping goroutine stacks", "signal", s.String())
					_ = pprof.Lookup("goroutine").WriteTo(opts.Dump, 2)
				}
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(quit)
		cancel(context.Canceled)
	}
}
