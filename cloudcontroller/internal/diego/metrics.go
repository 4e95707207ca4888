package diego

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	syncDuration prometheus.Histogram
	repairs      *prometheus.CounterVec
	syncFailures prometheus.Counter
	crashes      prometheus.Counter
	logCacheErrs prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cc_diego_sync_duration_seconds", Help: "Duration of a reconciler pass (BBS and store listings, repairs).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cc_diego_sync_repairs_total", Help: "Drift the reconciler repaired: LRPs desired, updated (instances, routes, tags) and removed.",
		}, []string{"action"}),
		syncFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cc_diego_sync_failures_total", Help: "Reconciler passes that did not complete (the domain is then not refreshed).",
		}),
		crashes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cc_diego_crash_events_total", Help: "Instance crashes recorded as audit events.",
		}),
		logCacheErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cc_diego_stats_log_cache_failures_total", Help: "Stats lookups answered without usage because log-cache failed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.syncDuration, m.repairs, m.syncFailures, m.crashes, m.logCacheErrs)
	}
	return m
}
