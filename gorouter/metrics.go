package gorouter

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/gorouter/internal/mbus"
	"github.com/anvilpaas/anvil/gorouter/internal/proxy"
)

// metrics are the router's Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec // by status class
	errors   *prometheus.CounterVec // by X-Cf-Routererror value
	latency  prometheus.Histogram   // whole request
	backend  prometheus.Histogram   // backend's time to response headers
	classes  [6]prometheus.Counter  // requests by status class, pre-bound
	draining prometheus.Gauge
	reg      prometheus.Registerer
}

func newMetrics(reg prometheus.Registerer, r *Router) *metrics {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gorouter_requests_total", Help: "Requests answered, by status class (2xx, 4xx, …; 0xx when no status was written).",
		}, []string{"status_class"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gorouter_router_errors_total", Help: "Requests the router answered itself, by X-Cf-Routererror value.",
		}, []string{"error"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gorouter_request_duration_seconds", Help: "Time from receiving a request to writing its response.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		backend: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gorouter_backend_response_seconds", Help: "Time from sending a request to a backend to its response headers.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		draining: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gorouter_draining", Help: "1 while the router drains.",
		}),
	}
	for i, c := range []string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		m.classes[i] = m.requests.WithLabelValues(c)
	}
	reg.MustRegister(m.requests, m.errors, m.latency, m.backend, m.draining,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gorouter_routes", Help: "Routes in the table.",
		}, func() float64 { n, _ := r.reg.Counts(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gorouter_endpoints", Help: "Endpoints in the table, counted once per route.",
		}, func() float64 { _, n := r.reg.Counts(); return float64(n) }),
	)
	if r.alog != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gorouter_access_log_failures_total", Help: "Access log lines that could not be written.",
		}, func() float64 { return float64(r.alog.Failed()) }))
	}
	return m
}

// watch exports the subscriber's message counters.
func (m *metrics) watch(sub *mbus.Subscriber) {
	vec := prometheus.NewDesc("gorouter_registry_messages_total",
		"NATS messages handled, by kind: register, unregister, malformed, greet.", []string{"kind"}, nil)
	m.reg.MustRegister(collectorFunc{desc: vec, collect: func(ch chan<- prometheus.Metric) {
		st := sub.Stats()
		for kind, v := range map[string]uint64{
			"register": st.Registered, "unregister": st.Unregistered, "malformed": st.Malformed, "greet": st.Greeted,
		} {
			ch <- prometheus.MustNewConstMetric(vec, prometheus.CounterValue, float64(v), kind)
		}
	}})
}

func (m *metrics) observe(rec *proxy.Record) {
	class := rec.Status / 100
	if class < 0 || class > 5 {
		class = 0
	}
	m.classes[class].Inc()
	m.latency.Observe(rec.Duration.Seconds())
	if rec.BackendTime > 0 {
		m.backend.Observe(rec.BackendTime.Seconds())
	}
	if rec.RouterError != "" {
		m.errors.WithLabelValues(rec.RouterError).Inc()
	}
}

// collectorFunc is a Collector of one descriptor.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
