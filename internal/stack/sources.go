package stack

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

// DefaultSourcesFile is the apt sources file (deb822 format) the mirror is
// read from when Options.Mirror is empty.
const DefaultSourcesFile = "/etc/apt/sources.list.d/debian.sources"

// Sources is what the build takes from an apt sources file.
type Sources struct {
	// Mirror is the first usable URI of the first enabled "deb" stanza:
	// the Debian archive debootstrap installs from.
	Mirror string
	// Suites are the suites of the Mirror's stanza that belong to the
	// stack's release ("bookworm", "bookworm-updates"); the stack's own
	// apt sources list them.
	Suites []string
	// SecurityMirror is the first usable URI of the first enabled "deb"
	// stanza whose suites include a "-security" suite, or empty.
	SecurityMirror string
}

// ReadSources parses the deb822 apt sources file at path.
func ReadSources(path string) (Sources, error) {
	f, err := os.Open(path)
	if err != nil {
		return Sources{}, fmt.Errorf("read apt sources: %w", err)
	}
	defer f.Close()
	src, err := ParseSources(f)
	if err != nil {
		return Sources{}, fmt.Errorf("read apt sources %s: %w", path, err)
	}
	return src, nil
}

// ParseSources parses apt sources in deb822 format (sources.list(5)):
// stanzas separated by blank lines, "Field: value" lines, continuation
// lines starting with a space or tab, and "#" comment lines. Field names
// are case-insensitive. Stanzas with "Enabled: no" or without the "deb"
// type are skipped, as are URIs that are not http, https or file. It
// returns ErrNoMirror when no stanza has a usable URI.
func ParseSources(r io.Reader) (Sources, error) {
	var (
		src    Sources
		stanza = map[string]string{}
		last   string
	)
	flush := func() {
		defer clear(stanza)
		if strings.EqualFold(strings.TrimSpace(stanza["enabled"]), "no") ||
			!hasWord(stanza["types"], "deb") {
			return
		}
		uri := firstURI(stanza["uris"])
		if uri == "" {
			return
		}
		if src.Mirror == "" {
			src.Mirror = uri
			for _, s := range strings.Fields(stanza["suites"]) {
				if s == suite || strings.HasPrefix(s, suite+"-") && !strings.HasSuffix(s, "-security") {
					src.Suites = append(src.Suites, s)
				}
			}
		}
		if src.SecurityMirror == "" {
			for _, s := range strings.Fields(stanza["suites"]) {
				if strings.HasSuffix(s, "-security") || strings.HasSuffix(s, "/updates") {
					src.SecurityMirror = uri
					break
				}
			}
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			flush()
			last = ""
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return Sources{}, fmt.Errorf("line %d: continuation line outside a field", n)
			}
			stanza[last] += " " + strings.TrimSpace(line)
		default:
			key, value, ok := strings.Cut(line, ":")
			key = strings.ToLower(strings.TrimSpace(key))
			if !ok || key == "" || strings.ContainsAny(key, " \t") {
				return Sources{}, fmt.Errorf("line %d: %q is not a \"Field: value\" line", n, line)
			}
			stanza[key] = strings.TrimSpace(value)
			last = key
		}
	}
	if err := sc.Err(); err != nil {
		return Sources{}, err
	}
	flush()
	if src.Mirror == "" {
		return Sources{}, ErrNoMirror
	}
	return src, nil
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// firstURI returns the first of the space-separated uris that is a valid
// http, https or file URL, without its trailing slashes.
func firstURI(uris string) string {
	for _, u := range strings.Fields(uris) {
		u = strings.TrimRight(u, "/")
		if err := checkMirror(u); err == nil {
			return u
		}
	}
	return ""
}

// checkMirror reports whether u can be given to debootstrap as a mirror.
func checkMirror(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("mirror %q: %w", u, err)
	}
	switch p.Scheme {
	case "http", "https":
		if p.Host == "" {
			return fmt.Errorf("mirror %q has no host", u)
		}
	case "file":
		if p.Path == "" || p.Host != "" {
			return fmt.Errorf("mirror %q: want file:///path", u)
		}
	default:
		return fmt.Errorf("mirror %q: scheme must be http, https or file", u)
	}
	if strings.ContainsAny(u, " \t\n\r") || strings.TrimRight(u, "/") == "" {
		return fmt.Errorf("mirror %q is not a URL", u)
	}
	return nil
}
