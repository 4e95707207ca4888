package testenv_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anvilpaas/anvil/internal/testenv"
)

// fakeUnit runs run with the channel that Ready returns.
type fakeUnit struct {
	ready chan struct{}
	run   func(ctx context.Context, ready chan<- struct{}) error
}

func newFakeUnit(run func(ctx context.Context, ready chan<- struct{}) error) *fakeUnit {
	return &fakeUnit{ready: make(chan struct{}), run: run}
}

func (u *fakeUnit) Run(ctx context.Context) error { return u.run(ctx, u.ready) }
func (u *fakeUnit) Ready() <-chan struct{}        { return u.ready }

func TestStartRunsUntilTheTestEnds(t *testing.T) {
	t.Parallel()
	var readyClosed atomic.Bool
	returned := make(chan struct{})
	u := newFakeUnit(func(ctx context.Context, ready chan<- struct{}) error {
		defer close(returned)
		readyClosed.Store(true)
		close(ready)
		<-ctx.Done()
		return nil
	})
	ft := &fakeTB{}
	t.Run("test", func(t *testing.T) {
		ft.TB = t
		testenv.Start(ft, u)
		if !readyClosed.Load() {
			t.Error("Start returned before Ready was closed")
		}
		select {
		case <-returned:
			t.Error("Run returned before the test ended")
		default:
		}
	})
	select {
	case <-returned:
	default:
		t.Error("Run still running after the test's cleanup")
	}
	if ft.fatal || len(ft.errs) > 0 {
		t.Errorf("a clean run failed the test: fatal %q, errors %q", ft.msg, ft.errs)
	}
}

func TestStartRunFailsBeforeReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		wantMsg string
	}{
		{"with an error", errors.New("listen tcp 127.0.0.1:1: bind: address already in use"), "address already in use"},
		// A unit that returns nil without being cancelled has stopped all
		// the same; waiting for Ready would hang.
		{"with nil", nil, "<nil> before Ready was closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := newFakeUnit(func(context.Context, chan<- struct{}) error { return tt.err })
			ft := &fakeTB{}
			t.Run("test", func(t *testing.T) {
				ft.TB = t
				testenv.Start(ft, u) // returns: the fake's Fatalf does not stop the goroutine
			})
			// The subtest's cleanup has run without hanging on the
			// already-consumed result, and without reporting it twice.
			if !ft.fatal || !strings.Contains(ft.msg, tt.wantMsg) {
				t.Errorf("Fatalf called = %v, msg %q; want a failure carrying %q", ft.fatal, ft.msg, tt.wantMsg)
			}
			if len(ft.errs) > 0 {
				t.Errorf("cleanup reported again: %q", ft.errs)
			}
		})
	}
}

func TestStartReportsFailedShutdown(t *testing.T) {
	t.Parallel()
	u := newFakeUnit(func(ctx context.Context, ready chan<- struct{}) error {
		close(ready)
		<-ctx.Done()
		return errors.New("shutdown: listener close: boom")
	})
	ft := &fakeTB{}
	t.Run("test", func(t *testing.T) {
		ft.TB = t
		testenv.Start(ft, u)
	})
	if ft.fatal {
		t.Errorf("Fatalf called: %s", ft.msg)
	}
	if len(ft.errs) != 1 || !strings.Contains(ft.errs[0], "boom") {
		t.Errorf("cleanup errors = %q, want one carrying Run's error", ft.errs)
	}
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	var stopped atomic.Bool
	u := newFakeUnit(func(ctx context.Context, ready chan<- struct{}) error {
		close(ready)
		<-ctx.Done()
		stopped.Store(true)
		return boom
	})
	ft := &fakeTB{}
	t.Run("test", func(t *testing.T) {
		ft.TB = t
		stop := testenv.Start(ft, u)
		if err := stop(); !errors.Is(err, boom) {
			t.Errorf("stop() = %v, want Run's error %v", err, boom)
		}
		if !stopped.Load() {
			t.Error("stop returned before Run did")
		}
		if err := stop(); !errors.Is(err, boom) {
			t.Errorf("second stop() = %v, want %v again", err, boom)
		}
	})
	// The test took Run's error from stop, so the cleanup stays quiet.
	if ft.fatal || len(ft.errs) > 0 {
		t.Errorf("fatal %q, errors %q; want none after stop", ft.msg, ft.errs)
	}
}

func TestStartWithRealTB(t *testing.T) {
	t.Parallel()
	returned := make(chan struct{})
	testenv.Start(t, newFakeUnit(func(ctx context.Context, ready chan<- struct{}) error {
		defer close(returned)
		close(ready)
		<-ctx.Done()
		return nil
	}))
	t.Cleanup(func() {
		// Cleanups run last in, first out: Start's runs after this one.
		select {
		case <-returned:
			t.Error("Run stopped before cleanups registered after Start ran")
		default:
		}
	})
}
