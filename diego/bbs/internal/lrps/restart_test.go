package lrps_test

import (
	"testing"
	"time"
)

// TestCrashRestartPolicy walks one instance through Diego's restart policy:
// crashes 1-3 restart at once, the 4th waits 30 s for convergence, the 5th
// 60 s, and five minutes of running make the next crash count as the first.
func TestCrashRestartPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.desire("crashy", 1)
	run := func() {
		t.Helper()
		e.claim("crashy", 0, "cell-a")
		e.start("crashy", 0, "cell-a")
	}
	for n := int32(1); n <= 3; n++ {
		run()
		res := e.crash("crashy", 0, "cell-a")
		wantAuctions(t, res, "crashy:[0]")
		if a := e.ord("crashy", 0); a.GetState() != unclaimed || a.GetCrashCount() != n {
			t.Fatalf("crash %d: %v", n, a)
		}
	}

	// backoff crashes n at wait, checking convergence leaves it alone just
	// before the backoff ends and restarts it at the end.
	backoff := func(n int32, wait time.Duration) {
		t.Helper()
		run()
		res := e.crash("crashy", 0, "cell-a")
		wantAuctions(t, res)
		if a := e.ord("crashy", 0); a.GetState() != crashed || a.GetCrashCount() != n {
			t.Fatalf("crash %d: %v", n, a)
		}
		e.clock.Advance(wait - time.Second)
		res, stats := e.converge("cell-a")
		wantAuctions(t, res)
		if stats.Crashed != 1 || stats.CrashingDesired != 1 || stats.Restarted != 0 {
			t.Fatalf("before backoff: %+v", stats)
		}
		e.clock.Advance(time.Second)
		res, stats = e.converge("cell-a")
		wantAuctions(t, res, "crashy:[0]")
		wantEvents(t, res, "changed crashy/0 ORDINARY CRASHED -> ORDINARY UNCLAIMED")
		if stats.Restarted != 1 || stats.Unclaimed != 1 || stats.Crashed != 0 {
			t.Fatalf("after backoff: %+v", stats)
		}
		if a := e.ord("crashy", 0); a.GetState() != unclaimed || a.GetCrashCount() != n {
			t.Fatalf("restarted crash %d: %v", n, a)
		}
	}
	backoff(4, 30*time.Second)
	backoff(5, time.Minute)

	// Five minutes of running resets the count.
	run()
	e.clock.Advance(5*time.Minute + time.Second)
	res := e.crash("crashy", 0, "cell-a")
	wantAuctions(t, res, "crashy:[0]")
	if a := e.ord("crashy", 0); a.GetState() != unclaimed || a.GetCrashCount() != 1 {
		t.Fatalf("after a long run: %v", a)
	}
}
