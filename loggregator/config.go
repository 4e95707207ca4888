package loggregator

import (
	"net"
	"net/url"
	"time"

	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/registrar"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/tokenverify"
)

// Config is the loggregator daemon's configuration file.
type Config struct {
	// Ingress is the v2 gRPC Ingress listener (mutual TLS): reps, routers,
	// Cloud Controller and staging send envelopes here. Default listen
	// 127.0.0.1:8082.
	Ingress rpc.ServerConfig `yaml:"ingress"`
	// API is the log-cache HTTP API the cf CLI reads.
	API     APIConfig      `yaml:"api"`
	Ops     ops.Config     `yaml:"ops"`
	Logging logging.Config `yaml:"logging"`
	// RouteRegistrar registers the daemon's routes with the gorouters
	// over NATS (the production shape); without a NATS URL it is off.
	RouteRegistrar registrar.DaemonConfig `yaml:"route_registrar"`
	// Verifier checks the UAA tokens of API requests (uaa_url, issuer…).
	Verifier tokenverify.Config `yaml:"verifier"`
	// CloudController is asked whether a non-admin user may read a source.
	CloudController CCConfig `yaml:"cloud_controller"`
	// Store bounds the envelopes kept in memory.
	Store StoreConfig `yaml:"store"`
	// TrustedCAFile, when set, holds PEM CAs trusted (besides the system
	// pool) for HTTPS calls to UAA and Cloud Controller.
	TrustedCAFile string `yaml:"trusted_ca_file"`
}

// APIConfig is the log-cache HTTP listener.
type APIConfig struct {
	// Listen defaults to 127.0.0.1:8083.
	Listen string `yaml:"listen"`
	// CertFile and KeyFile, when set, make the API serve HTTPS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ShutdownTimeout bounds the graceful shutdown (default 5s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// CCConfig is how to ask Cloud Controller about access.
type CCConfig struct {
	// URL is Cloud Controller's base URL. Empty means only admins
	// (doppler.firehose, logs.admin, cloud_controller.admin,
	// cloud_controller.admin_read_only) can read.
	URL string `yaml:"url"`
	// AuthCacheTTL is how long an allowed answer is remembered (default
	// 30s; denials at most 5s).
	AuthCacheTTL time.Duration `yaml:"auth_cache_ttl"`
	// AuthCacheSize bounds the answers remembered (default 10000).
	AuthCacheSize int `yaml:"auth_cache_size"`
	// Timeout bounds one call (default 5s).
	Timeout time.Duration `yaml:"timeout"`
}

// StoreConfig bounds the in-memory store.
type StoreConfig struct {
	// MaxPerSource is the ring size of each source_id (default 100000).
	MaxPerSource int `yaml:"max_per_source"`
	// MaxEnvelopes bounds the envelopes of all sources (default 2000000).
	MaxEnvelopes int `yaml:"max_envelopes"`
	// MaxBytes bounds their estimated memory (default 1 GiB).
	MaxBytes int64 `yaml:"max_bytes"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	c.RouteRegistrar.Defaults()
	if c.Ingress.Listen == "" {
		c.Ingress.Listen = "127.0.0.1:8082"
	}
	c.Ingress.Defaults()
	if c.API.Listen == "" {
		c.API.Listen = "127.0.0.1:8083"
	}
	if c.API.ShutdownTimeout == 0 {
		c.API.ShutdownTimeout = 5 * time.Second
	}
	if c.Ops.Listen == "" {
		c.Ops.Listen = "127.0.0.1:9183"
	}
	c.Ops.Defaults()
	c.Verifier.Defaults()
	cc := &c.CloudController
	if cc.AuthCacheTTL == 0 {
		cc.AuthCacheTTL = 30 * time.Second
	}
	if cc.AuthCacheSize == 0 {
		cc.AuthCacheSize = 10_000
	}
	if cc.Timeout == 0 {
		cc.Timeout = 5 * time.Second
	}
	s := &c.Store
	if s.MaxPerSource == 0 {
		s.MaxPerSource = 100_000
	}
	if s.MaxEnvelopes == 0 {
		s.MaxEnvelopes = 2_000_000
	}
	if s.MaxBytes == 0 {
		s.MaxBytes = 1 << 30
	}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	p.Add("route_registrar", c.RouteRegistrar.Validate())
	addEach(&p, "ingress", c.Ingress.Validate())
	addEach(&p, "ops", c.Ops.Validate())
	addEach(&p, "logging", c.Logging.Validate())
	addEach(&p, "verifier", c.Verifier.Validate())
	if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
		p.Addf("api.listen: %v", err)
	}
	if (c.API.CertFile == "") != (c.API.KeyFile == "") {
		p.Addf("api: cert_file and key_file go together")
	}
	if c.API.ShutdownTimeout < 0 {
		p.Addf("api.shutdown_timeout must not be negative")
	}
	cc := c.CloudController
	if cc.URL != "" {
		if u, err := url.Parse(cc.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("cloud_controller.url %q is not an absolute http(s) URL", cc.URL)
		}
	}
	if cc.AuthCacheTTL < 0 || cc.AuthCacheSize < 0 || cc.Timeout < 0 {
		p.Addf("cloud_controller: auth_cache_ttl, auth_cache_size and timeout must not be negative")
	}
	s := c.Store
	if s.MaxPerSource < 1 || s.MaxEnvelopes < 1 || s.MaxBytes < 1 {
		p.Addf("store: max_per_source, max_envelopes and max_bytes must be positive")
	}
	if s.MaxEnvelopes < s.MaxPerSource {
		p.Addf("store.max_envelopes (%d) must be at least max_per_source (%d)", s.MaxEnvelopes, s.MaxPerSource)
	}
	return p.Err()
}

// addEach records each of the joined errors in err, prefixed with field.
func addEach(p *config.Problems, field string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			addEach(p, field, e)
		}
		return
	}
	p.Add(field, err)
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }
