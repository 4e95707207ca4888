// Package ingress is loggregator's v2 gRPC Ingress service (Sender,
// BatchSender and Send from code.cloudfoundry.org/go-loggregator's
// loggregator_v2), storing every valid envelope it receives.
//
// The service trusts its callers (they hold a client certificate of the
// platform CA) but not their envelopes' shape: an envelope without a
// source_id or message, or with a source_id over 256 bytes, is dropped and
// counted; a zero timestamp is set to the arrival time.
package ingress

import (
	"context"
	"errors"
	"io"
	"time"

	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"github.com/prometheus/client_golang/prometheus"
)

// maxSourceID bounds an envelope's source_id.
const maxSourceID = 256

// Sink stores envelopes.
type Sink interface {
	Put(env *loggregator_v2.Envelope) bool
}

// Metrics counts what arrives.
type Metrics struct {
	received *prometheus.CounterVec
	invalid  prometheus.Counter
}

// NewMetrics registers the ingress metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loggregator_ingress_envelopes_total",
			Help: "Envelopes received on the v2 ingress, by type.",
		}, []string{"type"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loggregator_ingress_invalid_envelopes_total",
			Help: "Envelopes dropped at ingress: no source_id or message, or source_id too long.",
		}),
	}
	for _, c := range []prometheus.Collector{m.received, m.invalid} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Server implements loggregator_v2.IngressServer.
type Server struct {
	loggregator_v2.UnimplementedIngressServer
	sink    Sink
	metrics *Metrics
	// per-type counters, resolved once
	byType map[string]prometheus.Counter
}

// New returns the service storing into sink.
func New(sink Sink, m *Metrics) *Server {
	s := &Server{sink: sink, metrics: m, byType: map[string]prometheus.Counter{}}
	for _, t := range []string{"log", "counter", "gauge", "timer", "event"} {
		s.byType[t] = m.received.WithLabelValues(t)
	}
	return s
}

// Sender receives one envelope per message until the client closes.
func (s *Server) Sender(stream loggregator_v2.Ingress_SenderServer) error {
	for {
		env, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&loggregator_v2.IngressResponse{})
		}
		if err != nil {
			return err
		}
		s.put(env, time.Now().UnixNano())
	}
}

// BatchSender receives batches until the client closes.
func (s *Server) BatchSender(stream loggregator_v2.Ingress_BatchSenderServer) error {
	for {
		batch, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&loggregator_v2.BatchSenderResponse{})
		}
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		for _, env := range batch.GetBatch() {
			s.put(env, now)
		}
	}
}

// Send receives one batch.
func (s *Server) Send(_ context.Context, batch *loggregator_v2.EnvelopeBatch) (*loggregator_v2.SendResponse, error) {
	now := time.Now().UnixNano()
	for _, env := range batch.GetBatch() {
		s.put(env, now)
	}
	return &loggregator_v2.SendResponse{}, nil
}

func (s *Server) put(env *loggregator_v2.Envelope, now int64) {
	typ := typeName(env)
	if env == nil || env.SourceId == "" || len(env.SourceId) > maxSourceID || typ == "" {
		s.metrics.invalid.Inc()
		return
	}
	if env.Timestamp == 0 {
		env.Timestamp = now
	}
	s.byType[typ].Inc()
	s.sink.Put(env)
}

func typeName(env *loggregator_v2.Envelope) string {
	switch env.GetMessage().(type) {
	case *loggregator_v2.Envelope_Log:
		return "log"
	case *loggregator_v2.Envelope_Counter:
		return "counter"
	case *loggregator_v2.Envelope_Gauge:
		return "gauge"
	case *loggregator_v2.Envelope_Timer:
		return "timer"
	case *loggregator_v2.Envelope_Event:
		return "event"
	}
	return ""
}
