package models

import "time"

// Restart policy defaults, as Cloud Foundry's Diego uses them.
const (
	DefaultImmediateRestarts = 3
	DefaultMaxRestarts       = 200
	DefaultMinBackoff        = 30 * time.Second
	DefaultMaxBackoff        = 16 * time.Minute
	// CrashResetTimeout is how long an instance must have run for its next
	// crash to count as the first again.
	CrashResetTimeout = 5 * time.Minute
)

// RestartPolicy decides when crashed instances start again.
type RestartPolicy struct {
	// ImmediateRestarts is how many crashes restart at once.
	ImmediateRestarts int32
	// MaxRestarts is the crash count after which an instance stays crashed.
	MaxRestarts int32
	// MinBackoff is the wait after the first crash that is not restarted at
	// once; each further crash doubles it, up to MaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

// DefaultRestartPolicy is Diego's policy.
func DefaultRestartPolicy() RestartPolicy {
	return RestartPolicy{
		ImmediateRestarts: DefaultImmediateRestarts,
		MaxRestarts:       DefaultMaxRestarts,
		MinBackoff:        DefaultMinBackoff,
		MaxBackoff:        DefaultMaxBackoff,
	}
}

// RestartImmediately reports whether an instance that has now crashed
// crashCount times starts again without waiting.
func (p RestartPolicy) RestartImmediately(crashCount int32) bool {
	return crashCount <= p.ImmediateRestarts
}

// Backoff is how long an instance that crashed crashCount times waits before
// its restart, and false when it is never restarted again.
func (p RestartPolicy) Backoff(crashCount int32) (time.Duration, bool) {
	switch {
	case crashCount <= p.ImmediateRestarts:
		return 0, true
	case crashCount > p.MaxRestarts:
		return 0, false
	}
	d := p.MinBackoff
	for i := p.ImmediateRestarts + 1; i < crashCount && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff), true
}

// ShouldRestart reports whether a CRASHED instance that crashed crashCount
// times, the last at crashedAt, may start again at now.
func (p RestartPolicy) ShouldRestart(now, crashedAt time.Time, crashCount int32) bool {
	d, ok := p.Backoff(crashCount)
	if !ok {
		return false
	}
	return !now.Before(crashedAt.Add(d))
}

// NextCrashCount is the crash count after a crash at now of an instance in
// state running since since with count crashes so far: an instance that ran
// for CrashResetTimeout starts again from one.
func NextCrashCount(count int32, wasRunning bool, since, now time.Time) int32 {
	if wasRunning && now.Sub(since) > CrashResetTimeout {
		return 1
	}
	return count + 1
}
