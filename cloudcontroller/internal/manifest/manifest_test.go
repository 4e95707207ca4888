package manifest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(`applications:
- name: myapp
  disk-quota: 512M
  health-check-type: none
  instances: 2
  path: /home/me/app1
  memory: 1G
  log-rate-limit-per-second: 1K
  default-route: true
  buildpacks:
  - binary_buildpack
  command: ./run.sh
  stack: cflinuxfs4
  timeout: 60
  env: {A: "1", B: 2, C: true}
  routes:
  - route: myapp.apps.test/api
  processes:
  - type: worker
    instances: 3
    command: null
  metadata:
    labels: {team: a, gone: null}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := m.Applications[0]
	if a.Name != "myapp" || *a.Web.Instances != 2 || *a.Web.MemoryMB != 1024 || *a.Web.DiskMB != 512 || *a.Web.LogRate != 1024 {
		t.Fatalf("web %+v", a.Web)
	}
	if *a.Web.HealthCheckType != "process" || *a.Web.HealthCheckTimeout != 60 || *a.Web.Command != "./run.sh" {
		t.Fatalf("web health %+v", a.Web)
	}
	if !reflect.DeepEqual(a.Buildpacks, []string{"binary_buildpack"}) || *a.Stack != "cflinuxfs4" || !a.DefaultRoute {
		t.Fatalf("app %+v", a)
	}
	if !reflect.DeepEqual(a.Env, map[string]string{"A": "1", "B": "2", "C": "true"}) {
		t.Fatalf("env %v", a.Env)
	}
	if len(a.Routes) != 1 || a.Routes[0].URL != "myapp.apps.test/api" {
		t.Fatalf("routes %+v", a.Routes)
	}
	if len(a.Processes) != 1 || a.Processes[0].Type != "worker" || !a.Processes[0].HasCommand || a.Processes[0].Command != nil {
		t.Fatalf("processes %+v", a.Processes)
	}
	if a.Metadata.Labels["gone"] != nil || *a.Metadata.Labels["team"] != "a" {
		t.Fatalf("metadata %+v", a.Metadata)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"no applications", "foo: 1", []string{"Cannot parse manifest with no 'applications' field."}},
		{"empty applications", "applications: []", []string{"Cannot parse manifest with no 'applications' field."}},
		{"version", "version: 2\napplications: [{name: a}]", []string{"Unsupported manifest schema version. Currently supported versions: [1]."}},
		{"negative instances", "applications: [{name: x, instances: -1}]", []string{`For application 'x': Process "web": Instances must be greater than or equal to 0`}},
		{"memory unit", "applications: [{name: x, memory: 256}]", []string{`For application 'x': Process "web": Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB`}},
		{"memory nan", "applications: [{name: x, memory: lots}]", []string{`For application 'x': Process "web": Memory is not a number`}},
		{"disk zero", "applications: [{name: x, disk_quota: 0M}]", []string{`For application 'x': Process "web": Disk quota must be greater than 0MB`}},
		{"health check", "applications: [{name: x, health-check-type: tcp}]", []string{`For application 'x': Process "web": Health check type must be "port", "process", or "http"`}},
		{"no name", "applications: [{memory: 1G}]", []string{"For application at index 0: Name must not be empty"}},
		{"both buildpacks", "applications: [{name: x, buildpack: a, buildpacks: [b]}]", []string{"For application 'x': Buildpack and Buildpacks fields cannot be used together."}},
		{"process type", "applications: [{name: x, processes: [{instances: 1}]}]", []string{"For application 'x': All Processes must specify a type"}},
		{"duplicate process", "applications: [{name: x, processes: [{type: w}, {type: w}]}]", []string{`For application 'x': Process "w" may only be present once`}},
		{"bad route", "applications: [{name: x, routes: [{route: 'not a url'}]}]", []string{"For application 'x': The route 'not a url' is not a properly formed URL"}},
		{"env vcap", "applications: [{name: x, env: {VCAP_X: 1}}]", []string{"For application 'x': Env cannot start with VCAP_"}},
		{"no-route type", "applications: [{name: x, no-route: yes please}]", []string{"For application 'x': No-route must be a boolean"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) || !reflect.DeepEqual([]string(errs), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"too large": "applications: [{name: x}]\n#" + strings.Repeat("x", MaxBytes),
		"too deep":  "applications: " + strings.Repeat("[", MaxDepth+5) + strings.Repeat("]", MaxDepth+5),
		"not yaml":  "applications: [",
		"alias bomb": `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
applications: [{name: x}]`,
	} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: got %v, want ErrSyntax", name, err)
		}
	}
}

func TestToBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"1B": 1, "1K": 1024, "2kb": 2048, "1M": 1 << 20, "1.5G": 3 << 29, "1T": 1 << 40} {
		if got, msg := ToBytes(in); got != want || msg != "" {
			t.Errorf("%s: %d %q", in, got, msg)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("applications:\n- name: a\n  memory: 256M\n  instances: 2\n"))
	f.Add([]byte("applications: [{name: x, routes: [{route: a.b.c/p}], processes: [{type: worker}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err == nil && (m == nil || len(m.Applications) == 0) {
			t.Fatalf("no error and no applications")
		}
		if err == nil {
			for _, a := range m.Applications {
				if a.Name == "" {
					t.Fatalf("application without a name")
				}
			}
		}
	})
}
