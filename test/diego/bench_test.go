package diego

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// BenchmarkPlace10k desires 10,000 instances (1,000 LRPs of 10) on 100
// simulated cells in 3 zones and measures until every one is RUNNING:
// desire, auction, Perform, claim and start through the real BBS and
// auctioneer. It reports the time to place them all and the p99 latency of
// the BBS calls made meanwhile (desires, claims, starts).
func BenchmarkPlace10k(b *testing.B) {
	const (
		cells     = 100
		processes = 1000
		instances = 10
	)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := startPlatform(b, platformOptions{staticCells: true})
		lat, desireLat := &latencies{}, &latencies{}
		sims := make([]*simCell, cells)
		for c := range sims {
			sims[c] = p.addCell(fmt.Sprintf("cell-%03d", c), fmt.Sprintf("z%d", c%3), 32768, lat)
		}
		ctx := ctxFor(b)
		b.StartTimer()

		start := time.Now()
		work := make(chan int)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for n := range work {
					t0 := time.Now()
					if _, err := p.client.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: lrp(fmt.Sprintf("p-%04d", n), instances, 64)}); err != nil {
						b.Error(err)
					}
					desireLat.add(time.Since(t0))
				}
			})
		}
		for n := range processes {
			work <- n
		}
		close(work)
		wg.Wait()
		testenv.Eventually(b, 120*time.Second, func() error {
			total := int64(0)
			for _, c := range sims {
				total += c.started.Load()
			}
			if total < processes*instances {
				return fmt.Errorf("%d of %d instances running", total, processes*instances)
			}
			return nil
		})
		elapsed := time.Since(start)
		b.StopTimer()

		b.ReportMetric(elapsed.Seconds(), "s-to-place-all")
		for name, l := range map[string]*latencies{"cell": lat, "desire": desireLat} {
			l.mu.Lock()
			d := slices.Clone(l.d)
			l.mu.Unlock()
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)*50/100].Microseconds())/1000, name+"-p50-ms")
			b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
		}
	}
}
