package executor

import (
	"reflect"
	"strings"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

func TestLabelsRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []identity{
		{kind: kindLRP, guid: "i1", key: &bbsv1.ActualLRPKey{ProcessGuid: "web", Index: 3, Domain: "cf-apps"}, memoryMB: 256, diskMB: 1024,
			run: runInfo{LogGUID: "app", LogSource: "APP/PROC/WEB", LogRateLimit: -1, MetricTags: map[string]string{"a": "b"},
				Check:     &checkInfo{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP, PortIndex: 1, Endpoint: "/h", TimeoutMs: 500},
				Readiness: &checkInfo{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT, IntervalMs: 100}, StartTimeoutMs: 60000}},
		{kind: kindTask, guid: "t1", memoryMB: 0, diskMB: 0, run: runInfo{LogSource: "LOG"}},
	}
	for _, id := range tests {
		got, err := decodeLabels(encodeLabels(id))
		if err != nil {
			t.Fatalf("decode %v: %v", id.guid, err)
		}
		if !reflect.DeepEqual(got, id) {
			t.Errorf("round trip\n got %+v\nwant %+v", got, id)
		}
	}
}

func TestLabelsDropTagsWhenTooLong(t *testing.T) {
	t.Parallel()
	id := identity{kind: kindTask, guid: "t", run: runInfo{LogSource: "LOG", MetricTags: map[string]string{"huge": strings.Repeat("x", 5000)}}}
	l := encodeLabels(id)
	if len(l[labelRun]) > maxRunLabel {
		t.Errorf("run label of %d bytes", len(l[labelRun]))
	}
	got, err := decodeLabels(l)
	if err != nil || got.run.MetricTags != nil || got.run.LogSource != "LOG" {
		t.Errorf("decoded %+v, %v", got, err)
	}
}

func TestDecodeLabelsErrors(t *testing.T) {
	t.Parallel()
	valid := encodeLabels(identity{kind: kindLRP, guid: "g", key: &bbsv1.ActualLRPKey{ProcessGuid: "p"}})
	tests := []struct {
		name   string
		change func(map[string]string)
		want   string
	}{
		{"not ours", func(l map[string]string) { delete(l, labelKind) }, "not a container of the rep's"},
		{"kind", func(l map[string]string) { l[labelKind] = "vm" }, "unknown kind"},
		{"guid", func(l map[string]string) { delete(l, labelGUID) }, "no guid"},
		{"memory", func(l map[string]string) { l[labelMemoryMB] = "-1" }, "not a count"},
		{"index", func(l map[string]string) { l[labelIndex] = "x" }, "not a count"},
		{"process guid", func(l map[string]string) { l[labelProcessGUID] = "" }, "no process guid"},
		{"run", func(l map[string]string) { l[labelRun] = "{" }, "run label"},
		{"port index", func(l map[string]string) { l[labelRun] = `{"check":{"port_index":-2}}` }, "port index"},
	}
	for _, tt := range tests {
		l := map[string]string{}
		for k, v := range valid {
			l[k] = v
		}
		tt.change(l)
		if _, err := decodeLabels(l); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// FuzzDecodeLabels feeds arbitrary label values, as a runtime (or
// someone with access to it) may hand back, to the decoder a restarted
// rep relies on. It must not panic, and what it accepts must encode back
// to labels that decode the same.
func FuzzDecodeLabels(f *testing.F) {
	f.Add("lrp", "g", "p", "0", "256", "1024", `{"log_guid":"a","log_source":"APP/PROC/WEB","log_rate_limit":-1,"check":{"type":1,"port_index":0}}`)
	f.Add("task", "t", "", "", "0", "0", `{}`)
	f.Add("lrp", "g", "p", "-1", "1", "1", ``)
	f.Add("lrp", "g", "p", "99999999999", "1", "1", `null`)
	f.Add("task", "t", "", "", "1", "1", `{"check":{"port_index":-1}}`)
	f.Fuzz(func(t *testing.T, k, guid, pg, index, mem, disk, run string) {
		l := map[string]string{labelKind: k, labelGUID: guid, labelProcessGUID: pg, labelIndex: index,
			labelMemoryMB: mem, labelDiskMB: disk, labelRun: run, labelDomain: "d"}
		id, err := decodeLabels(l)
		if err != nil {
			return
		}
		if id.guid == "" || id.memoryMB < 0 || id.diskMB < 0 || (id.kind == kindLRP && (id.key == nil || id.key.GetIndex() < 0)) {
			t.Fatalf("accepted an invalid identity %+v", id)
		}
		again, err := decodeLabels(encodeLabels(id))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.guid != id.guid || again.kind != id.kind || again.memoryMB != id.memoryMB {
			t.Fatalf("round trip changed %+v to %+v", id, again)
		}
	})
}
