package cellregistry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the registry's Prometheus collectors. They always exist, and
// are registered only when New gets a Registerer.
type metrics struct {
	cells       prometheus.Gauge
	badMetadata prometheus.Counter
	resyncs     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		cells: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cellregistry_cells",
			Help: "Cells alive in the cluster as this member sees them (what Cells returns).",
		}),
		badMetadata: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cellregistry_bad_metadata_total",
			Help: "Member metadata that could not be decoded; such a member is ignored.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cellregistry_subscriber_resyncs_total",
			Help: "Times a slow subscriber's queued events were replaced by one Resync event.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.cells, m.badMetadata, m.resyncs} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
