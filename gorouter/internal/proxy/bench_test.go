package proxy_test

import (
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/gorouter/internal/proxy"
)

// BenchmarkProxy measures requests through the proxy, in parallel, and
// reports how much longer they take than the same requests sent directly
// to the backend (x-direct: proxied time / direct time).
func BenchmarkProxy(b *testing.B) {
	e := newEnv(b, proxy.Config{})
	be := backend(b, "hello")
	register(b, e.reg, addrOf(be), appA, "0", "bench.test")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)

	get := func(url, host string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("status %d", resp.StatusCode)
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			get(e.srv.URL, "bench.test")
		}
	})
	proxied := time.Since(start)
	b.StopTimer()

	// The same number of requests, with the same parallelism, direct.
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	start = time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				get(be.URL, "bench.test")
			}
		})
	}
	wg.Wait()
	direct := time.Since(start)
	b.ReportMetric(float64(proxied)/float64(direct), "x-direct")
}
