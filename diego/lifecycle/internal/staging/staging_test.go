package staging

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		web     string
		vars    int
		invalid bool
	}{
		{name: "empty", in: ""},
		{name: "web", in: "---\ndefault_process_types:\n  web: ./run\n", web: "./run"},
		{name: "config vars", in: "config_vars:\n  PATH: /app/bin:/usr/bin\n  FOO: bar\ndefault_process_types: {}\n", vars: 2},
		{name: "addons ignored", in: "addons: []\ndefault_process_types:\n  web: x\n", web: "x"},
		{name: "not yaml", in: "{{{", invalid: true},
		{name: "list", in: "- a", invalid: true},
		{name: "bad var", in: "config_vars:\n  'A B': x\n", invalid: true},
		{name: "nested type", in: "default_process_types:\n  web: [a]\n", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRelease([]byte(tc.in))
			if tc.invalid {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseRelease(%q) error = %v, want ErrInvalid", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRelease(%q): %v", tc.in, err)
			}
			if r.DefaultProcessTypes["web"] != tc.web || len(r.ConfigVars) != tc.vars {
				t.Fatalf("ParseRelease(%q) = %+v", tc.in, r)
			}
		})
	}
}

func TestStagingInfoRoundTrip(t *testing.T) {
	t.Parallel()
	in := StagingInfo{DetectedBuildpack: "staticfile", StartCommand: `./x "a: b"`, Config: &BuildpackConfig{EntrypointPrefix: "bash -ex -c"}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseStagingInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	if out.StartCommand != in.StartCommand || out.DetectedBuildpack != in.DetectedBuildpack || out.EntrypointPrefix() != "bash -ex -c" {
		t.Fatalf("round trip: got %+v", out)
	}
	if (StagingInfo{}).EntrypointPrefix() != "bash -c" {
		t.Fatal("default entrypoint prefix is not bash -c")
	}
}

func TestParseLaunch(t *testing.T) {
	t.Parallel()
	procs, err := ParseLaunch([]byte("processes:\n- type: web\n  command: ./a\n- type: worker\n  command: ./b\n"))
	if err != nil || len(procs) != 2 || procs[1].Command != "./b" {
		t.Fatalf("ParseLaunch = %v, %v", procs, err)
	}
	if _, err := ParseLaunch([]byte("processes:\n- command: ./a\n")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("untyped process: err = %v", err)
	}
}

func FuzzParseRelease(f *testing.F) {
	f.Add([]byte("---\ndefault_process_types:\n  web: ./run\nconfig_vars:\n  A: b\n"))
	f.Add([]byte("--- {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRelease(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for k := range r.ConfigVars {
			if !envName.MatchString(k) {
				t.Fatalf("accepted config var %q", k)
			}
		}
	})
}

func FuzzParseStagingInfo(f *testing.F) {
	f.Add([]byte(`{"detected_buildpack":"go","start_command":"./app"}`))
	f.Add([]byte("detected_buildpack: x\nstart_command: y\nconfig:\n  entrypoint_prefix: z\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStagingInfo(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// What the builder writes back must parse to the same thing.
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ParseStagingInfo(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if s2.StartCommand != s.StartCommand || s2.DetectedBuildpack != s.DetectedBuildpack || s2.EntrypointPrefix() != s.EntrypointPrefix() {
			t.Fatalf("round trip changed %+v to %+v", s, s2)
		}
	})
}
