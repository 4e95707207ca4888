package blobstore

import (
	"net"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/ops"
)

// Config is the blobstore daemon's configuration file.
type Config struct {
	// Listen is the API's address.
	Listen string `yaml:"listen"`
	// TLS makes the API serve HTTPS and, with ca_file, verify client
	// certificates (mutual TLS for internal callers).
	TLS     TLSConfig      `yaml:"tls"`
	Ops     ops.Config     `yaml:"ops"`
	Logging logging.Config `yaml:"logging"`
	Storage StorageConfig  `yaml:"storage"`
	Auth    AuthConfig     `yaml:"auth"`

	// MaxObjectSize bounds an object, in bytes.
	MaxObjectSize int64 `yaml:"max_object_size"`
	// BodyIdleTimeout fails an upload that sends nothing for this long.
	BodyIdleTimeout time.Duration `yaml:"body_idle_timeout"`
	// ShutdownTimeout bounds the graceful shutdown; uploads still running
	// then are cut off (and leave nothing behind).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// StatsInterval is how often the object and byte counts per bucket are
	// recounted for /metrics; 0 means every 5 minutes, negative never.
	StatsInterval time.Duration `yaml:"stats_interval"`

	ResourceCache ResourceCacheConfig `yaml:"resource_cache"`
	Packages      PackagesConfig      `yaml:"packages"`
}

// TLSConfig is the API's TLS.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile holds the CAs client certificates must chain to. Without it no
	// client certificate is asked for.
	CAFile string `yaml:"ca_file"`
}

// Enabled reports whether TLS is configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" }

// StorageConfig selects the backend.
type StorageConfig struct {
	// Backend is "local" (the only one so far; see docs/blobstore.md for
	// how an S3-compatible one plugs in).
	Backend string `yaml:"backend"`
	// Dir is the local backend's directory. It must be on a filesystem
	// with user extended attributes, and owned by one blobstore only.
	Dir string `yaml:"dir"`
}

// AuthConfig says who may do what.
type AuthConfig struct {
	// ClientNames are the client certificate common names (or DNS SANs)
	// with internal access, e.g. [cloud_controller]. Needs tls.ca_file.
	ClientNames []string `yaml:"client_names"`
	// SharedSecrets are accepted in the X-Blobstore-Secret header, for
	// internal callers without certificates. Several allow rotation.
	SharedSecrets []string `yaml:"shared_secrets"`
	// SigningKeys verify signed URLs; the Cloud Controller signs with one
	// of them. Several allow rotation.
	SigningKeys []SigningKey `yaml:"signing_keys"`
	// MaxSignedURLLifetime refuses signed URLs that expire later than this
	// from now.
	MaxSignedURLLifetime time.Duration `yaml:"max_signed_url_lifetime"`
}

// SigningKey is an HMAC key for signed URLs.
type SigningKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

// ResourceCacheConfig bounds the sizes of files the resource cache holds.
type ResourceCacheConfig struct {
	MinSize int64 `yaml:"min_size"`
	MaxSize int64 `yaml:"max_size"`
}

