package gorouter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/gorouter"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// wrkResult is what BenchmarkThroughput reads from wrk's report.
type wrkResult struct {
	rps float64
	p50 time.Duration
	p99 time.Duration
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
)

func runWrk(b *testing.B, url, host string, d time.Duration) wrkResult {
	b.Helper()
	out, err := exec.Command("wrk", "-t", "2", "-c", "64", "-d", d.String(), "--latency", "-H", "Host: "+host, url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		b.Fatalf("wrk saw errors:\n%s", out)
	}
	var r wrkResult
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no Requests/sec in wrk's report:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, m := range wrkLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		lat := time.Duration(v * float64(unit))
		if string(m[1]) == "50" {
			r.p50 = lat
		} else {
			r.p99 = lat
		}
	}
	return r
}

// BenchmarkThroughput drives a small backend with wrk (2 threads, 64
// keep-alive connections) directly and through the router, and reports
// the throughput ratio and the p99 latency the router adds. It needs wrk
// on PATH (apt-get install wrk). Run it alone with -benchtime 1x: each
// iteration is two wrk runs of WRK_DURATION (default 10s).
func BenchmarkThroughput(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	d := 10 * time.Second
	if v := os.Getenv("WRK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			b.Fatal(err)
		}
	}
	e := start(b, func(c *gorouter.Config) {
		c.AccessLog = filepath.Join(b.TempDir(), "access.log")
		c.Logging.Level = "warn"
	})
	body := strings.Repeat("x", 64)
	be := backend(b, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	e.publish(router.SubjectRegister, regMsg(b, be.Listener.Addr().String(), "bench.apps.test", 0))
	testenv.Eventually(b, 5*time.Second, func() error {
		req, _ := http.NewRequest("GET", e.httpURL, nil)
		req.Host = "bench.apps.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	b.ResetTimer()
	for b.Loop() {
		direct := runWrk(b, be.URL+"/", "bench.apps.test", d)
		via := runWrk(b, e.httpURL+"/", "bench.apps.test", d)
		b.ReportMetric(direct.rps, "direct-req/s")
		b.ReportMetric(via.rps, "router-req/s")
		b.ReportMetric(via.rps/direct.rps, "ratio")
		b.ReportMetric(float64(direct.p99.Microseconds())/1000, "direct-p99-ms")
		b.ReportMetric(float64(via.p99.Microseconds())/1000, "router-p99-ms")
		b.ReportMetric(float64((via.p99-direct.p99).Microseconds())/1000, "added-p99-ms")
	}
}

// BenchmarkIdleRSS builds and starts the gorouter binary with 1,000 routes
// registered, lets it idle, and reports its resident memory.
func BenchmarkIdleRSS(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "gorouter")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/anvilpaas/anvil/cmd/gorouter").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	srv := testenv.NATS(b)
	statusPort := testenv.FreePort(b)
	cfgPath := filepath.Join(dir, "gorouter.yml")
	cfg := fmt.Sprintf("http:\n  listen: 127.0.0.1:0\nstatus:\n  listen: 127.0.0.1:%d\nnats:\n  url: %s\nlogging:\n  level: warn\n", statusPort, srv.ClientURL())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cmd := exec.Command(bin, "-config", cfgPath)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		testenv.Eventually(b, 10*time.Second, func() error {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", statusPort))
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("health %d", resp.StatusCode)
			}
			return nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		pub, err := natsconn.Connect(ctx, natsconn.Config{URL: srv.ClientURL(), Name: "bench"}, nil)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		for i := range 1000 {
			msg, _ := json.Marshal(regMsg(b, fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250), fmt.Sprintf("app%d.apps.test", i), 0))
			if err := pub.Publish(router.SubjectRegister, msg); err != nil {
				b.Fatal(err)
			}
		}
		_ = pub.Flush()
		idle := time.NewTimer(3 * time.Second)
		<-idle.C
		rss := vmRSS(b, cmd.Process.Pid)
		b.ReportMetric(float64(rss)/(1<<20), "idle-RSS-MB")
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		pub.Close()
	}
}

// vmRSS returns the resident set size of pid in bytes.
func vmRSS(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
