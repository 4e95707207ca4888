package testenv

import (
	"testing"
	"time"
)

const (
	pollStart = 10 * time.Millisecond
	pollMax   = 250 * time.Millisecond
)

// Eventually calls f until it returns nil, waiting 10ms after the first
// failure and doubling up to 250ms. If f still fails once timeout has
// passed, it fails the test with f's last error.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	delay := pollStart
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("condition not met after %v (%d attempts): %v", timeout, attempt, err)
			return // for fakes whose Fatalf returns
		}
		timer := time.NewTimer(min(delay, left))
		<-timer.C
		delay = min(2*delay, pollMax)
	}
}
