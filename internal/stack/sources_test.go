package stack

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// debianSources is /etc/apt/sources.list.d/debian.sources on these
// machines.
const debianSources = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`

func TestParseSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Sources
		wantErr string
	}{
		{
			name: "debian.sources on these machines",
			in:   debianSources,
			want: Sources{Mirror: "http://deb.debian.org/debian", Suites: []string{"bookworm", "bookworm-updates"}, SecurityMirror: "http://deb.debian.org/debian-security"},
		},
		{
			name: "CRLF, trailing slash, lower-case field names",
			in:   "types: deb\r\nuris: https://mirror.example/debian/\r\nsuites: bookworm\r\n",
			want: Sources{Mirror: "https://mirror.example/debian", Suites: []string{"bookworm"}},
		},
		{
			name: "disabled and deb-src stanzas are skipped",
			in: "Enabled: no\nTypes: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\n\n" +
				"Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n" +
				"Types: deb deb-src\nURIs: http://good.example/debian\nSuites: bookworm\n",
			want: Sources{Mirror: "http://good.example/debian", Suites: []string{"bookworm"}},
		},
		{
			name: "several URIs, the first usable one wins",
			in:   "Types: deb\nURIs: cdrom:[Debian]/ mirror+file:/etc/apt/mirrors.txt http://b.example/debian http://c.example/debian\nSuites: bookworm\n",
			want: Sources{Mirror: "http://b.example/debian", Suites: []string{"bookworm"}},
		},
		{
			name: "continuation lines",
			in:   "Types: deb\nURIs:\n http://a.example/debian\n\thttp://b.example/debian\nSuites: bookworm\n  bookworm-backports\n",
			want: Sources{Mirror: "http://a.example/debian", Suites: []string{"bookworm", "bookworm-backports"}},
		},
		{
			name: "file mirror, other releases' suites dropped",
			in:   "Types: deb\nURIs: file:///srv/mirror/debian\nSuites: bookworm trixie bookworm-updates\n",
			want: Sources{Mirror: "file:///srv/mirror/debian", Suites: []string{"bookworm", "bookworm-updates"}},
		},
		{
			name: "security only (old style suite)",
			in:   "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm/updates\n",
			want: Sources{Mirror: "http://security.example/debian-security", SecurityMirror: "http://security.example/debian-security"},
		},
		{
			name: "comments and blank lines around stanzas",
			in:   "# header\n\n\n# c\nTypes: deb\n# inside\nURIs: http://a.example/debian\nSuites: bookworm\n\n\n",
			want: Sources{Mirror: "http://a.example/debian", Suites: []string{"bookworm"}},
		},
		{name: "empty", in: "", wantErr: ErrNoMirror.Error()},
		{name: "only deb-src", in: "Types: deb-src\nURIs: http://a.example/debian\n", wantErr: ErrNoMirror.Error()},
		{name: "no usable URI", in: "Types: deb\nURIs: ftp://a.example/debian file://host/x http:///x\n", wantErr: ErrNoMirror.Error()},
		{name: "one-line format", in: "deb http://deb.debian.org/debian bookworm main\n", wantErr: "line 1"},
		{name: "continuation first", in: " http://a.example\n", wantErr: "continuation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSources(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSources: err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSources: %v", err)
			}
			if got.Mirror != tt.want.Mirror || got.SecurityMirror != tt.want.SecurityMirror || !slices.Equal(got.Suites, tt.want.Suites) {
				t.Errorf("ParseSources = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadSources(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "debian.sources")
	if err := os.WriteFile(path, []byte(debianSources), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := ReadSources(path)
	if err != nil || src.Mirror != "http://deb.debian.org/debian" {
		t.Fatalf("ReadSources = %+v, %v", src, err)
	}
	if _, err := ReadSources(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestResolveMirrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "debian.sources")
	if err := os.WriteFile(path, []byte(debianSources), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    Options
		want    mirrors
		wantErr error
	}{
		{"from the sources file", Options{SourcesFile: path},
			mirrors{"http://deb.debian.org/debian", []string{"bookworm", "bookworm-updates"}, "http://deb.debian.org/debian-security"}, nil},
		{"--mirror overrides, no security mirror", Options{SourcesFile: path, Mirror: "http://m.example/debian/"},
			mirrors{"http://m.example/debian", []string{"bookworm"}, ""}, nil},
		{"--mirror and --security-mirror", Options{Mirror: "http://m.example/debian", SecurityMirror: "http://s.example/ds"},
			mirrors{"http://m.example/debian", []string{"bookworm"}, "http://s.example/ds"}, nil},
		{"bad --mirror", Options{Mirror: "deb.debian.org/debian"}, mirrors{}, nil},
		{"missing sources file", Options{SourcesFile: path + ".missing"}, mirrors{}, ErrNoMirror},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := resolveMirrors(tt.opts)
			if tt.want.mirror == "" {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("resolveMirrors: err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.mirror != tt.want.mirror || got.security != tt.want.security || !slices.Equal(got.suites, tt.want.suites) {
				t.Errorf("resolveMirrors = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseSources checks that the parser never panics and that what it
// returns is a usable mirror taken from the input.
func FuzzParseSources(f *testing.F) {
	f.Add(debianSources)
	f.Add("Types: deb\nURIs: file:///srv/m\nSuites: bookworm\n")
	f.Add("Enabled: no\nTypes: deb\nURIs: http://a/\n\nTypes: deb\nURIs: http://b\n")
	f.Add(" x\n")
	f.Fuzz(func(t *testing.T, in string) {
		src, err := ParseSources(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, m := range []string{src.Mirror, src.SecurityMirror} {
			if m == "" {
				continue
			}
			if err := checkMirror(m); err != nil {
				t.Errorf("returned an unusable mirror: %v", err)
			}
			if !strings.Contains(in, m) {
				t.Errorf("mirror %q is not in the input", m)
			}
			if strings.HasSuffix(m, "/") {
				t.Errorf("mirror %q ends in a slash", m)
			}
		}
		if src.Mirror == "" {
			t.Error("no error and no mirror")
		}
	})
}
