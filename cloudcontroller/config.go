package cloudcontroller

import (
	"net/url"
	"strings"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/diego"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/uaaclient"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/web"
	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/registrar"
	"github.com/anvilpaas/anvil/internal/rpc"
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
	// RouteRegistrar registers the daemon's routes with the gorouters
	// over NATS (the production shape); without a NATS URL it is off.
	RouteRegistrar registrar.DaemonConfig `yaml:"route_registrar"`
	Database       pg.Config              `yaml:"database"`

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

	// Blobstore is where packages, droplets, buildpacks and build caches
	// live; without a url, uploads and builds answer 503.
	Blobstore BlobstoreConfig `yaml:"blobstore"`
	// Packages bounds package uploads.
	Packages PackagesConfig `yaml:"packages"`
	// Staging runs builds as BBS tasks; without staging.bbs, builds
	// answer 503.
	Staging StagingConfig `yaml:"staging"`
	// Diego is the Diego sync (internal/diego): the BBS client (default
	// staging.bbs), the reconciler's interval, the droplet URL lifetime.
	// Without a BBS the sync is off and /stats shows desired instances.
	Diego diego.Config `yaml:"diego"`
	// Loggregator receives the [API/0] lines written into apps' logs
	// (internal/logemitter); without an address none are written.
	Loggregator logemitter.Config `yaml:"loggregator"`
}

// BlobstoreConfig is how CC reaches the blobstore (api/blobstore).
type BlobstoreConfig struct {
	// URL is the blobstore's base URL, as CC and the cells reach it
	// (signed URLs are built from it).
	URL string `yaml:"url"`
	// CAFile verifies an https blobstore; CertFile and KeyFile are CC's
	// client certificate (mutual TLS, common name cloud_controller).
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// SharedSecret is sent as X-Blobstore-Secret when set.
	SharedSecret string `yaml:"shared_secret"`
	// SigningKey signs the URLs cells download and upload with; the
	// blobstore must list it in auth.signing_keys.
	SigningKey SigningKeyConfig `yaml:"signing_key"`
}

// SigningKeyConfig is a blobstore signing key.
type SigningKeyConfig struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

// PackagesConfig bounds package uploads (zipcheck).
type PackagesConfig struct {
	// MaxBytes bounds an uploaded zip (default 1 GiB).
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxEntries, MaxUncompressedSize and MaxCompressionRatio bound its
	// contents (defaults 100000, 4 GiB, 200).
	MaxEntries          int   `yaml:"max_entries"`
	MaxUncompressedSize int64 `yaml:"max_uncompressed_size"`
	MaxCompressionRatio int64 `yaml:"max_compression_ratio"`
	// TempDir holds uploads in progress (default the system's).
	TempDir string `yaml:"temp_dir"`
}

// StagingConfig configures builds on Diego.
type StagingConfig struct {
	// BBS is the BBS connection staging tasks are desired on (default
	// diego.bbs when callback_secret is set).
	BBS rpc.ClientConfig `yaml:"bbs"`
	// CallbackURL is the base URL the BBS reaches CC's internal
	// completion callback at (default external_url).
	CallbackURL string `yaml:"callback_url"`
	// CallbackSecret keys the HMAC tokens of callback URLs (≥ 16 bytes;
	// required with bbs).
	CallbackSecret string `yaml:"callback_secret"`
	// MemoryMB and DiskMB are a staging task's limits (default 1024, 4096).
	MemoryMB int `yaml:"memory_mb"`
	DiskMB   int `yaml:"disk_mb"`
	// Timeout is how long a build may stay STAGING (default 15m).
	Timeout time.Duration `yaml:"timeout"`
	// BuildpacksDir holds the system buildpacks as <name>.zip (what
	// `make buildpacks` writes to bin/buildpacks).
	BuildpacksDir string `yaml:"buildpacks_dir"`
	// DefaultBuildpacks is the detection order for apps that name no
	// buildpack (default: every zip in buildpacks_dir, by name).
	DefaultBuildpacks []string `yaml:"default_buildpacks"`
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
// the platform's own stack (docs/stack.md).
const DefaultStackName = "debian-bookworm"

// Defaults fills unset fields.
func (c *Config) Defaults() {
	c.RouteRegistrar.Defaults()
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
		c.Bootstrap.Stacks = []BootstrapStack{{Name: DefaultStackName, Description: "Debian 12 (bookworm) with the runtimes the system buildpacks use"}}
	}
	if c.Bootstrap.DefaultStack == "" {
		c.Bootstrap.DefaultStack = c.Bootstrap.Stacks[0].Name
	}
	c.Bootstrap.AppsDomain = strings.ToLower(strings.TrimSuffix(c.Bootstrap.AppsDomain, "."))
	if c.Staging.CallbackURL == "" {
		c.Staging.CallbackURL = c.ExternalURL
	}
	if c.Staging.BBS.Address == "" && len(c.Staging.BBS.Addresses) == 0 && c.Staging.CallbackSecret != "" {
		// One BBS connection setting serves both: staging uses diego.bbs.
		c.Staging.BBS = c.Diego.BBS.ClientConfig
	}
	if !c.Diego.Enabled() {
		c.Diego.BBS.ClientConfig = c.Staging.BBS
	}
	c.Diego.Defaults()
	if c.Loggregator.Origin == "" {
		c.Loggregator.Origin = "cloud_controller"
	}
	c.Loggregator.Defaults()
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	p.Add("route_registrar", c.RouteRegistrar.Validate())
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
	c.validateStaging(&p)
	p.Add("diego", c.Diego.Validate())
	p.Add("loggregator", c.Loggregator.Validate())
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

func (c *Config) validateStaging(p *config.Problems) {
	if c.Blobstore.URL != "" {
		if u, err := url.Parse(c.Blobstore.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("blobstore.url %q must be an absolute http(s) URL", c.Blobstore.URL)
		}
		if (c.Blobstore.CertFile == "") != (c.Blobstore.KeyFile == "") {
			p.Addf("blobstore.cert_file and blobstore.key_file go together")
		}
		if c.Blobstore.SigningKey.ID != "" {
			if err := apiblob.ValidateKeyID(c.Blobstore.SigningKey.ID); err != nil {
				p.Addf("blobstore.signing_key.id: %v", err)
			}
			if len(c.Blobstore.SigningKey.Secret) < 16 {
				p.Addf("blobstore.signing_key.secret must be at least 16 bytes")
			}
		}
	}
	if c.Packages.MaxBytes < 0 || c.Packages.MaxEntries < 0 || c.Packages.MaxUncompressedSize < 0 || c.Packages.MaxCompressionRatio < 0 {
		p.Addf("packages limits must not be negative")
	}
	st := c.Staging
	if st.MemoryMB < 0 || st.DiskMB < 0 || st.Timeout < 0 {
		p.Addf("staging.memory_mb, disk_mb and timeout must not be negative")
	}
	if st.BBS.Address == "" && len(st.BBS.Addresses) == 0 {
		return // staging off
	}
	p.Add("staging.bbs", st.BBS.Validate())
	if len(st.CallbackSecret) < 16 {
		p.Addf("staging.callback_secret must be at least 16 bytes")
	}
	if u, err := url.Parse(st.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Addf("staging.callback_url %q must be an absolute http(s) URL", st.CallbackURL)
	}
	if c.Blobstore.URL == "" || c.Blobstore.SigningKey.ID == "" {
		p.Addf("staging needs blobstore.url and blobstore.signing_key")
	}
}

// apiDetail is the detail of an API validation error.
func apiDetail(err error) string {
	e, _ := apierr.As(err)
	return e.Detail
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }
