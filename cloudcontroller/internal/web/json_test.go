package web

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
)

// TestWriteListMatchesEncodingJSON: the streamed list is the same JSON as
// encoding the whole value.
func TestWriteListMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	next := &query.Link{Href: "https://api/v3/x?page=2&per_page=1"}
	tests := []list{
		{Pagination: query.Pagination{TotalResults: 0, TotalPages: 1}, Resources: []orgJSON{}},
		{Pagination: query.Pagination{TotalResults: 2, TotalPages: 2, Next: next}, Resources: []GUIDRef{{GUID: "a<b>&c"}}},
		{Resources: []any{map[string]int{"x": 1}, "s"}, Included: map[string]any{"users": []userJSON{}}},
	}
	for i, l := range tests {
		rec := httptest.NewRecorder()
		if err := writeJSON(rec, 200, l); err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("case %d: streamed list is not JSON: %v\n%s", i, err, rec.Body.String())
		}
		b, _ := json.Marshal(l)
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d:\ngot  %v\nwant %v", i, got, want)
		}
	}
}
