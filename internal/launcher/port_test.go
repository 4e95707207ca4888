package launcher

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestFreePortBelowEphemeralRange(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skip("no ephemeral port range to compare with")
	}
	low, _ := strconv.Atoi(strings.Fields(string(data))[0])
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p >= low || p < 1024 || !portFree(p) {
			t.Fatalf("FreePort = %d: want a free port in [1024, %d)", p, low)
		}
	}
}
