package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type sample struct {
	Name  string `yaml:"name"`
	Port  int    `yaml:"port"`
	Inner struct {
		URL string `yaml:"url"`
	} `yaml:"inner"`
}

func (s *sample) Defaults() {
	if s.Port == 0 {
		s.Port = 8080
	}
}

func (s *sample) Validate() error {
	var p Problems
	p.Require("name", s.Name)
	p.Require("inner.url", s.Inner.URL)
	if s.Port < 0 || s.Port > 65535 {
		p.Addf("port %d out of range", s.Port)
	}
	return p.Err()
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		wantErr []string
		want    sample
	}{
		{name: "defaults applied", yaml: "name: a\ninner: {url: x}\n", want: func() sample {
			s := sample{Name: "a", Port: 8080}
			s.Inner.URL = "x"
			return s
		}()},
		{name: "all problems at once", yaml: "port: 70000\n", wantErr: []string{"name is required", "inner.url is required", "port 70000 out of range"}},
		{name: "unknown key rejected", yaml: "name: a\nnmae: b\n", wantErr: []string{"field nmae not found"}},
		{name: "empty file validates", yaml: "", wantErr: []string{"name is required"}},
		{name: "wrong type", yaml: "port: abc\n", wantErr: []string{"cannot unmarshal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got sample
			err := Parse([]byte(tt.yaml), &got)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got != tt.want {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want errors %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(path, []byte("name: a\ninner:\n  url: u\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var s sample
	if err := Load(path, &s); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.Port != 8080 || s.Inner.URL != "u" {
		t.Fatalf("unexpected %+v", s)
	}
	if err := Load(filepath.Join(dir, "missing.yml"), &s); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+2), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Load(big, &s); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load of an oversized file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("name: a\ninner: {url: x}\n"))
	f.Add([]byte("port: [1,2]\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		_ = Parse(data, &s)
	})
}
