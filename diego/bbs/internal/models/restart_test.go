package models

import (
	"testing"
	"time"
)

func TestRestartPolicyBackoff(t *testing.T) {
	t.Parallel()
	p := DefaultRestartPolicy()
	tests := []struct {
		crashes int32
		want    time.Duration
		restart bool
	}{
		{1, 0, true},
		{2, 0, true},
		{3, 0, true},
		{4, 30 * time.Second, true},
		{5, time.Minute, true},
		{6, 2 * time.Minute, true},
		{7, 4 * time.Minute, true},
		{8, 8 * time.Minute, true},
		{9, 16 * time.Minute, true},
		{10, 16 * time.Minute, true},
		{200, 16 * time.Minute, true},
		{201, 0, false},
	}
	for _, tt := range tests {
		got, ok := p.Backoff(tt.crashes)
		if got != tt.want || ok != tt.restart {
			t.Errorf("Backoff(%d) = %v, %v; want %v, %v", tt.crashes, got, ok, tt.want, tt.restart)
		}
		if imm := p.RestartImmediately(tt.crashes); imm != (tt.crashes <= 3) {
			t.Errorf("RestartImmediately(%d) = %v", tt.crashes, imm)
		}
	}
}

func TestShouldRestart(t *testing.T) {
	t.Parallel()
	p := DefaultRestartPolicy()
	crashed := time.Unix(1_000_000, 0)
	tests := []struct {
		name    string
		after   time.Duration
		crashes int32
		want    bool
	}{
		{"third crash at once", 0, 3, true},
		{"fourth crash before 30s", 29 * time.Second, 4, false},
		{"fourth crash at 30s", 30 * time.Second, 4, true},
		{"fifth crash before 60s", 59 * time.Second, 5, false},
		{"fifth crash at 60s", time.Minute, 5, true},
		{"capped at 16 min", 16 * time.Minute, 50, true},
		{"not before cap", 15 * time.Minute, 50, false},
		{"gives up after 200", 24 * time.Hour, 201, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.ShouldRestart(crashed.Add(tt.after), crashed, tt.crashes); got != tt.want {
				t.Errorf("ShouldRestart(+%v, %d) = %v, want %v", tt.after, tt.crashes, got, tt.want)
			}
		})
	}
}

func TestNextCrashCount(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	tests := []struct {
		name    string
		count   int32
		running bool
		since   time.Time
		want    int32
	}{
		{"counts up", 2, true, now.Add(-time.Minute), 3},
		{"long run resets", 7, true, now.Add(-6 * time.Minute), 1},
		{"claimed does not reset", 7, false, now.Add(-6 * time.Minute), 8},
	}
	for _, tt := range tests {
		if got := NextCrashCount(tt.count, tt.running, tt.since, now); got != tt.want {
			t.Errorf("%s: NextCrashCount = %d, want %d", tt.name, got, tt.want)
		}
	}
}
