package mbus_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/gorouter/internal/mbus"
)

// BenchmarkRegisterLatency measures the time from a route emitter's
// Publish of a new registration to Lookup finding the route, through a
// real embedded NATS server. It reports p50 and p99 besides the mean.
func BenchmarkRegisterLatency(b *testing.B) {
	e := start(b, mbus.Config{ID: "bench"}, nil, nil)
	msgs := make([][]byte, b.N)
	hosts := make([]string, b.N)
	for i := range msgs {
		hosts[i] = fmt.Sprintf("app-%d.example.com", i)
		msgs[i] = regMsg(b, hosts[i], "10.0.0.1", 61001)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := e.pub.Publish(router.SubjectRegister, msgs[i]); err != nil {
			b.Fatal(err)
		}
		// Spin briefly, then poll every 10µs: on a 2-core machine a
		// pure spin competes with the NATS reader for a CPU.
		for spins := 0; e.reg.Lookup(hosts[i], "/") == nil; spins++ {
			if time.Since(t0) > 5*time.Second {
				b.Fatalf("%s not routable after 5s", hosts[i])
			}
			if spins < 50 {
				runtime.Gosched()
			} else {
				time.Sleep(10 * time.Microsecond)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