// PackagesConfig bounds package assembly.
type PackagesConfig struct {
	// MaxEntries bounds a package's files, directories and links.
	MaxEntries int `yaml:"max_entries"`
	// MaxUncompressedSize bounds a package's total uncompressed size.
	MaxUncompressedSize int64 `yaml:"max_uncompressed_size"`
	// MaxConcurrent bounds assemblies running at once.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// minSecretLen is the shortest shared secret or signing secret accepted.
const minSecretLen = 16

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8093"
	}
	if c.Ops.Listen == "" {
		c.Ops.Listen = "127.0.0.1:9193"
	}
	c.Ops.Defaults()
	if c.Storage.Backend == "" {
		c.Storage.Backend = "local"
	}
	if c.MaxObjectSize == 0 {
		c.MaxObjectSize = 5 << 30
	}
	if c.BodyIdleTimeout == 0 {
		c.BodyIdleTimeout = time.Minute
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.StatsInterval == 0 {
		c.StatsInterval = 5 * time.Minute
	}
	if c.Auth.MaxSignedURLLifetime == 0 {
		c.Auth.MaxSignedURLLifetime = 24 * time.Hour
	}
	if c.ResourceCache.MinSize == 0 {
		c.ResourceCache.MinSize = 64 << 10
	}
	if c.ResourceCache.MaxSize == 0 {
		c.ResourceCache.MaxSize = 512 << 20
	}
	if c.Packages.MaxEntries == 0 {
		c.Packages.MaxEntries = 100_000
	}
	if c.Packages.MaxUncompressedSize == 0 {
		c.Packages.MaxUncompressedSize = 4 << 30
	}
	if c.Packages.MaxConcurrent == 0 {
		c.Packages.MaxConcurrent = 2
	}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p.Addf("listen %q: %v", c.Listen, err)
	}
	p.Add("ops", c.Ops.Validate())
	p.Add("logging", c.Logging.Validate())
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		p.Addf("tls: cert_file and key_file go together")
	}
	if c.TLS.CAFile != "" && c.TLS.CertFile == "" {
		p.Addf("tls.ca_file needs cert_file and key_file")
	}
	switch c.Storage.Backend {
	case "local":
		p.Require("storage.dir", c.Storage.Dir)
	default:
		p.Addf("storage.backend %q is unknown (want local)", c.Storage.Backend)
	}
	if len(c.Auth.ClientNames) == 0 && len(c.Auth.SharedSecrets) == 0 {
		p.Addf("auth: internal callers need a way in: set client_names (with tls.ca_file) or shared_secrets")
	}
	if len(c.Auth.ClientNames) > 0 && c.TLS.CAFile == "" {
		p.Addf("auth.client_names needs tls.ca_file to verify client certificates")
	}
	for i, n := range c.Auth.ClientNames {
		if n == "" {
			p.Addf("auth.client_names[%d] is empty", i)
		}
	}
	for i, s := range c.Auth.SharedSecrets {
		if len(s) < minSecretLen {
			p.Addf("auth.shared_secrets[%d] is shorter than %d bytes", i, minSecretLen)
		}
	}
	ids := map[string]bool{}
	for i, k := range c.Auth.SigningKeys {
		if err := apiblob.ValidateKeyID(k.ID); err != nil {
			p.Addf("auth.signing_keys[%d]: %v", i, err)
		}
		if ids[k.ID] {
			p.Addf("auth.signing_keys[%d]: duplicate id %q", i, k.ID)
		}
		ids[k.ID] = true
		if len(k.Secret) < minSecretLen {
			p.Addf("auth.signing_keys[%d] (%s): secret shorter than %d bytes", i, k.ID, minSecretLen)
		}
	}
	if c.Auth.MaxSignedURLLifetime < 0 {
		p.Addf("auth.max_signed_url_lifetime is negative")
	}
	if c.MaxObjectSize < 0 {
		p.Addf("max_object_size is negative")
	}
	if c.BodyIdleTimeout < 0 || c.ShutdownTimeout < 0 {
		p.Addf("body_idle_timeout and shutdown_timeout must not be negative")
	}
	if c.ResourceCache.MinSize < 0 || c.ResourceCache.MaxSize < c.ResourceCache.MinSize {
		p.Addf("resource_cache: want 0 <= min_size (%d) <= max_size (%d)", c.ResourceCache.MinSize, c.ResourceCache.MaxSize)
	}
	if c.Packages.MaxEntries < 1 || c.Packages.MaxUncompressedSize < 1 || c.Packages.MaxConcurrent < 1 {
		p.Addf("packages: max_entries, max_uncompressed_size and max_concurrent must be positive")
	}
	return p.Err()
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }

// signingKeys converts the configured keys.
func (c *Config) signingKeys() []apiblob.Key {
	out := make([]apiblob.Key, 0, len(c.Auth.SigningKeys))
	for _, k := range c.Auth.SigningKeys {
		out = append(out, apiblob.Key{ID: k.ID, Secret: []byte(k.Secret)})
	}
	return out
}
