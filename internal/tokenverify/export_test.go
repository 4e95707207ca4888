package tokenverify

import "time"

// SetClock replaces v's clock (token times and the refetch rate limit).
func SetClock(v *Verifier, now func() time.Time) {
	v.now = now
	v.keys.now = now
}

// CacheLen returns how many verdicts v has cached.
func CacheLen(v *Verifier) int { return v.cache.len() }
