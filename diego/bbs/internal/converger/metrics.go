package converger

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
	"github.com/anvilpaas/anvil/diego/bbs/internal/tasks"
)

// metrics are named after Diego's BBS metrics (ConvergenceLRPDuration,
// LRPsMissing, LRPsExtra, CrashedActualLRPs, ...).
type metrics struct {
	duration prometheus.Histogram
	failures *prometheus.CounterVec
	cells    prometheus.Gauge
	lrps     *prometheus.GaugeVec
	tasks    *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "bbs_convergence_duration_seconds",
		Help:    "How long one convergence pass (LRPs and tasks) took.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	})
	m := metrics{
		duration: h,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bbs_convergence_failures_total", Help: "Convergence passes that failed.",
		}, []string{"part"}),
		cells: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bbs_cells_present", Help: "Cells the registry saw at the last convergence pass.",
		}),
		lrps: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bbs_lrps", Help: "Instances by kind at the last convergence pass (desired, running, claimed, unclaimed, crashed, missing, extra, suspect).",
		}, []string{"kind"}),
		tasks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bbs_tasks", Help: "Tasks by state at the last convergence pass.",
		}, []string{"state"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{h, m.failures, m.cells, m.lrps, m.tasks} {
			if err := reg.Register(c); err != nil {
				return metrics{}, err
			}
		}
	}
	return m, nil
}

func (m metrics) observeLRPs(s lrps.ConvergeStats) {
	for kind, n := range map[string]int{
		"desired": s.Desired, "running": s.Running, "claimed": s.Claimed, "unclaimed": s.Unclaimed,
		"crashed": s.Crashed, "missing": s.Missing, "extra": s.Extra, "suspect": s.Suspect,
	} {
		m.lrps.WithLabelValues(kind).Set(float64(n))
	}
}

func (m metrics) observeTasks(s tasks.ConvergeStats) {
	for state, n := range map[string]int{
		"pending": s.Pending, "running": s.Running, "completed": s.Completed, "resolving": s.Resolving,
	} {
		m.tasks.WithLabelValues(state).Set(float64(n))
	}
}
