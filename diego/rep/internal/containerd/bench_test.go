package containerd

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// Run with, e.g.:
//
//	go test -run '^$' -bench . -benchtime 20x ./diego/rep/internal/containerd/
//
// BenchmarkCreateToHealthy reports the time from Create to the first TCP
// connection accepted by busybox httpd on the host port (what a Diego port
// health check sees), and the time to Destroy, as p50 and p99 over b.N
// containers created one after the other.
func BenchmarkCreateToHealthy(b *testing.B) {
	for _, mode := range []string{NetworkHost, NetworkBridge} {
		b.Run(mode, func(b *testing.B) {
			r := newCell(b, mode)
			var healthy, destroy []time.Duration
			i := 0
			for b.Loop() {
				i++
				began := time.Now()
				c := upHTTPD(b, r, fmt.Sprintf("bench-%d", i))
				healthy = append(healthy, time.Since(began))
				began = time.Now()
				if err := r.Destroy(context.Background(), c.ID); err != nil {
					b.Fatal(err)
				}
				destroy = append(destroy, time.Since(began))
			}
			reportPercentiles(b, "healthy", healthy)
			reportPercentiles(b, "destroy", destroy)
		})
	}
}

// BenchmarkFiftyContainers brings 50 httpd containers up on one cell, four
// at a time, until every one accepts connections, then destroys them four
// at a time.
func BenchmarkFiftyContainers(b *testing.B) {
	const n, workers = 50, 4
	for _, mode := range []string{NetworkHost, NetworkBridge} {
		b.Run(mode, func(b *testing.B) {
			r := newCell(b, mode)
			round := 0
			for b.Loop() {
				round++
				ids := make([]string, n)
				for i := range ids {
					ids[i] = fmt.Sprintf("fifty-%d-%d", round, i)
				}
				began := time.Now()
				var mu sync.Mutex
				var each []time.Duration
				g := errgroup.Group{}
				g.SetLimit(workers)
				for _, id := range ids {
					g.Go(func() error {
						t0 := time.Now()
						upHTTPD(b, r, id)
						mu.Lock()
						each = append(each, time.Since(t0))
						mu.Unlock()
						return nil
					})
				}
				g.Wait()
				up := time.Since(began)
				began = time.Now()
				g = errgroup.Group{}
				g.SetLimit(workers)
				for _, id := range ids {
					g.Go(func() error { return r.Destroy(context.Background(), id) })
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
				down := time.Since(began)
				b.ReportMetric(up.Seconds(), "all-healthy-s")
				b.ReportMetric(down.Seconds(), "all-destroyed-s")
				reportPercentiles(b, "healthy", each)
			}
		})
	}
}

// upHTTPD creates a container with busybox httpd on its port and waits
// until a TCP connection to the host port succeeds.
func upHTTPD(b *testing.B, r *Runtime, id string) *runtime.Container {
	ctx := context.Background()
	c, err := r.Create(ctx, runtime.ContainerSpec{ID: id, Stack: stack, Ports: []uint32{8080}, MemoryBytes: 64 << 20})
	if err != nil {
		b.Error(err)
		return nil
	}
	port := itoa(c.Ports[0].ContainerPort)
	if _, err := r.Run(ctx, c.ID, runtime.ProcessSpec{ID: "app", Env: []string{"PORT=" + port},
		Args: []string{"/bin/sh", "-c", "exec httpd -f -p $PORT -h /tmp"}}); err != nil {
		b.Error(err)
		return c
	}
	addr := "127.0.0.1:" + itoa(c.Ports[0].HostPort)
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for dialable(addr) != nil {
		if time.Now().After(deadline) {
			b.Errorf("%s never accepted a connection on %s", id, addr)
			return c
		}
		<-tick.C
	}
	return c
}

func reportPercentiles(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	pct := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.5) - 1
		return float64(ds[min(max(i, 0), len(ds)-1)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), name+"-p50-ms")
	b.ReportMetric(pct(0.99), name+"-p99-ms")
}
