package cloudcontroller_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestPaginationFollowsNext(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	admin := c.admin()
	for i := 0; i < 7; i++ {
		c.createOrg(fmt.Sprintf("page-%d", i))
	}
	// The cf CLI follows next.href verbatim until it is null.
	next := "/v3/organizations?order_by=-name&per_page=3&label_selector=!nothing"
	var names []string
	pages := 0
	for next != "" {
		l := c.list(next, admin)
		pages++
		for _, r := range l.Resources {
			names = append(names, r.Name)
		}
		if l.Pagination.TotalResults != 8 || l.Pagination.TotalPages != 3 {
			t.Fatalf("pagination %+v", l.Pagination)
		}
		next = ""
		if l.Pagination.Next != nil {
			u, err := url.Parse(l.Pagination.Next.Href)
			if err != nil || !u.IsAbs() || u.Query().Get("order_by") != "-name" || u.Query().Get("label_selector") != "!nothing" {
				t.Fatalf("next href %q does not carry the query", l.Pagination.Next.Href)
			}
			next = l.Pagination.Next.Href
		}
	}
	want := "system,page-6,page-5,page-4,page-3,page-2,page-1,page-0"
	if pages != 3 || strings.Join(names, ",") != want {
		t.Fatalf("%d pages, names %v, want %s", pages, names, want)
	}
	// A page past the end is empty but knows the total.
	l := c.list("/v3/organizations?page=9&per_page=3", admin)
	if len(l.Resources) != 0 || l.Pagination.TotalResults != 8 || l.Pagination.Next != nil {
		t.Fatalf("page past the end: %+v", l)
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	admin := c.admin()
	a := c.createOrg("a,b") // a comma in a name
	c.createOrg("c")
	dev := c.createOrg("dev")
	c.must(http.StatusOK, http.MethodPatch, "/v3/organizations/"+dev, admin, map[string]any{"metadata": map[string]any{"labels": map[string]string{"env": "prod", "tier": "web"}}})
	c.must(http.StatusOK, http.MethodPatch, "/v3/organizations/"+a, admin, map[string]any{"metadata": map[string]any{"labels": map[string]string{"env": "staging"}}})

	tests := []struct {
		query string
		want  string
	}{
		{"names=c", "c"},
		{"names=a%252Cb", "a,b"},            // the CLI double-encodes a comma inside a name
		{"names=a%252Cb,c", "a,b;c"},        // and joins values with commas
		{"names=", ""},                      // empty value: equals ""
		{"label_selector=env=prod", "dev"},  // label selectors
		{"label_selector=env", "a,b;dev"},   // existence
		{"label_selector=!env", "c;system"}, // absence
		{"label_selector=env in (prod,staging),tier notin (db)", "a,b;dev"}, // notin matches a missing key
		{"label_selector=env!=prod", "a,b;c;system"},
		{"guids=" + a + "," + dev, "a,b;dev"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			q := url.Values{}
			for _, kv := range strings.SplitN(tt.query, "&", 2) {
				k, v, _ := strings.Cut(kv, "=")
				// Values here are written as the CLI encodes them once more.
				dv, err := url.QueryUnescape(v)
				if err != nil {
					t.Fatal(err)
				}
				q.Set(k, dv)
			}
			l := c.list("/v3/organizations?order_by=name&"+q.Encode(), admin)
			var names []string
			for _, r := range l.Resources {
				names = append(names, r.Name)
			}
			if got := strings.Join(names, ";"); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	c := startCC(t)
	admin := c.admin()
	org := c.createOrg("errs")
	tests := []struct {
		name          string
		method, path  string
		token         string
		body          any
		status, code  int
		title, detail string
	}{
		{"no token", "GET", "/v3/organizations", "", nil, 401, 10002, "CF-NotAuthenticated", "Authentication error"},
		{"bad token", "GET", "/v3/organizations", "not.a.jwt", nil, 401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token"},
		{"token without cloud_controller scopes", "GET", "/v3/organizations", c.user("x", "x", "openid"), nil, 403, 10003, "CF-NotAuthorized", ""},
		{"unknown query parameter", "GET", "/v3/organizations?colour=red", admin, nil, 400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: Unknown query parameter(s): 'colour'."},
		{"bad per_page", "GET", "/v3/spaces?per_page=0", admin, nil, 400, 10005, "CF-BadQueryParameter", ""},
		{"bad label selector", "GET", "/v3/organizations?label_selector=a%20b", admin, nil, 400, 10005, "CF-BadQueryParameter", ""},
		{"malformed JSON", "POST", "/v3/organizations", admin, `{"name":`, 400, 1001, "CF-MessageParseError", ""},
		{"unknown field", "POST", "/v3/organizations", admin, map[string]any{"name": "x", "colour": "red"}, 422, 10008, "CF-UnprocessableEntity", "Unknown field(s): 'colour'"},
		{"wrong type", "POST", "/v3/organizations", admin, map[string]any{"name": 5}, 422, 10008, "CF-UnprocessableEntity", "Name must be a string"},
		{"blank name", "POST", "/v3/organizations", admin, map[string]any{"name": " "}, 422, 10008, "CF-UnprocessableEntity", "Name can't be blank"},
		{"bad label", "PATCH", "/v3/organizations/" + org, admin, map[string]any{"metadata": map[string]any{"labels": map[string]string{"-bad": "x"}}}, 422, 10008, "CF-UnprocessableEntity", ""},
		{"missing org", "GET", "/v3/organizations/00000000-0000-0000-0000-000000000000", admin, nil, 404, 10010, "CF-ResourceNotFound", "Organization not found"},
		{"malformed guid", "GET", "/v3/spaces/not-a-guid", admin, nil, 404, 10010, "CF-ResourceNotFound", "Space not found"},
		{"space in a missing org", "POST", "/v3/spaces", admin, map[string]any{"name": "s", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": "00000000-0000-0000-0000-000000000000"}}}}, 422, 10008, "CF-UnprocessableEntity", ""},
		{"bad role type", "POST", "/v3/roles", admin, map[string]any{"type": "king", "relationships": map[string]any{}}, 422, 10008, "CF-UnprocessableEntity", ""},
		{"huge body", "POST", "/v3/organizations", admin, `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, 10004, "CF-InvalidRequest", ""},
		{"unknown path", "GET", "/v3/organisations", admin, nil, 404, 10000, "CF-NotFound", "Unknown request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := c.do(tt.method, tt.path, tt.token, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d %s, want %d", r.Status, r.Body, tt.status)
			}
			code, title, detail := r.cfErr(t)
			if code != tt.code || title != tt.title || !strings.HasPrefix(detail, tt.detail) || detail == "" {
				t.Fatalf("got %d %s %q, want %d %s %q", code, title, detail, tt.code, tt.title, tt.detail)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			if r.Header.Get("X-Vcap-Request-Id") == "" {
				t.Fatal("no X-Vcap-Request-Id")
			}
		})
	}
}
