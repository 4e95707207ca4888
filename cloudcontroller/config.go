package cloudcontroller

import (
	"net/url"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/uaaclient"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/web"
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
	// DefaultAppMemoryMB and DefaultAppDiskMB are a new process's memory
	// and disk (CF's default_app_memory and default_app_disk_in_mb;
	// default 1024 each).
	DefaultAppMemoryMB int `yaml:"default_app_memory_mb"`
	DefaultAppDiskMB   int `yaml:"default_app_disk_in_mb"`

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

	// Stacks are created if missing (an existing stack of the same name is
	// left as it is). Default: one stack, DefaultStackName.
	Stacks []BootstrapStack `yaml:"stacks"`
	// DefaultStack names the stack apps get when they name none; it must be
	// one of Stacks (default: the first).
	DefaultStack string `yaml:"default_stack"`
	// AppsDomain is the shared domain apps get routes on, created if
	// missing; "" creates none.
	AppsDomain string `yaml:"apps_domain"`
}

// BootstrapStack is a stack to create at start.
type BootstrapStack struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// DefaultStackName is the stack created when the configuration names none:
// the name CF users put in manifests (stack: cflinuxfs4), so that those
// manifests work unchanged.
const DefaultStackName = "cflinuxfs4"

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
	if len(c.Bootstrap.Stacks) == 0 {
		c.Bootstrap.Stacks = []BootstrapStack{{Name: DefaultStackName, Description: "Cloud Foundry Linux-based filesystem (Ubuntu 22.04)"}}
	}
	if c.Bootstrap.DefaultStack == "" {
		c.Bootstrap.DefaultStack = c.Bootstrap.Stacks[0].Name
	}
	c.Bootstrap.AppsDomain = strings.ToLower(strings.TrimSuffix(c.Bootstrap.AppsDomain, "."))
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
	if c.DefaultAppMemoryMB < 0 || c.DefaultAppDiskMB < 0 {
		p.Addf("default_app_memory_mb and default_app_disk_in_mb must not be negative")
	}
	c.Bootstrap.validate(&p)
	return p.Err()
}

func (b *Bootstrap) validate(p *config.Problems) {
	names := map[string]bool{}
	for i, st := range b.Stacks {
		switch {
		case strings.TrimSpace(st.Name) == "" || len(st.Name) > 250:
			p.Addf("bootstrap.stacks[%d].name %q must be 1 to 250 characters", i, st.Name)
		case names[st.Name]:
			p.Addf("bootstrap.stacks[%d].name %q is listed twice", i, st.Name)
		}
		if len(st.Description) > 250 {
			p.Addf("bootstrap.stacks[%d].description is longer than 250 characters", i)
		}
		names[st.Name] = true
	}
	if !names[b.DefaultStack] {
		p.Addf("bootstrap.default_stack %q is not one of bootstrap.stacks", b.DefaultStack)
	}
	if b.AppsDomain != "" {
		if err := web.ValidateDomainName(b.AppsDomain); err != nil {
			p.Addf("bootstrap.apps_domain %q: %s", b.AppsDomain, apiDetail(err))
		}
	}
}

// apiDetail is the detail of an API validation error.
func apiDetail(err error) string {
	e, _ := apierr.As(err)
	return e.Detail
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }
