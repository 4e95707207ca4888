package auction

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the auction loop's Prometheus collectors, named after
// Diego's auctioneer metrics.
type Metrics struct {
	lrpStarted      prometheus.Counter
	lrpFailed       prometheus.Counter
	taskStarted     prometheus.Counter
	taskFailed      prometheus.Counter
	retried         prometheus.Counter
	stateFailures   prometheus.Counter
	fetchDuration   prometheus.Histogram
	auctionDuration prometheus.Histogram
	batchSize       prometheus.Histogram
}

// NewMetrics creates the collectors and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Metrics{
		lrpStarted:    counter("auctioneer_lrp_auctions_started_total", "LRP instances a cell took."),
		lrpFailed:     counter("auctioneer_lrp_auctions_failed_total", "LRP instances reported to the BBS as not placeable."),
		taskStarted:   counter("auctioneer_task_auctions_started_total", "Tasks a cell took."),
		taskFailed:    counter("auctioneer_task_auctions_failed_total", "Tasks reported to the BBS as not placeable."),
		retried:       counter("auctioneer_auction_retries_total", "Instances and tasks queued again after a cell refused them or could not be reached."),
		stateFailures: counter("auctioneer_cell_state_fetch_failures_total", "Cell state requests that failed or timed out."),
		fetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "auctioneer_fetch_states_duration_seconds",
			Help:    "Time to collect the state of every cell for one auction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1 ms … 8 s
		}),
		auctionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "auctioneer_auction_duration_seconds",
			Help:    "Time of one auction, from fetching states to reporting failures.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms … 32 s
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "auctioneer_auction_batch_size",
			Help:    "Instances and tasks in one auction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9), // 1 … 65536
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.lrpStarted, m.lrpFailed, m.taskStarted, m.taskFailed, m.retried,
		m.stateFailures, m.fetchDuration, m.auctionDuration, m.batchSize,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register auction metrics: %w", err)
		}
	}
	return m, nil
}
