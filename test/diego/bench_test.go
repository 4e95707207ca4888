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

// simCreateTime is how long a simulated cell takes from claiming an
// instance to reporting it healthy: a container created and its app
// answering its health check (docs/performance.md has the real rep's).
const simCreateTime = 300 * time.Millisecond

// BenchmarkPlace10k desires 10,000 instances (1,000 LRPs of 10) on 100
// simulated cells in 3 zones and measures until every one is placed
// (claimed by the cell the auctioneer chose) and then RUNNING: desire,
// auction, Perform, claim and start through the real BBS and auctioneer. It reports the time to place them all and the latency of the
// BBS calls made meanwhile: the desires, the cells' claims and starts, and
// a probe reading one LRP's instances 20 times a second.
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
			sims[c].createTime = simCreateTime
		}
		ctx := ctxFor(b)
		b.StartTimer()

		start := time.Now()
		// A probe reads like the Cloud Controller and route emitter do
		// (one LRP's instances) 20 times a second while placement runs.
		probeLat := &latencies{}
		probeDone := make(chan struct{})
		var probes sync.WaitGroup
		probes.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-probeDone:
					return
				case <-tick.C:
				}
				t0 := time.Now()
				if _, err := p.instances(ctx, fmt.Sprintf("p-%04d", n%processes)); err != nil {
					b.Error(err)
				}
				probeLat.add(time.Since(t0))
			}
		})
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
		count := func(f func(*simCell) int64) int64 {
			total := int64(0)
			for _, c := range sims {
				total += f(c)
			}
			return total
		}
		// Placed: every instance claimed by the cell the auctioneer chose.
		testenv.Eventually(b, 120*time.Second, func() error {
			if n := count(func(c *simCell) int64 { return c.claimed.Load() }); n < processes*instances {
				return fmt.Errorf("%d of %d instances placed", n, processes*instances)
			}
			return nil
		})
		placed := time.Since(start)
		testenv.Eventually(b, 120*time.Second, func() error {
			if n := count(func(c *simCell) int64 { return c.started.Load() }); n < processes*instances {
				return fmt.Errorf("%d of %d instances running", n, processes*instances)
			}
			return nil
		})
		elapsed := time.Since(start)
		close(probeDone)
		probes.Wait()
		b.StopTimer()

		b.ReportMetric(placed.Seconds(), "s-to-place-all")
		b.ReportMetric(elapsed.Seconds(), "s-to-run-all")
		for name, l := range map[string]*latencies{"cell": lat, "desire": desireLat, "probe": probeLat} {
			l.mu.Lock()
			d := slices.Clone(l.d)
			l.mu.Unlock()
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)*50/100].Microseconds())/1000, name+"-p50-ms")
			b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
		}
	}
}
