package capacity

import (
	"runtime"
	"strings"
	"testing"
)

func TestParseMemTotal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"MemTotal:       16318012 kB\nMemFree:         1065996 kB\n", 15935, false},
		{"MemFree: 1 kB\nMemTotal: 2048 kB\n", 2, false},
		{"MemFree: 1 kB\n", 0, true},
		{"MemTotal: lots kB\n", 0, true},
		{"MemTotal: 5 MB\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseMemTotal(strings.NewReader(tt.in))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseMemTotal(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMachine(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc and statfs")
	}
	if mem, err := MemoryMB(); err != nil || mem <= 0 {
		t.Errorf("MemoryMB = %d, %v", mem, err)
	}
	if disk, err := DiskMB(t.TempDir()); err != nil || disk <= 0 {
		t.Errorf("DiskMB = %d, %v", disk, err)
	}
}
