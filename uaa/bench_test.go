package uaa_test

import (
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/uaa"
)

// benchTokens drives POST /oauth/token with body from 64 concurrent
// clients over keep-alive connections and reports tokens/s and latency
// percentiles.
func benchTokens(b *testing.B, f *fixture, auth string, body string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, f.URL+"/oauth/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "tokens/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkClientCredentialsToken: client_credentials issuance at 64
// concurrent connections (target ≥ 2,500 tokens/s on 2 cores).
func BenchmarkClientCredentialsToken(b *testing.B) {
	f := startUAA(b, nil)
	f.clientToken(b, "cc", "cc-secret") // warm the secret cache
	benchTokens(b, f, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"cc"}, "client_secret": {"cc-secret"}}.Encode())
}

// BenchmarkPasswordToken: the password grant is bcrypt-bound; this runs at
// bcrypt cost 10, the default.
func BenchmarkPasswordToken(b *testing.B) {
	f := startUAA(b, func(c *uaa.Config) { c.BcryptCost = 10 })
	benchTokens(b, f, basic("cf", ""), url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}}.Encode())
}
