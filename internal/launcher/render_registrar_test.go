package launcher

import (
	"reflect"
	"testing"
)

// TestRouteRegistrar checks that system daemons register their hosts with
// the gorouter only in the production shape.
func TestRouteRegistrar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		domain string
		port   int
		want   map[string]any
	}{
		{"dev shape", "", 9022, nil},
		{"daemon not built", "sys.example.com", 0, nil},
		{"production shape", "sys.example.com", 9022, map[string]any{
			"nats": map[string]any{"url": "nats://127.0.0.1:4222"},
			"host": "127.0.0.1", "port": 9022,
			"uris": []string{"uaa.sys.example.com", "login.sys.example.com"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := &Env{opts: Options{SystemDomain: tt.domain}, natsURL: "nats://127.0.0.1:4222"}
			got := routeRegistrar(env, tt.port, "uaa", "login")
			if tt.want == nil {
				if got != nil {
					t.Errorf("got %v, want none", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
