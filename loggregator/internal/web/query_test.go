package web

import (
	"errors"
	"math"
	"net/url"
	"testing"

	"code.cloudfoundry.org/go-log-cache/v2/rpc/logcache_v1"
)

func TestParseRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw    string
		ok     bool
		start  int64
		end    int64
		limit  int
		desc   bool
		types  int
		filter bool
	}{
		{"", true, 0, math.MaxInt64, 100, false, 0, false},
		{"descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152", true, -6795364578871345152, math.MaxInt64, 1000, true, 1, false},
		{"start_time=5&end_time=10&limit=0", true, 5, 10, 100, false, 0, false},
		{"end_time=0", true, 0, math.MaxInt64, 100, false, 0, false},
		{"envelope_types=gauge&envelope_types=COUNTER&name_filter=cpu", true, 0, math.MaxInt64, 100, false, 2, true},
		{"descending=", true, 0, math.MaxInt64, 100, false, 0, false},
		{"unknown=1", true, 0, math.MaxInt64, 100, false, 0, false},
		{"limit=1001", false, 0, 0, 0, false, 0, false},
		{"limit=-5", false, 0, 0, 0, false, 0, false},
		{"start_time=1e9", false, 0, 0, 0, false, 0, false},
		{"start_time=10&end_time=10", false, 0, 0, 0, false, 0, false},
		{"end_time=-1", false, 0, 0, 0, false, 0, false},
		{"envelope_types=", false, 0, 0, 0, false, 0, false},
		{"name_filter=%5B", false, 0, 0, 0, false, 0, false},
		{"descending=yes", false, 0, 0, 0, false, 0, false},
	} {
		v, err := url.ParseQuery(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseRead(v)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.raw, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, errBadQuery) {
				t.Errorf("%q: %v does not wrap errBadQuery", tc.raw, err)
			}
			continue
		}
		if q.Start != tc.start || q.End != tc.end || q.Limit != tc.limit || q.Descending != tc.desc || len(q.Types) != tc.types || (q.NameFilter != nil) != tc.filter {
			t.Errorf("%q: %+v", tc.raw, q)
		}
	}
	q, _ := ParseRead(url.Values{"envelope_types": {"timer", "Event", "ANY"}})
	if q.Types[0] != logcache_v1.EnvelopeType_TIMER || q.Types[1] != logcache_v1.EnvelopeType_EVENT || q.Types[2] != logcache_v1.EnvelopeType_ANY {
		t.Errorf("types %v", q.Types)
	}
}
