package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every Staticfile parse error.
var ErrInvalid = errors.New("invalid Staticfile")

// Options are the Staticfile settings the server honours.
type Options struct {
	// Root is the served directory, relative to the app dir ("." by default).
	Root string
	// DirectoryListing lists directories that have no index.html.
	DirectoryListing bool
	// PushState serves /index.html for paths with no file.
	PushState bool
	// HostDotFiles serves names starting with ".".
	HostDotFiles bool
	// ForceHTTPS redirects X-Forwarded-Proto: http requests to https.
	ForceHTTPS bool
	// HSTS sends Strict-Transport-Security.
	HSTS bool
	// Gzip compresses text responses and serves precompressed .gz files.
	Gzip bool
	// Unknown lists options present but not supported.
	Unknown []string
}

var known = []string{"root", "directory", "pushstate", "host_dot_files", "force_https", "http_strict_transport_security", "gzip"}

// ParseStaticfile reads a Staticfile: an optional YAML mapping of options.
// An empty file means the defaults.
func ParseStaticfile(data []byte) (Options, error) {
	opts := Options{Root: ".", Gzip: true}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return Options{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for k, v := range raw {
		if !slices.Contains(known, k) {
			opts.Unknown = append(opts.Unknown, k)
			continue
		}
		s, ok := scalar(v)
		if !ok {
			return Options{}, fmt.Errorf("%w: %s must be a single value", ErrInvalid, k)
		}
		if k == "root" {
			root := filepath.Clean(s)
			if s == "" || !filepath.IsLocal(root) {
				return Options{}, fmt.Errorf("%w: root %q must be a directory inside the app", ErrInvalid, s)
			}
			opts.Root = root
			continue
		}
		on, err := parseSwitch(s)
		if err != nil {
			return Options{}, fmt.Errorf("%w: %s: %v", ErrInvalid, k, err)
		}
		switch k {
		case "directory":
			opts.DirectoryListing = on
		case "pushstate":
			opts.PushState = on
		case "host_dot_files":
			opts.HostDotFiles = on
		case "force_https":
			opts.ForceHTTPS = on
		case "http_strict_transport_security":
			opts.HSTS = on
		case "gzip":
			opts.Gzip = on
		}
	}
	slices.Sort(opts.Unknown)
	return opts, nil
}

func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case bool, int, float64:
		return fmt.Sprint(v), true
	}
	return "", false
}

// parseSwitch reads an on/off value in the spellings Staticfiles use.
func parseSwitch(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "visible", "enabled", "enable", "true", "on", "yes", "1":
		return true, nil
	case "", "hidden", "disabled", "disable", "false", "off", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither on (enabled, visible, true) nor off (disabled, hidden, false)", s)
}
