package launcher

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Options configure Up.
type Options struct {
	// StateDir holds all state (default .anvil).
	StateDir string
	// BinDir holds the daemon binaries built by `make build` (default bin).
	BinDir string
	// PGBinDir holds initdb and postgres. Empty means $PG_BIN or the Debian
	// default.
	PGBinDir string

	// APIPort is the Cloud Controller's port (default 9022).
	APIPort int
	// RouterHTTPPort and RouterHTTPSPort are gorouter's ports (default 8080
	// and 8443).
	RouterHTTPPort  int
	RouterHTTPSPort int
	// AppsDomain is the shared domain apps get routes on (default
	// apps.localhost: curl resolves *.localhost to loopback).
	AppsDomain string
	// SystemDomain, when set, switches to the production shape: every
	// system component is reached through the router at https://NAME.DOMAIN.
	SystemDomain string

	// ReadyTimeout bounds how long one daemon may take to become ready.
	ReadyTimeout time.Duration
	// StopTimeout bounds how long one daemon may take to stop after SIGTERM.
	StopTimeout time.Duration
	// Daemons overrides the daemon table (tests). Nil means Daemons().
	Daemons []Daemon
}

func (o *Options) defaults() {
	if o.StateDir == "" {
		o.StateDir = ".anvil"
	}
	if o.BinDir == "" {
		o.BinDir = "bin"
	}
	if o.APIPort == 0 {
		o.APIPort = 9022
	}
	if o.RouterHTTPPort == 0 {
		o.RouterHTTPPort = 8080
	}
	if o.RouterHTTPSPort == 0 {
		o.RouterHTTPSPort = 8443
	}
	if o.AppsDomain == "" {
		o.AppsDomain = "apps.localhost"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 2 * time.Minute
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 15 * time.Second
	}
	if o.Daemons == nil {
		o.Daemons = Daemons()
	}
	if abs, err := filepath.Abs(o.StateDir); err == nil {
		o.StateDir = abs
	}
	if abs, err := filepath.Abs(o.BinDir); err == nil {
		o.BinDir = abs
	}
}

func (o *Options) validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		v    int
	}{{"--api-port", o.APIPort}, {"--router-http-port", o.RouterHTTPPort}, {"--router-https-port", o.RouterHTTPSPort}} {
		if p.v < 1 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("%s %d is not a port", p.name, p.v))
		}
	}
	for _, d := range []struct{ flag, v string }{{"--apps-domain", o.AppsDomain}, {"--system-domain", o.SystemDomain}} {
		if d.v != "" && !validDomain(d.v) {
			errs = append(errs, fmt.Errorf("%s %q is not a domain name", d.flag, d.v))
		}
	}
	return errors.Join(errs...)
}

func validDomain(s string) bool {
	if len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
