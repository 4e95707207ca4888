package natsconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/anvilpaas/anvil/internal/pki"
)

// FileConfig is the "nats" section of a daemon's config file.
type FileConfig struct {
	// URL is one server URL or several separated by commas.
	URL string `yaml:"url"`
	// User and Password, when set, authenticate the client.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// CAFile, when set, makes the connection TLS, verifying the server
	// against this CA bundle.
	CAFile string `yaml:"ca_file"`
}

// Validate reports what is wrong with c.
func (c FileConfig) Validate() error {
	if strings.TrimSpace(c.URL) == "" {
		return errors.New("url is required")
	}
	var errs []error
	for _, s := range strings.Split(c.URL, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s // as nats.go reads host:port
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("url %q: want nats://host:port", redact(s)))
			continue
		}
		switch u.Scheme {
		case "nats", "tls":
		default:
			errs = append(errs, fmt.Errorf("url %q: scheme must be nats or tls", redact(s)))
		}
	}
	if (c.User == "") != (c.Password == "") {
		errs = append(errs, errors.New("user and password go together"))
	}
	return errors.Join(errs...)
}

// Config returns the connection config for the client named name, loading
// the CA file if one is set.
func (c FileConfig) Config(name string) (Config, error) {
	cfg := Config{URL: c.URL, Name: name, User: c.User, Password: c.Password}
	if c.CAFile != "" {
		pool, err := pki.LoadPool(c.CAFile)
		if err != nil {
			return Config{}, fmt.Errorf("nats ca_file: %w", err)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return cfg, nil
}
