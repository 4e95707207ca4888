package web

import (
	"github.com/prometheus/client_golang/prometheus"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
)

// Metrics are the blobstore's Prometheus metrics.
type Metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	received    *prometheus.CounterVec
	sent        *prometheus.CounterVec
	errors      *prometheus.CounterVec
	matches     *prometheus.CounterVec
	objects     *prometheus.GaugeVec
	storedBytes *prometheus.GaugeVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blobstore_requests_total", Help: "API requests by operation and HTTP status code.",
		}, []string{"op", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "blobstore_request_duration_seconds", Help: "API request duration by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"op"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blobstore_received_bytes_total", Help: "Object bytes received (uploads, assembly inputs) by bucket.",
		}, []string{"bucket"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blobstore_sent_bytes_total", Help: "Object bytes sent (downloads) by bucket.",
		}, []string{"bucket"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blobstore_errors_total", Help: "Error responses by operation and error code.",
		}, []string{"op", "error"}),
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blobstore_resource_matches_total", Help: "Resources asked about in resource matching, by result (hit, miss).",
		}, []string{"result"}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "blobstore_objects", Help: "Objects stored, by bucket, as of the last storage scan.",
		}, []string{"bucket"}),
		storedBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "blobstore_stored_bytes", Help: "Bytes stored, by bucket, as of the last storage scan.",
		}, []string{"bucket"}),
	}
	reg.MustRegister(m.requests, m.duration, m.received, m.sent, m.errors, m.matches, m.objects, m.storedBytes)
	// Start every bucket's series at zero, so rates work from the first
	// request.
	for _, b := range apiblob.Buckets() {
		m.received.WithLabelValues(b)
		m.sent.WithLabelValues(b)
	}
	m.matches.WithLabelValues("hit")
	m.matches.WithLabelValues("miss")
	return m
}

// SetBucketStats records a storage scan's result for one bucket.
func (m *Metrics) SetBucketStats(bucket string, objects, bytes int64) {
	m.objects.WithLabelValues(bucket).Set(float64(objects))
	m.storedBytes.WithLabelValues(bucket).Set(float64(bytes))
}
