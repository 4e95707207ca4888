package executor

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the executor's Prometheus collectors.
type Metrics struct {
	healthFailures     *prometheus.CounterVec
	crashes            prometheus.Counter
	tasks              *prometheus.CounterVec
	downloads          *prometheus.CounterVec
	downloadFailures   prometheus.Counter
	syncDuration       prometheus.Histogram
	evacuating         prometheus.Gauge
	evacuationDuration prometheus.Gauge
	state              *stateCollector
}

// NewMetrics creates the collectors and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		healthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rep_health_check_failures_total",
			Help: "Failed health checks that changed an instance: startup (never healthy), liveness (crashed), readiness (made unroutable).",
		}, []string{"check"}),
		crashes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rep_crashes_reported_total", Help: "Instance crashes reported to the BBS.",
		}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rep_tasks_completed_total", Help: "Tasks completed in the BBS, by result.",
		}, []string{"result"}),
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rep_downloads_total", Help: "Setup archives fetched, by whether the cache had them (hit) or they were downloaded (miss).",
		}, []string{"cache"}),
		downloadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rep_download_failures_total", Help: "Setup archive downloads that failed (including checksum mismatches).",
		}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rep_bulk_sync_duration_seconds",
			Help:    "Time of one bulk sync with the BBS.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms … 32 s
		}),
		evacuating: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rep_evacuating", Help: "1 while the cell evacuates.",
		}),
		evacuationDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rep_evacuation_duration_seconds", Help: "How long the last evacuation took.",
		}),
		state: &stateCollector{
			containers: prometheus.NewDesc("rep_containers", "Containers by state.", []string{"state"}, nil),
			remaining:  prometheus.NewDesc("rep_capacity_remaining", "Capacity left after reservations, by resource (memory_mb, disk_mb, containers).", []string{"resource"}, nil),
			total:      prometheus.NewDesc("rep_capacity_total", "The cell's capacity, by resource (memory_mb, disk_mb, containers).", []string{"resource"}, nil),
			starting:   prometheus.NewDesc("rep_starting_containers", "Instances not yet running.", nil, nil),
		},
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.healthFailures, m.crashes, m.tasks, m.downloads, m.downloadFailures, m.syncDuration, m.evacuating, m.evacuationDuration, m.state,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register rep metrics: %w", err)
		}
	}
	return m, nil
}

// observe makes the state collector report e.
func (m *Metrics) observe(e *Executor) { m.state.e.Store(e) }

// stateCollector reports the executor's containers and capacity when
// scraped.
type stateCollector struct {
	e                                      atomic.Pointer[Executor]
	containers, remaining, total, starting *prometheus.Desc
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.containers
	ch <- c.remaining
	ch <- c.total
	ch <- c.starting
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	e := c.e.Load()
	if e == nil {
		return
	}
	e.mu.Lock()
	counts := make([]int, len(stateNames))
	starting := 0
	for _, inst := range e.instances {
		counts[inst.state]++
		if inst.startingLocked() {
			starting++
		}
	}
	avail, total := e.availableLocked(), e.cfg.Capacity
	e.mu.Unlock()
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.containers, prometheus.GaugeValue, float64(n), stateNames[s])
	}
	for _, r := range []struct {
		name         string
		avail, total int32
	}{
		{"memory_mb", avail.MemoryMB, total.MemoryMB},
		{"disk_mb", avail.DiskMB, total.DiskMB},
		{"containers", avail.Containers, total.Containers},
	} {
		ch <- prometheus.MustNewConstMetric(c.remaining, prometheus.GaugeValue, float64(r.avail), r.name)
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(r.total), r.name)
	}
	ch <- prometheus.MustNewConstMetric(c.starting, prometheus.GaugeValue, float64(starting))
}

// metricsCallTimeout bounds the runtime's answer for one container's usage.
const metricsCallTimeout = 5 * time.Second

// reportMetrics sends every container's usage to the metric sink.
func (e *Executor) reportMetrics(ctx context.Context) {
	e.mu.Lock()
	var insts []*instance
	for _, inst := range e.instances {
		if inst.ctr != nil && inst.state >= stateCreated && inst.state < stateCompleted {
			insts = append(insts, inst)
		}
	}
	e.mu.Unlock()
	for _, inst := range insts {
		// One container whose runtime does not answer must not hold up
		// the others' reports.
		mctx, cancel := context.WithTimeout(ctx, metricsCallTimeout)
		u, err := e.rt.Metrics(mctx, inst.guid)
		cancel()
		if err != nil {
			e.logger.Debug("no metrics for container", "container", inst.guid, "err", err)
			continue // gone meanwhile, or the runtime cannot tell
		}
		e.mu.Lock()
		run := inst.run
		e.mu.Unlock()
		cpu := 0.0
		if !inst.lastCPUAt.IsZero() && u.At.After(inst.lastCPUAt) && u.CPUTime >= inst.lastCPU {
			cpu = 100 * float64(u.CPUTime-inst.lastCPU) / float64(u.At.Sub(inst.lastCPUAt))
		}
		inst.lastCPU, inst.lastCPUAt = u.CPUTime, u.At
		var index int32
		if inst.key != nil {
			index = inst.key.GetIndex()
		}
		at := u.At
		if at.IsZero() {
			at = e.clock.Now()
		}
		e.sink.EmitMetrics(ctx, ContainerMetrics{
			AppID:            run.LogGUID,
			InstanceIndex:    index,
			CPUPercentage:    cpu,
			MemoryBytes:      u.MemoryBytes,
			MemoryLimitBytes: u.MemoryLimitBytes,
			DiskBytes:        u.DiskBytes,
			DiskLimitBytes:   uint64(inst.diskMB) << 20,
			Tags:             run.MetricTags,
			Timestamp:        at,
		})
	}
}

func joinHostPort(host string, port uint32) string {
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}
