package loggregator_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/loggregator"
)

// ingested sums loggregator_ingress_envelopes_total.
func ingested(b testing.TB, reg *prometheus.Registry) int64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "loggregator_ingress_envelopes_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int64(n)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngest offers b.N app log lines (about 150 bytes with CF's
// tags) at a fixed rate from 4 emitters (4 "daemons", each its own gRPC
// mTLS connection), and reports the rate achieved, the loss (lines not
// stored), the CPU used by the whole process (senders included) and the
// live heap per stored envelope. Run it with a count, e.g.
// -benchtime 300000x: each run takes b.N/rate seconds.
func BenchmarkIngest(b *testing.B) {
	for _, rate := range []int{60_000, 100_000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			reg := ops.NewRegistry()
			e := start(b, envOptions{registry: reg,
				store: loggregator.StoreConfig{MaxPerSource: 100_000, MaxEnvelopes: 4_000_000, MaxBytes: 4 << 30}})
			const producers = 4
			ems := make([]*logemitter.Emitter, producers)
			for i := range ems {
				ems[i] = e.emitter(b, logemitter.Config{Origin: "rep", BufferSize: 10_000})
			}
			tags := logemitter.AppTags{AppID: "app", AppName: "bench", OrgName: "org", SpaceName: "space", ProcessType: "web"}.Map(logemitter.AppSourceType("web"))
			line := "2026-11-29T12:00:00Z INFO request handled path=/api/v1/things status=200 duration=3ms"
			per := b.N / producers
			total := per * producers
			cpu0, wall0 := cpuTime(), time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					em := ems[p]
					src := fmt.Sprintf("app-%d", p)
					pace := float64(rate/producers) / 1e9 // lines per ns
					tick := time.NewTicker(time.Millisecond)
					defer tick.Stop()
					begin := time.Now()
					sent := 0
					for sent < per {
						due := min(per, int(float64(time.Since(begin).Nanoseconds())*pace)+1)
						for ; sent < due; sent++ {
							em.Log(logemitter.Log{SourceID: src, InstanceID: "0", Message: line, Tags: tags})
						}
						<-tick.C
					}
				}()
			}
			wg.Wait()
			// Wait for the last batches to land (or stop arriving).
			deadline := time.Now().Add(10 * time.Second)
			last, stable := int64(-1), 0
			for time.Now().Before(deadline) {
				n := ingested(b, reg)
				if n >= int64(total) {
					break
				}
				if n == last {
					if stable++; stable > 20 {
						break
					}
				} else {
					stable = 0
				}
				last = n
				t := time.NewTimer(10 * time.Millisecond)
				<-t.C
			}
			b.StopTimer()
			wall, cpu := time.Since(wall0), cpuTime()-cpu0
			got := ingested(b, reg)
			var dropped uint64
			for _, em := range ems {
				dropped += em.Dropped()
			}
			b.ReportMetric(float64(got)/wall.Seconds(), "envelopes/s")
			b.ReportMetric(100*float64(int64(total)-got)/float64(total), "loss-%")
			b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-cores")
			b.ReportMetric(float64(dropped), "emitter-drops")
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/float64(got), "heap-B/stored-envelope")
		})
	}
}

// BenchmarkRead reads the newest 1,000 log envelopes of a source holding
// 100,000 (and gauges besides) over HTTP, as `cf logs --recent` does,
// token check and JSON encoding included, and reports p50 and p99. Run it
// with a small count (-benchtime 300x): an iteration is about 2ms.
func BenchmarkRead(b *testing.B) {
	e := start(b, envOptions{})
	conn, err := rpc.Dial(context.Background(), rpc.ClientConfig{
		Address: e.l.IngressAddr(), CertFile: e.certs.CertFile, KeyFile: e.certs.KeyFile, CAFile: e.certs.CAFile,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := loggregator_v2.NewIngressClient(conn)
	tags := logemitter.AppTags{AppID: app, AppName: "bench", OrgName: "org", SpaceName: "space", ProcessType: "web"}.Map(logemitter.AppSourceType("web"))
	ts := time.Now().Add(-time.Hour).UnixNano()
	for range 100 {
		batch := &loggregator_v2.EnvelopeBatch{}
		for i := range 1000 {
			ts += 1000
			env := &loggregator_v2.Envelope{SourceId: app, InstanceId: "0", Timestamp: ts, Tags: tags,
				Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{Payload: []byte("2026-11-29T12:00:00Z INFO request handled path=/api/v1/things status=200")}}}
			if i%10 == 9 {
				env.Message = &loggregator_v2.Envelope_Gauge{Gauge: &loggregator_v2.Gauge{Metrics: map[string]*loggregator_v2.GaugeValue{"cpu": {Value: 1, Unit: "percentage"}, "memory": {Value: 1 << 20, Unit: "bytes"}}}}
			}
			batch.Batch = append(batch.Batch, env)
		}
		if _, err := c.Send(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	tok := e.adminToken(b)
	e.waitCount(b, tok, app, 1000)
	url := e.base + "/api/v1/read/" + app + "?descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152"
	client := &http.Client{}
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		begin := time.Now()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var buf [32 << 10]byte
		n := 0
		for {
			m, err := resp.Body.Read(buf[:])
			n += m
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 100_000 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
		durs = append(durs, time.Since(begin))
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
}
