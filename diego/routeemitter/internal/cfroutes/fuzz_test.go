package cfroutes

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, fails only with ErrInvalid,
// and returns only routes a router accepts, without duplicates.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`[{"hostnames":["a.example.com","a.example.com/api"],"port":8080}]`))
	f.Add([]byte(`[{"hostnames":["*.example.com"],"port":8080,"route_service_url":"https://rs","isolation_segment":"s","protocol":"http2","options":{"loadbalancing":"hash","hash_header":"X","hash_balance":"2"}}]`))
	f.Add([]byte(`[{"hostnames":null},1,"x",{"port":-1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		type pair struct {
			h string
			p uint32
		}
		seen := map[pair]bool{}
		for _, r := range res.Routes {
			if err := r.Validate(); err != nil {
				t.Fatalf("returned unusable route %+v: %v", r, err)
			}
			if r.Port == 0 || r.Port > 65535 {
				t.Fatalf("port %d", r.Port)
			}
			if seen[pair{r.Hostname, r.Port}] {
				t.Fatalf("duplicate %+v", r)
			}
			seen[pair{r.Hostname, r.Port}] = true
		}
		if res.Dropped < 0 {
			t.Fatal("negative drop count")
		}
	})
}
