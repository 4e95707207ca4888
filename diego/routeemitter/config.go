package routeemitter

import (
	"errors"
	"time"

	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/rpc"
)

// Config is the route_emitter daemon's configuration file.
type Config struct {
	Ops     ops.Config          `yaml:"ops"`
	Logging logging.Config      `yaml:"logging"`
	BBS     BBSConfig           `yaml:"bbs"`
	NATS    natsconn.FileConfig `yaml:"nats"`
	Emit    EmitConfig          `yaml:"emit"`
}

// BBSConfig is how to reach the BBS, whose events and listings feed the
// routing table.
type BBSConfig struct {
	// ClientConfig is the connection: addresses lists every BBS
	// ("host:port"; only the active one listens) or address names one;
	// cert_file, key_file, ca_file and an optional server_name are the
	// client's mutual TLS material.
	rpc.ClientConfig `yaml:",inline"`
	// RequestTimeout bounds one try of a listing (default 30s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Attempts is how many tries a listing gets while no BBS serves it
	// (default 3).
	Attempts int `yaml:"attempts"`
	// EventIdleTimeout drops an event stream that delivered nothing, not
	// even a heartbeat (the BBS sends one every 30s), for this long, and
	// resumes it (default 90s).
	EventIdleTimeout time.Duration `yaml:"event_idle_timeout"`
}

// EmitConfig tunes the registrations.
type EmitConfig struct {
	// RegisterInterval is how often every registration is published again
	// until a router announces its own minimumRegisterIntervalInSeconds
	// (then the smallest announced is used). Default 20s.
	RegisterInterval time.Duration `yaml:"register_interval"`
	// SyncInterval is the time between full listings from the BBS besides
	// those the BBS asks for (CF's sync_interval). Default 60s; a negative
	// value disables them.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// RegisterTLSPorts adds tls_port and server_cert_domain_san (the
	// instance guid) to registrations of instances whose cell gives them a
	// TLS proxy port, so that routers reach them over TLS.
	RegisterTLSPorts bool `yaml:"register_tls_ports"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Ops.Listen == "" {
		c.Ops.Listen = "127.0.0.1:17011"
	}
	c.Ops.Defaults()
	if c.BBS.RequestTimeout == 0 {
		c.BBS.RequestTimeout = 30 * time.Second
	}
	if c.BBS.Attempts == 0 {
		c.BBS.Attempts = 3
	}
	if c.BBS.EventIdleTimeout == 0 {
		c.BBS.EventIdleTimeout = 90 * time.Second
	}
	if c.Emit.RegisterInterval == 0 {
		c.Emit.RegisterInterval = 20 * time.Second
	}
	if c.Emit.SyncInterval == 0 {
		c.Emit.SyncInterval = 60 * time.Second
	}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	addEach(&p, "ops", c.Ops.Validate())
	addEach(&p, "logging", c.Logging.Validate())
	addEach(&p, "bbs", c.BBS.ClientConfig.Validate())
	if c.BBS.RequestTimeout <= 0 {
		p.Addf("bbs.request_timeout must be positive")
	}
	if c.BBS.Attempts < 1 {
		p.Addf("bbs.attempts must be at least 1")
	}
	if c.BBS.EventIdleTimeout < 0 {
		p.Addf("bbs.event_idle_timeout must not be negative")
	}
	p.Add("nats", c.NATS.Validate())
	if c.Emit.RegisterInterval <= 0 {
		p.Addf("emit.register_interval must be positive")
	}
	return p.Err()
}

// addEach records each of the joined errors in err, prefixed with field.
func addEach(p *config.Problems, field string, err error) {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			addEach(p, field, e)
		}
		return
	}
	p.Add(field, err)
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }

// syncInterval is the watcher's interval: 0 when disabled.
func (e EmitConfig) syncInterval() time.Duration { return max(e.SyncInterval, 0) }
