package appenv

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

func env(kv ...string) []*bbsv1.EnvironmentVariable {
	var out []*bbsv1.EnvironmentVariable
	for i := 0; i < len(kv); i += 2 {
		out = append(out, &bbsv1.EnvironmentVariable{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func toMap(t *testing.T, vars []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, v := range vars {
		name, value, ok := strings.Cut(v, "=")
		if !ok {
			t.Fatalf("malformed %q", v)
		}
		if _, dup := m[name]; dup {
			t.Fatalf("%s appears twice", name)
		}
		m[name] = value
	}
	return m
}

var net1 = Net{HostIP: "10.0.0.5", IP: "10.255.0.7", Ports: []runtime.PortMapping{{ContainerPort: 8080, HostPort: 61001}, {ContainerPort: 9090, HostPort: 61002}}}

func webLRP() *bbsv1.DesiredLRP {
	return &bbsv1.DesiredLRP{
		ProcessGuid: "web-guid", LogGuid: "app-guid", MemoryMb: 256, DiskMb: 1024, Ports: []uint32{8080, 9090},
		Env: env("VCAP_SERVICES", `{"p-mysql":[]}`, "PORT", "1234", "CF_INSTANCE_GUID", "forged", "FOO", "lrp"),
		Action: &bbsv1.RunAction{Path: "/tmp/lifecycle/launcher", Env: env("FOO", "action", "BAR", "b"),
			ResourceLimits: &bbsv1.ResourceLimits{Nofile: 16384}},
		MetricTags: map[string]string{"app_id": "app-guid", "app_name": "dora", "space_id": "s1", "space_name": "dev",
			"organization_id": "o1", "organization_name": "acme", "process_type": "web"},
		Routes: map[string][]byte{"cf-router": []byte(`[{"hostnames":["dora.example.com","dora.apps.internal"],"port":8080},{"hostnames":["dora.example.com"],"port":8080}]`)},
	}
}

func TestLRPEnv(t *testing.T) {
	t.Parallel()
	got := toMap(t, LRP(webLRP(), 2, "inst-guid", net1))
	want := map[string]string{
		"LANG":                    "en_US.UTF-8",
		"MEMORY_LIMIT":            "256m",
		"PORT":                    "8080", // not the LRP's own: the rep decides
		"VCAP_APP_PORT":           "8080",
		"VCAP_APP_HOST":           "0.0.0.0",
		"VCAP_SERVICES":           `{"p-mysql":[]}`,
		"FOO":                     "action", // the RunAction's env wins over the LRP's
		"BAR":                     "b",
		"INSTANCE_GUID":           "inst-guid",
		"INSTANCE_INDEX":          "2",
		"CF_INSTANCE_GUID":        "inst-guid", // not overridable
		"CF_INSTANCE_INDEX":       "2",
		"CF_INSTANCE_IP":          "10.0.0.5",
		"CF_INSTANCE_INTERNAL_IP": "10.255.0.7",
		"CF_INSTANCE_PORT":        "61001",
		"CF_INSTANCE_ADDR":        "10.0.0.5:61001",
		"CF_INSTANCE_PORTS":       `[{"external":61001,"internal":8080},{"external":61002,"internal":9090}]`,
	}
	vcap := got["VCAP_APPLICATION"]
	delete(got, "VCAP_APPLICATION")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env:\n got %v\nwant %v", got, want)
	}

	var app map[string]any
	if err := json.Unmarshal([]byte(vcap), &app); err != nil {
		t.Fatalf("VCAP_APPLICATION %q: %v", vcap, err)
	}
	wantApp := map[string]any{
		"application_id": "app-guid", "application_name": "dora", "name": "dora",
		"application_uris": []any{"dora.apps.internal", "dora.example.com"}, "uris": []any{"dora.apps.internal", "dora.example.com"},
		"space_id": "s1", "space_name": "dev", "organization_id": "o1", "organization_name": "acme",
		"process_id": "web-guid", "process_type": "web",
		"limits": map[string]any{"mem": 256.0, "disk": 1024.0, "fds": 16384.0}, "users": nil,
		"host": "0.0.0.0", "instance_id": "inst-guid", "instance_index": 2.0, "port": 8080.0,
	}
	if !reflect.DeepEqual(app, wantApp) {
		t.Errorf("VCAP_APPLICATION:\n got %v\nwant %v", app, wantApp)
	}
}

func TestVCAPApplicationFromCloudController(t *testing.T) {
	t.Parallel()
	lrp := webLRP()
	lrp.Env = append(lrp.Env, env("VCAP_APPLICATION", `{"application_name":"from-cc","cf_api":"https://api.example.com","instance_index":99,"limits":{"mem":256}}`)...)
	got := toMap(t, LRP(lrp, 0, "g", net1))
	var app map[string]any
	if err := json.Unmarshal([]byte(got["VCAP_APPLICATION"]), &app); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"application_name": "from-cc", "cf_api": "https://api.example.com", "limits": map[string]any{"mem": 256.0},
		"host": "0.0.0.0", "instance_id": "g", "instance_index": 0.0, "port": 8080.0,
	}
	if !reflect.DeepEqual(app, want) {
		t.Errorf("VCAP_APPLICATION:\n got %v\nwant %v", app, want)
	}
}

func TestHostNetworkingPort(t *testing.T) {
	t.Parallel()
	// In host networking the runtime maps 8080 to 61001:61001: the app
	// must listen on 61001.
	got := toMap(t, LRP(&bbsv1.DesiredLRP{Ports: []uint32{8080}}, 0, "g", Net{HostIP: "10.0.0.5", IP: "10.0.0.5", Ports: []runtime.PortMapping{{ContainerPort: 61001, HostPort: 61001}}}))
	if got["PORT"] != "61001" || got["VCAP_APP_PORT"] != "61001" || !strings.Contains(got["VCAP_APPLICATION"], `"port":61001`) {
		t.Errorf("PORT %s, VCAP_APP_PORT %s, VCAP_APPLICATION %s", got["PORT"], got["VCAP_APP_PORT"], got["VCAP_APPLICATION"])
	}
}

func TestNoPorts(t *testing.T) {
	t.Parallel()
	lrp := &bbsv1.DesiredLRP{ProcessGuid: "worker", Action: &bbsv1.RunAction{}}
	got := toMap(t, LRP(lrp, 0, "g", Net{HostIP: "10.0.0.5", IP: "10.0.0.5"}))
	for name, want := range map[string]string{"CF_INSTANCE_PORT": "", "CF_INSTANCE_ADDR": "", "CF_INSTANCE_PORTS": "[]"} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	if _, ok := got["PORT"]; ok {
		t.Error("PORT set without ports")
	}
}

func TestTaskEnv(t *testing.T) {
	t.Parallel()
	def := &bbsv1.TaskDefinition{MemoryMb: 128, Env: env("A", "1", "BAD=NAME", "x", "NUL", "a\x00b", "", "empty"),
		Action: &bbsv1.RunAction{Env: env("A", "2")}}
	got := names(Task(def, Net{HostIP: "10.0.0.5", IP: "10.255.0.9"}))
	want := []string{"LANG", "MEMORY_LIMIT", "A", "CF_INSTANCE_IP", "CF_INSTANCE_INTERNAL_IP", "CF_INSTANCE_PORT", "CF_INSTANCE_ADDR", "CF_INSTANCE_PORTS"}
	if !slices.Equal(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
	if m := toMap(t, Task(def, Net{})); m["A"] != "2" {
		t.Errorf("A = %q, want the action's", m["A"])
	}
}

// names returns the names of vars in order.
func names(vars []string) []string {
	var out []string
	for _, v := range vars {
		name, _, _ := strings.Cut(v, "=")
		out = append(out, name)
	}
	return out
}

func TestURIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{`[{"hostnames":["b.example.com","a.example.com"]}]`, []string{"a.example.com", "b.example.com"}},
		{`not json`, []string{}},
		{``, []string{}},
		{`{"hostnames":["x"]}`, []string{}},
		{`[{"hostnames":[""]}]`, []string{}},
	}
	for _, tt := range tests {
		if got := URIs([]byte(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("URIs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
