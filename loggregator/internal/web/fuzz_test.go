package web

import (
	"net/url"
	"testing"
)

// FuzzParseRead: any query string either fails with errBadQuery or gives a
// query within log-cache's bounds.
func FuzzParseRead(f *testing.F) {
	for _, s := range []string{
		"",
		"descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152",
		"start_time=1&end_time=2&envelope_types=GAUGE&envelope_types=COUNTER&name_filter=%5Ecpu%24",
		"limit=1001",
		"name_filter=(a*)*b",
		"envelope_types=any&descending=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseRead(v)
		if err != nil {
			return
		}
		if q.Limit < 1 || q.Limit > MaxLimit {
			t.Fatalf("limit %d", q.Limit)
		}
		if q.End <= q.Start {
			t.Fatalf("range [%d,%d)", q.Start, q.End)
		}
		if len(q.Types) > maxTypes {
			t.Fatalf("%d types", len(q.Types))
		}
		if q.NameFilter != nil && len(q.NameFilter.String()) > MaxNameFilter {
			t.Fatalf("name_filter of %d bytes", len(q.NameFilter.String()))
		}
	})
}
