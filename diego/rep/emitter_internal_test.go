package rep

import (
	"testing"

	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
)

func TestEmitterLogSinkTags(t *testing.T) {
	t.Parallel()
	s := newEmitterLogSink(nil)
	shared := map[string]string{"app_id": "a1", "process_type": "web"}
	web := s.tagsFor(logstream.Line{AppID: "a1", SourceType: "APP/PROC/WEB", Tags: shared})
	stg := s.tagsFor(logstream.Line{AppID: "a1", SourceType: "STG", Tags: shared})
	if web["source_type"] != "APP/PROC/WEB" || web["app_id"] != "a1" || stg["source_type"] != "STG" {
		t.Errorf("tags web=%v stg=%v", web, stg)
	}
	if _, ok := shared["source_type"]; ok {
		t.Error("the instance's shared tags were written")
	}
	again := s.tagsFor(logstream.Line{AppID: "a1", SourceType: "APP/PROC/WEB", Tags: shared})
	if again["source_type"] != "APP/PROC/WEB" {
		t.Errorf("second lookup = %v", again)
	}
}
