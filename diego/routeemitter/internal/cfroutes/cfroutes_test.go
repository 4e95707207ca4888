package cfroutes

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/api/router"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []string // hostname:port of the routes
		dropped int
		wantErr bool
	}{
		{"empty", ``, nil, 0, false},
		{"empty list", `[]`, nil, 0, false},
		{"one", `[{"hostnames":["a.example.com"],"port":8080}]`, []string{"a.example.com:8080"}, 0, false},
		{"paths and wildcard", `[{"hostnames":["a.example.com/api","*.example.com"],"port":8080}]`, []string{"a.example.com/api:8080", "*.example.com:8080"}, 0, false},
		{"two ports", `[{"hostnames":["a"],"port":8080},{"hostnames":["b"],"port":9090}]`, []string{"a:8080", "b:9090"}, 0, false},
		{"duplicate", `[{"hostnames":["a","a"],"port":8080},{"hostnames":["a"],"port":8080}]`, []string{"a:8080"}, 2, false},
		{"bad hostnames dropped", `[{"hostnames":["","a b","http://x","a.*.com","ok"],"port":8080}]`, []string{"ok:8080"}, 4, false},
		{"no port", `[{"hostnames":["a"]}]`, nil, 1, false},
		{"port too big", `[{"hostnames":["a"],"port":70000}]`, nil, 1, false},
		{"wrong type element", `[1,{"hostnames":["a"],"port":1}]`, []string{"a:1"}, 1, false},
		{"bad options", `[{"hostnames":["a"],"port":1,"options":{"loadbalancing":7}}]`, nil, 1, false},
		{"hash without header", `[{"hostnames":["a"],"port":1,"options":{"loadbalancing":"hash"}}]`, nil, 1, false},
		{"unknown protocol", `[{"hostnames":["a"],"port":1,"protocol":"gopher"}]`, nil, 1, false},
		{"null options", `[{"hostnames":["a"],"port":1,"options":null}]`, []string{"a:1"}, 0, false},
		{"not a list", `{"hostnames":["a"]}`, nil, 0, true},
		{"bad json", `[{`, nil, 0, true},
		{"too big", `[` + strings.Repeat(" ", MaxSize) + `]`, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Parse([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range res.Routes {
				got = append(got, r.Hostname+":"+strconv.FormatUint(uint64(r.Port), 10))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || res.Dropped != tt.dropped {
				t.Errorf("routes %v dropped %d, want %v dropped %d", got, res.Dropped, tt.want, tt.dropped)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	res, err := Parse([]byte(`[{"hostnames":["a.example.com"],"port":8080,"route_service_url":"https://rs.example.com",
		"isolation_segment":"seg","protocol":"http2","options":{"loadbalancing":"hash","hash_header":"X-User","hash_balance":"1.5"},"future":true}]`))
	if err != nil || len(res.Routes) != 1 {
		t.Fatalf("Parse = %+v, %v", res, err)
	}
	want := Route{Hostname: "a.example.com", Port: 8080, RouteServiceURL: "https://rs.example.com", IsolationSegment: "seg",
		Protocol: router.ProtocolHTTP2, Options: router.Options{LoadBalancing: router.LBHash, HashHeader: "X-User", HashBalance: 1.5}}
	if res.Routes[0] != want {
		t.Errorf("route = %+v, want %+v", res.Routes[0], want)
	}
}
