package rep

import (
	"context"
	"maps"
	"strconv"
	"sync"

	"github.com/anvilpaas/anvil/diego/rep/internal/executor"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/internal/logemitter"
)

// emitterLogSink sends app output to loggregator as log envelopes, with
// the instance's metric tags and the line's source_type ("APP/PROC/WEB",
// "STG", "CELL").
type emitterLogSink struct {
	em *logemitter.Emitter

	mu   sync.Mutex
	tags map[tagKey]map[string]string // merged tags, reused per instance and source type
}

type tagKey struct {
	appID, sourceType string
	index             int32
}

// maxTagSets bounds the cache of merged tag maps; it is cleared when full.
const maxTagSets = 10_000

func newEmitterLogSink(em *logemitter.Emitter) *emitterLogSink {
	return &emitterLogSink{em: em, tags: make(map[tagKey]map[string]string)}
}

func (s *emitterLogSink) EmitLog(_ context.Context, l logstream.Line) {
	s.em.Log(logemitter.Log{
		SourceID:   l.AppID,
		InstanceID: strconv.Itoa(int(l.InstanceIndex)),
		Message:    l.Message,
		Stderr:     l.Stream == logstream.Stderr,
		Tags:       s.tagsFor(l),
		Time:       l.Timestamp,
	})
}

// tagsFor returns l's tags with its source_type, built once per instance
// and source type: an instance's tags do not change while it runs.
func (s *emitterLogSink) tagsFor(l logstream.Line) map[string]string {
	k := tagKey{appID: l.AppID, sourceType: l.SourceType, index: l.InstanceIndex}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.tags[k]; ok && len(m) == len(l.Tags)+1 {
		return m
	}
	if len(s.tags) >= maxTagSets {
		clear(s.tags)
	}
	m := make(map[string]string, len(l.Tags)+1)
	maps.Copy(m, l.Tags)
	m[logemitter.TagSourceType] = l.SourceType
	s.tags[k] = m
	return m
}

// emitterMetricSink sends container metrics as gauges, with the names
// Cloud Foundry uses (cpu in percent of a core, memory and disk in bytes,
// and their quotas).
type emitterMetricSink struct{ em *logemitter.Emitter }

func (s emitterMetricSink) EmitMetrics(_ context.Context, m executor.ContainerMetrics) {
	s.em.Gauge(logemitter.Gauge{
		SourceID:   m.AppID,
		InstanceID: strconv.Itoa(int(m.InstanceIndex)),
		Metrics: map[string]logemitter.Metric{
			"cpu":          {Value: m.CPUPercentage, Unit: "percentage"},
			"memory":       {Value: float64(m.MemoryBytes), Unit: "bytes"},
			"memory_quota": {Value: float64(m.MemoryLimitBytes), Unit: "bytes"},
			"disk":         {Value: float64(m.DiskBytes), Unit: "bytes"},
			"disk_quota":   {Value: float64(m.DiskLimitBytes), Unit: "bytes"},
		},
		Tags: m.Tags,
		Time: m.Timestamp,
	})
}
