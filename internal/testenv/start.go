package testenv

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// Unit is what [Start] runs: a long-running unit in the house style. Run
// blocks until ctx is cancelled and then returns nil, or returns an error if
// the unit fails. Ready is closed once the unit serves, e.g. after its
// listeners are bound; it is never closed if Run fails first.
type Unit interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
}

// stopTimeout is how long stop waits for Run to return after cancelling it.
const stopTimeout = 10 * time.Second

// errNotStopped is what stop returns when Run did not return in time and the
// testing.TB's Fatalf returned (a fake in testenv's own tests).
var errNotStopped = errors.New("testenv: Run did not return")

// Start runs u.Run in a new goroutine and returns once u.Ready() is closed,
// so the unit is serving when the test goes on. Read its address and the
// like from u itself:
//
//	srv := ops.New(ops.Config{Listen: "127.0.0.1:0"}, testenv.Logger(t), nil)
//	testenv.Start(t, srv)
//	resp, err := http.Get("http://" + srv.Addr().String() + "/readyz")
//
// If Run returns before Ready is closed, Start fails the test with Run's
// error (t.Fatalf), instead of waiting for a readiness that never comes. Start
// has no timeout of its own: a unit that neither gets ready nor fails runs
// into go test's -timeout, whose goroutine dump shows where it is stuck.
//
// When the test ends (t.Cleanup), Start cancels Run's context, waits for Run
// to return and fails the test unless Run returned nil, because a unit must
// shut down cleanly when its context is cancelled. Cleanups run last in,
// first out, so clients created after Start (and closed with t.Cleanup) are
// closed before the unit stops.
//
// Start returns stop, for tests of shutdown itself. stop cancels Run's
// context, waits for Run to return and returns Run's error; it may be called
// more than once and always returns the same error. Once the test has
// called stop, the test owns Run's error and the cleanup reports nothing:
//
//	stop := testenv.Start(t, srv)
//	// ... hold a request in flight ...
//	if err := stop(); err != nil {
//		t.Fatalf("Run returned %v, want nil", err)
//	}
//
// stop (called by the test or by the cleanup) fails the test if Run has not
// returned 10 seconds after its context was cancelled: a unit's shutdown must
// be bounded, and tests configure short shutdown timeouts.
//
// Call Start and stop from the test's goroutine: both may call t.Fatalf.
// Run gets a context of its own, not t.Context(), which the testing package
// cancels before the cleanups run.
func Start(t testing.TB, u Unit) (stop func() error) {
	t.Helper()
	return start(t, u, stopTimeout)
}

func start(t testing.TB, u Unit, timeout time.Duration) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error // written before done is closed
	go func() {
		defer close(done)
		runErr = u.Run(ctx)
	}()

	// reported is set once the test owns Run's result: it called stop, or
	// Start already failed the test because Run returned before ready.
	var reported atomic.Bool
	wait := func() error {
		t.Helper()
		cancel()
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case <-done:
			return runErr
		case <-timer.C:
			t.Fatalf("testenv: Run did not return within %v after its context was cancelled", timeout)
			return errNotStopped // for fakes whose Fatalf returns
		}
	}
	t.Cleanup(func() {
		if reported.Load() {
			cancel()
			return
		}
		if err := wait(); err != nil && !errors.Is(err, errNotStopped) {
			t.Errorf("testenv: Run returned %v, want nil", err)
		}
	})

	select {
	case <-u.Ready():
	case <-done:
		reported.Store(true)
		t.Fatalf("testenv: Run returned %v before Ready was closed", runErr)
	}
	return func() error {
		t.Helper()
		reported.Store(true)
		return wait()
	}
}
