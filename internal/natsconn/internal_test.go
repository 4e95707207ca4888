package natsconn

import (
	"testing"
	"time"
)

func TestReconnectDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempts int
		base     time.Duration // delay before jitter
	}{
		{0, maxReconnectWait},
		{1, 50 * time.Millisecond},
		{2, 100 * time.Millisecond},
		{3, 200 * time.Millisecond},
		{6, 1600 * time.Millisecond},
		{7, maxReconnectWait},
		{1000, maxReconnectWait},
	}
	for _, tt := range tests {
		for range 100 {
			d := reconnectDelay(tt.attempts)
			if d < tt.base/2 || d > tt.base {
				t.Fatalf("reconnectDelay(%d) = %v, want within [%v, %v]", tt.attempts, d, tt.base/2, tt.base)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:secret@a:4222, nats://b:4222", "nats://u:xxxxx@a:4222,nats://b:4222"},
		{"u:secret@a:4222", "nats://u:xxxxx@a:4222"},
		{"nats://token@a:4222", "nats://xxxxx@a:4222"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
