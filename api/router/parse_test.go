package router_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/api/router"
)

func TestParseRegistryMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty means success
	}{
		{"minimal", `{"host":"10.0.0.1","port":61001,"uris":["app.example.com"]}`, ""},
		{"full", `{"host":"10.0.0.1","port":61001,"tls_port":61443,"uris":["app.example.com","app.example.com/api","*.apps.example.com"],
			"app":"guid","private_instance_id":"iid","private_instance_index":"2","server_cert_domain_san":"iid",
			"route_service_url":"https://rs.example.com","tags":{"component":"x"},"isolation_segment":"seg","protocol":"http2",
			"endpoint_updated_at_ns":1700000000000000000,"options":{"loadbalancing":"hash","hash_header":"X-User","hash_balance":"1.25"}}`, ""},
		{"tls only", `{"host":"h","port":0,"tls_port":443,"uris":["a"]}`, ""},
		{"numeric hash_balance", `{"host":"h","port":1,"uris":["a"],"options":{"loadbalancing":"hash","hash_header":"X","hash_balance":2}}`, ""},
		{"unknown field ignored", `{"host":"h","port":1,"uris":["a"],"new_field":true}`, ""},
		{"version 1", `{"version":1,"host":"h","port":1,"uris":["a"]}`, ""},
		{"bad json", `{"host":`, "unexpected end"},
		{"wrong type", `{"host":"h","port":"80","uris":["a"]}`, "cannot unmarshal"},
		{"missing host", `{"port":1,"uris":["a"]}`, "missing host"},
		{"host with space", `{"host":"a b","port":1,"uris":["a"]}`, "spaces or control"},
		{"port too big", `{"host":"h","port":65536,"uris":["a"]}`, "port 65536 out of range"},
		{"negative port", `{"host":"h","port":-1,"uris":["a"]}`, "out of range"},
		{"tls port too big", `{"host":"h","port":1,"tls_port":70000,"uris":["a"]}`, "tls_port 70000"},
		{"port 0 no tls", `{"host":"h","port":0,"uris":["a"]}`, "port 0 without tls_port"},
		{"no uris", `{"host":"h","port":1}`, "no uris"},
		{"empty uris", `{"host":"h","port":1,"uris":[]}`, "no uris"},
		{"empty uri", `{"host":"h","port":1,"uris":["a",""]}`, "uris[1]: empty uri"},
		{"uri with space", `{"host":"h","port":1,"uris":["a b"]}`, "spaces or control"},
		{"uri with control", `{"host":"h","port":1,"uris":["a\u0001"]}`, "spaces or control"},
		{"uri with DEL", `{"host":"h","port":1,"uris":["a\u007f"]}`, "spaces or control"},
		{"uri too long", `{"host":"h","port":1,"uris":["` + strings.Repeat("a", router.MaxURILen+1) + `"]}`, "longer than"},
		{"uri path only", `{"host":"h","port":1,"uris":["/path"]}`, "no host"},
		{"uri scheme", `{"host":"h","port":1,"uris":["http://a"]}`, "scheme"},
		{"uri inner wildcard", `{"host":"h","port":1,"uris":["a.*.com"]}`, "wildcard"},
		{"uri bare wildcard", `{"host":"h","port":1,"uris":["*foo.com"]}`, "wildcard"},
		{"bad lb", `{"host":"h","port":1,"uris":["a"],"options":{"loadbalancing":"random"}}`, `"random" is not`},
		{"hash no header", `{"host":"h","port":1,"uris":["a"],"options":{"loadbalancing":"hash"}}`, "needs options.hash_header"},
		{"negative balance", `{"host":"h","port":1,"uris":["a"],"options":{"loadbalancing":"hash","hash_header":"X","hash_balance":-1}}`, "non-negative"},
		{"bad balance string", `{"host":"h","port":1,"uris":["a"],"options":{"hash_balance":"x"}}`, "hash_balance"},
		{"bad protocol", `{"host":"h","port":1,"uris":["a"],"protocol":"gopher"}`, "unknown protocol"},
		{"future version", `{"version":2,"host":"h","port":1,"uris":["a"]}`, "unsupported version"},
		{"too big", `{"host":"h","port":1,"uris":["a"],"app":"` + strings.Repeat("x", router.MaxMessageSize) + `"}`, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := router.ParseRegistryMessage([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseRegistryMessage: %v", err)
				}
				if _, err := m.Marshal(); err != nil {
					t.Fatalf("Marshal of parsed message: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRegistryMessage accepted %s", tt.in)
			}
			if !errors.Is(err, router.ErrInvalidMessage) {
				t.Errorf("error %v does not wrap ErrInvalidMessage", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseRegistryMessageFields(t *testing.T) {
	t.Parallel()
	m, err := router.ParseRegistryMessage([]byte(`{"host":"10.0.0.1","port":8080,"tls_port":8443,"uris":["a.example.com/x"],
		"app":"app-guid","private_instance_id":"iid","private_instance_index":"3","tags":{"k":"v"},
		"options":{"loadbalancing":"least-connection"},"endpoint_updated_at_ns":42}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Host != "10.0.0.1" || m.Port != 8080 || m.TLSPort != 8443 || m.App != "app-guid" ||
		m.PrivateInstanceID != "iid" || m.PrivateInstanceIndex != "3" || m.Tags["k"] != "v" ||
		m.Options.LoadBalancing != router.LBLeastConnection || m.EndpointUpdatedAtNs != 42 || m.URIs[0] != "a.example.com/x" {
		t.Fatalf("fields not decoded: %+v", m)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	in := router.RegistryMessage{
		Host: "10.0.0.1", Port: 8080, URIs: []string{"a.example.com"},
		Tags:    map[string]string{"k": "v"},
		Options: router.Options{LoadBalancing: router.LBHash, HashHeader: "X-User", HashBalance: 1.5},
	}
	data, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"hash_balance":1.5`) || strings.Contains(string(data), "version") {
		t.Errorf("unexpected encoding %s", data)
	}
	out, err := router.ParseRegistryMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	if out.Options != in.Options || out.Host != in.Host || out.Tags["k"] != "v" {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
	if _, err := (router.RegistryMessage{Host: "h"}).Marshal(); !errors.Is(err, router.ErrInvalidMessage) {
		t.Fatalf("Marshal of invalid message: err = %v", err)
	}
}

func TestStartMessage(t *testing.T) {
	t.Parallel()
	in := router.StartMessage{ID: "r1", Hosts: []string{"10.0.0.9"}, MinimumRegisterIntervalInSeconds: 20, PruneThresholdInSeconds: 120}
	data, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"r1","hosts":["10.0.0.9"],"minimumRegisterIntervalInSeconds":20,"pruneThresholdInSeconds":120}`
	if string(data) != want {
		t.Fatalf("Marshal = %s, want %s", data, want)
	}
	out, err := router.ParseStartMessage(data)
	if err != nil || out.ID != "r1" || out.PruneThresholdInSeconds != 120 {
		t.Fatalf("ParseStartMessage = %+v, %v", out, err)
	}
	if _, err := router.ParseStartMessage([]byte(`{"minimumRegisterIntervalInSeconds":-1}`)); err == nil {
		t.Fatal("negative interval accepted")
	}
}
