package logstream

import "time"

// limiter is a token bucket of rate bytes per second holding at most rate
// bytes, full at the start, as Diego's golang.org/x/time/rate limiter with
// burst = rate. A message larger than the bucket never fits. Once a message
// is refused, everything is dropped for overageWindow and the refusal is
// reported once.
type limiter struct {
	rate         int64 // bytes per second; < 0 unlimited, 0 nothing
	tokens       float64
	last         time.Time
	blockedUntil time.Time
}

func newLimiter(rate int64, now time.Time) *limiter {
	return &limiter{rate: rate, tokens: float64(max(rate, 0)), last: now}
}

// allow reports whether a message of n bytes may be emitted at now, and
// whether the caller must report the overage (the first refusal of a
// window).
func (l *limiter) allow(now time.Time, n int) (ok, report bool) {
	switch {
	case l.rate < 0:
		return true, false
	case l.rate == 0:
		return false, false
	case now.Before(l.blockedUntil):
		return false, false
	}
	if elapsed := now.Sub(l.last); elapsed > 0 {
		l.tokens = min(float64(l.rate), l.tokens+elapsed.Seconds()*float64(l.rate))
		l.last = now
	}
	if float64(n) <= l.tokens {
		l.tokens -= float64(n)
		return true, false
	}
	l.blockedUntil = now.Add(overageWindow)
	return false, true
}
