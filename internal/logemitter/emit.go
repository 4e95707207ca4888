package logemitter

import (
	"time"

	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
)

// Log is one line of output.
type Log struct {
	// SourceID is the app guid (or component name for a component's own
	// logs); InstanceID the instance index ("0") or component instance.
	SourceID, InstanceID string
	Message              string
	// Stderr marks ERR output (OUT otherwise).
	Stderr bool
	// Tags should include source_type (see AppTags.Map); the map is kept.
	Tags map[string]string
	// Time defaults to now.
	Time time.Time
}

// Log queues a log envelope. It never blocks.
func (e *Emitter) Log(l Log) {
	if !e.enabled {
		return
	}
	typ := loggregator_v2.Log_OUT
	if l.Stderr {
		typ = loggregator_v2.Log_ERR
	}
	e.Emit(&loggregator_v2.Envelope{
		Timestamp: nanos(l.Time), SourceId: l.SourceID, InstanceId: l.InstanceID, Tags: l.Tags,
		Message: &loggregator_v2.Envelope_Log{Log: &loggregator_v2.Log{Payload: []byte(l.Message), Type: typ}},
	})
}

// Metric is one gauge value.
type Metric struct {
	Value float64
	Unit  string
}

// Gauge is a set of values measured at one time, such as a container's
// cpu, memory, disk, memory_quota, disk_quota, log_rate and
// log_rate_limit.
type Gauge struct {
	SourceID, InstanceID string
	Metrics              map[string]Metric
	Tags                 map[string]string
	Time                 time.Time
}

// Gauge queues a gauge envelope. It never blocks.
func (e *Emitter) Gauge(g Gauge) {
	if !e.enabled {
		return
	}
	m := make(map[string]*loggregator_v2.GaugeValue, len(g.Metrics))
	for k, v := range g.Metrics {
		m[k] = &loggregator_v2.GaugeValue{Value: v.Value, Unit: v.Unit}
	}
	e.Emit(&loggregator_v2.Envelope{
		Timestamp: nanos(g.Time), SourceId: g.SourceID, InstanceId: g.InstanceID, Tags: g.Tags,
		Message: &loggregator_v2.Envelope_Gauge{Gauge: &loggregator_v2.Gauge{Metrics: m}},
	})
}

// Counter is a monotonically growing count: Delta since the last emit,
// or Total.
type Counter struct {
	SourceID, InstanceID string
	Name                 string
	Delta, Total         uint64
	Tags                 map[string]string
	Time                 time.Time
}

// Counter queues a counter envelope. It never blocks.
func (e *Emitter) Counter(c Counter) {
	if !e.enabled {
		return
	}
	e.Emit(&loggregator_v2.Envelope{
		Timestamp: nanos(c.Time), SourceId: c.SourceID, InstanceId: c.InstanceID, Tags: c.Tags,
		Message: &loggregator_v2.Envelope_Counter{Counter: &loggregator_v2.Counter{Name: c.Name, Delta: c.Delta, Total: c.Total}},
	})
}

// Timer is a duration, such as gorouter's http request timer.
type Timer struct {
	SourceID, InstanceID string
	Name                 string
	Start, Stop          time.Time
	Tags                 map[string]string
}

// Timer queues a timer envelope (timestamped at Stop). It never blocks.
func (e *Emitter) Timer(t Timer) {
	if !e.enabled {
		return
	}
	e.Emit(&loggregator_v2.Envelope{
		Timestamp: nanos(t.Stop), SourceId: t.SourceID, InstanceId: t.InstanceID, Tags: t.Tags,
		Message: &loggregator_v2.Envelope_Timer{Timer: &loggregator_v2.Timer{Name: t.Name, Start: t.Start.UnixNano(), Stop: t.Stop.UnixNano()}},
	})
}

// Event is a titled notice, such as an app crash.
type Event struct {
	SourceID, InstanceID string
	Title, Body          string
	Tags                 map[string]string
	Time                 time.Time
}

// Event queues an event envelope. It never blocks.
func (e *Emitter) Event(ev Event) {
	if !e.enabled {
		return
	}
	e.Emit(&loggregator_v2.Envelope{
		Timestamp: nanos(ev.Time), SourceId: ev.SourceID, InstanceId: ev.InstanceID, Tags: ev.Tags,
		Message: &loggregator_v2.Envelope_Event{Event: &loggregator_v2.Event{Title: ev.Title, Body: ev.Body}},
	})
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().UnixNano()
	}
	return t.UnixNano()
}
