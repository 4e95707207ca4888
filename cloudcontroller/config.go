package cloudcontroller

import (
	"net/url"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/uaaclient"
	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/tokenverify"
)

// Config is the cloud_controller daemon's configuration file.
type Config struct {
	// Listen is the HTTP address of the v3 API.
	Listen string `yaml:"listen"`
	// ExternalURL is the API's base URL as clients reach it
	// (https://api.example.com); every href is built from it.
	ExternalURL string         `yaml:"external_url"`
	Ops         ops.Config     `yaml:"ops"`
	Logging     logging.Config `yaml:"logging"`
	Database    pg.Config      `yaml:"database"`

	// UAA is where tokens come from: the root document's login and uaa
	// links, the token verifier and the SCIM client.
	UAA UAAConfig `yaml:"uaa"`
	// LogCacheURL is the log-cache link of the root document.
	LogCacheURL string `yaml:"log_cache_url"`
	// MaxBodyBytes bounds JSON request bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`

	Bootstrap Bootstrap `yaml:"bootstrap"`
}

// UAAConfig configures how CC trusts and calls UAA.
type UAAConfig struct {
	// URL is UAA's base URL as clients reach it (the root's uaa link).
	URL string `yaml:"url"`
	// LoginURL is the login server's base URL (the root's login link);
	// default URL.
	LoginURL string `yaml:"login_url"`
	// InternalURL is how CC itself reaches UAA; default URL.
	InternalURL string `yaml:"internal_url"`
	// Verifier configures token verification; its uaa_url defaults to
	// InternalURL and its issuer to URL + "/oauth/token".
	Verifier tokenverify.Config `yaml:"verifier"`
	// Client is CC's own UAA client (scim.read), for user lookups.
	Client uaaclient.Config `yaml:"client"`
}

// Bootstrap is applied at every start, idempotently.
type Bootstrap struct {
	// SystemOrg is created if missing (default "system").
	SystemOrg string `yaml:"system_org"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9022"
	}
	c.ExternalURL = strings.TrimSuffix(c.ExternalURL, "/")
	if c.Ops.Listen == "" {
		c.Ops.Listen = "127.0.0.1:9122"
	}
	c.Ops.Defaults()
	if c.UAA.LoginURL == "" {
		c.UAA.LoginURL = c.UAA.URL
	}
	if c.UAA.InternalURL == "" {
		c.UAA.InternalURL = c.UAA.URL
	}
	if c.UAA.Verifier.UAAURL == "" {
		c.UAA.Verifier.UAAURL = c.UAA.InternalURL
	}
	if c.UAA.Verifier.Issuer == "" && c.UAA.URL != "" {
		c.UAA.Verifier.Issuer = strings.TrimSuffix(c.UAA.URL, "/") + "/oauth/token"
	}
	c.UAA.Verifier.Defaults()
	if c.UAA.Client.URL == "" {
		c.UAA.Client.URL = c.UAA.InternalURL
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.Bootstrap.SystemOrg == "" {
		c.Bootstrap.SystemOrg = "system"
	}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	p.Require("listen", c.Listen)
	for name, v := range map[string]string{"external_url": c.ExternalURL, "uaa.url": c.UAA.URL} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("%s %q must be an absolute http(s) URL", name, v)
		}
	}
	p.Add("ops", c.Ops.Validate())
	p.Add("logging", c.Logging.Validate())
	p.Require("database.dsn", c.Database.DSN)
	p.Add("uaa.verifier", c.UAA.Verifier.Validate())
	if c.MaxBodyBytes < 1024 {
		p.Addf("max_body_bytes %d is too small", c.MaxBodyBytes)
	}
	return p.Err()
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }
