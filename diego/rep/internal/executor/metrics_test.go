package executor

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestContainerMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.desire(processLRP("web", 1))
	ig := h.instanceGUID("web", 0)
	h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)

	at := time.Unix(1700000000, 0)
	h.rt.setUsage(ig, runtime.Metrics{CPUTime: time.Second, MemoryBytes: 100 << 20, MemoryLimitBytes: 256 << 20, DiskBytes: 10 << 20, At: at})
	h.ex.reportMetrics(ctxFor(t))
	// Half a core over the next 10 s.
	h.rt.setUsage(ig, runtime.Metrics{CPUTime: 6 * time.Second, MemoryBytes: 120 << 20, MemoryLimitBytes: 256 << 20, DiskBytes: 11 << 20, At: at.Add(10 * time.Second)})
	h.ex.reportMetrics(ctxFor(t))

	ms := h.metrics.all()
	if len(ms) != 2 {
		t.Fatalf("%d reports, want 2", len(ms))
	}
	m := ms[1]
	if m.AppID != "app-web" || m.InstanceIndex != 0 || math.Abs(m.CPUPercentage-50) > 0.001 || m.MemoryBytes != 120<<20 ||
		m.MemoryLimitBytes != 256<<20 || m.DiskBytes != 11<<20 || m.DiskLimitBytes != 512<<20 || m.Tags["app_name"] != "dora" ||
		!m.Timestamp.Equal(at.Add(10*time.Second)) {
		t.Errorf("metrics %+v", m)
	}
	if ms[0].CPUPercentage != 0 {
		t.Errorf("first report's CPU %v, want 0 (no previous sample)", ms[0].CPUPercentage)
	}
}

func TestRunLoops(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{tweak: func(c *Config) { c.BulkSyncInterval, c.MetricsInterval = 20*time.Millisecond, 20*time.Millisecond }})
	h.desire(processLRP("web", 1))
	ig := h.instanceGUID("web", 0)
	h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	h.rt.setUsage(ig, runtime.Metrics{MemoryBytes: 1})
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctxFor(t))
	go func() { done <- h.ex.Run(runCtx) }()
	testenv.Eventually(t, timeout, func() error {
		if n := h.metric("rep_bulk_sync_duration_seconds"); n < 2 {
			return fmt.Errorf("%v bulk syncs", n)
		}
		if n := len(h.metrics.all()); n < 2 {
			return fmt.Errorf("%d metric reports", n)
		}
		return nil
	})
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
