package query

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
)

var orgSpec = Spec{Filters: []string{"names", "guids"}, OrderBy: []string{"name"}, LabelSelector: true, Timestamps: true, Includes: []string{"user"}, Extra: []string{"fields"}}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		check   func(t *testing.T, l List)
		wantErr string
	}{
		{name: "defaults", raw: "", check: func(t *testing.T, l List) {
			if l.Page != 1 || l.PerPage != 50 || l.OrderBy != "created_at" || l.Desc {
				t.Fatalf("%+v", l)
			}
		}},
		{name: "lookup by name as the CLI sends it", raw: "names=my-org&per_page=1&page=1", check: func(t *testing.T, l List) {
			if !reflect.DeepEqual(l.Filters["names"], []string{"my-org"}) || l.PerPage != 1 {
				t.Fatalf("%+v", l)
			}
		}},
		{name: "comma separated", raw: "names=a%2Cb", check: func(t *testing.T, l List) {
			if !reflect.DeepEqual(l.Filters["names"], []string{"a", "b"}) {
				t.Fatalf("%v", l.Filters)
			}
		}},
		{name: "double-encoded comma is literal", raw: "names=a%252Cb,c", check: func(t *testing.T, l List) {
			if !reflect.DeepEqual(l.Filters["names"], []string{"a,b", "c"}) {
				t.Fatalf("%v", l.Filters)
			}
		}},
		{name: "empty value means equals empty", raw: "names=", check: func(t *testing.T, l List) {
			if !reflect.DeepEqual(l.Filters["names"], []string{""}) {
				t.Fatalf("%v", l.Filters)
			}
		}},
		{name: "order descending", raw: "order_by=-name", check: func(t *testing.T, l List) {
			if l.OrderBy != "name" || !l.Desc {
				t.Fatalf("%+v", l)
			}
		}},
		{name: "timestamps", raw: "created_ats[lt]=2026-01-01T00:00:00Z&updated_ats=2026-01-01T00:00:00Z,2026-02-01T00:00:00Z", check: func(t *testing.T, l List) {
			if len(l.Times) != 2 {
				t.Fatalf("%+v", l.Times)
			}
		}},
		{name: "fields bracket extra", raw: "fields[space.organization]=name"},
		{name: "include", raw: "include=user", check: func(t *testing.T, l List) {
			if !l.Includes("user") {
				t.Fatal("include lost")
			}
		}},
		{name: "unknown parameter", raw: "foo=1&bar=2", wantErr: "Unknown query parameter(s): 'bar', 'foo'. Valid parameters are: 'page'"},
		{name: "page zero", raw: "page=0", wantErr: "Page must be greater than 0"},
		{name: "per_page too big", raw: "per_page=5001", wantErr: "Per page must be between 1 and 5000"},
		{name: "bad order", raw: "order_by=color", wantErr: "Order by can only be: 'created_at', 'updated_at', 'name'"},
		{name: "bad include", raw: "include=space", wantErr: "Invalid included resource: 'space'"},
		{name: "bad operator", raw: "created_ats[ne]=2026-01-01T00:00:00Z", wantErr: "Invalid relational operator"},
		{name: "bad timestamp", raw: "created_ats=yesterday", wantErr: "invalid timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			l, err := Parse(q, orgSpec)
			if tt.wantErr != "" {
				e, ok := apierr.As(err)
				if !ok || e.Status != 400 || e.Title != "CF-BadQueryParameter" || !strings.Contains(e.Detail, tt.wantErr) {
					t.Fatalf("err = %v, want a 400 containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, l)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	q, _ := url.ParseQuery("names=a,b&order_by=name&per_page=2&page=2")
	l, err := Parse(q, orgSpec)
	if err != nil {
		t.Fatal(err)
	}
	p := l.Pagination("https://api.example.com/v3/organizations", 5)
	if p.TotalPages != 3 || p.TotalResults != 5 || p.Next == nil || p.Previous == nil {
		t.Fatalf("%+v", p)
	}
	next, err := url.Parse(p.Next.Href)
	if err != nil || !next.IsAbs() {
		t.Fatalf("next %q is not absolute", p.Next.Href)
	}
	nq := next.Query()
	if nq.Get("page") != "3" || nq.Get("per_page") != "2" || nq.Get("names") != "a,b" || nq.Get("order_by") != "name" {
		t.Fatalf("next href %q does not carry the filters", p.Next.Href)
	}
	last, _ := Parse(mustQuery("page=3&per_page=2"), orgSpec)
	if last.Pagination("https://x/v3/organizations", 5).Next != nil {
		t.Fatal("last page has a next link")
	}
	empty, _ := Parse(url.Values{}, orgSpec)
	if p := empty.Pagination("https://x/v3/organizations", 0); p.TotalPages != 1 || p.Next != nil || p.Previous != nil {
		t.Fatalf("empty list pagination %+v", p)
	}
}

func mustQuery(s string) url.Values {
	q, err := url.ParseQuery(s)
	if err != nil {
		panic(err)
	}
	return q
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"names=a%252Cb,c&order_by=-name&page=2&per_page=5000",
		"created_ats[gte]=2026-01-01T00:00:00Z&label_selector=env%3Dprod,!legacy",
		"include=user&fields[space]=name,guid", "page=-1", "per_page=abc", "order_by=-", "created_ats[=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		l, err := Parse(q, orgSpec)
		if err != nil {
			if e, ok := apierr.As(err); !ok || e.Status != 400 {
				t.Fatalf("error %v is not a CF 400", err)
			}
			return
		}
		if l.Page < 1 || l.PerPage < 1 || l.PerPage > MaxPerPage {
			t.Fatalf("out of bounds: %+v", l)
		}
		p := l.Pagination("https://x/v3/organizations", 12345)
		if p.Next != nil {
			if u, err := url.Parse(p.Next.Href); err != nil || !u.IsAbs() {
				t.Fatalf("bad next href %q", p.Next.Href)
			}
		}
	})
}
