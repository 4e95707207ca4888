package callbacks

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of a submitted task (bbs_task_callbacks_total's outcome label).
const (
	// outcomeDelivered: the receiver answered below 500.
	outcomeDelivered = "delivered"
	// outcomeFailed: every attempt failed; the task is left RESOLVING.
	outcomeFailed = "failed"
	// outcomeSkipped: no callback URL, or someone else resolves the task.
	outcomeSkipped = "skipped"
	// outcomeStoreError: marking it RESOLVING failed (a failed delete after
	// delivery still counts as delivered).
	outcomeStoreError = "store_error"
)

type metrics struct {
	outcomes *prometheus.CounterVec
	requests *prometheus.CounterVec
	dropped  prometheus.Counter
	queue    prometheus.GaugeFunc
}

func newMetrics(queueLen func() float64) metrics {
	m := metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bbs_task_callbacks_total", Help: "Completed tasks handled by the callback workers, by outcome (delivered, failed, skipped, store_error).",
		}, []string{"outcome"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bbs_task_callback_requests_total", Help: "Callback POSTs, by status class (2xx, 4xx, 5xx, …) or error.",
		}, []string{"code"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bbs_task_callbacks_dropped_total", Help: "Completed tasks dropped because the callback queue was full (convergence submits them again).",
		}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bbs_task_callback_queue_length", Help: "Completed tasks waiting for a callback worker.",
		}, queueLen),
	}
	for _, o := range []string{outcomeDelivered, outcomeFailed, outcomeSkipped, outcomeStoreError} {
		m.outcomes.WithLabelValues(o)
	}
	return m
}

func (m metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.outcomes, m.requests, m.dropped, m.queue} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m metrics) outcome(o string) { m.outcomes.WithLabelValues(o).Inc() }

func (m metrics) request(code string) { m.requests.WithLabelValues(code).Inc() }
