package gorouter

import (
	"fmt"
	"net"
	"time"

	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/ops"
)

// Config is the gorouter daemon's configuration file.
type Config struct {
	// Index is this router's instance index: the instance_id of its RTR
	// log envelopes ("[RTR/0]"). ID names it in router.start; default
	// "gorouter-<index>".
	Index int    `yaml:"index"`
	ID    string `yaml:"id"`
	// HTTP is the plain HTTP listener; empty listen disables it.
	HTTP ListenerConfig `yaml:"http"`
	// HTTPS is the TLS listener; empty listen disables it. At least one
	// listener is required.
	HTTPS HTTPSConfig `yaml:"https"`
	// Status is the operations listener: /health (fails while draining),
	// /metrics, /healthz, /readyz, /debug/pprof, and /routes behind basic
	// auth.
	Status StatusConfig        `yaml:"status"`
	NATS   natsconn.FileConfig `yaml:"nats"`
	// Routing tunes the route table and the NATS protocol.
	Routing RoutingConfig `yaml:"routing"`
	// Backends tunes requests to app instances.
	Backends BackendsConfig `yaml:"backends"`
	// StickySessionCookies are the backend cookies that start a sticky
	// session. Default [JSESSIONID].
	StickySessionCookies []string `yaml:"sticky_session_cookies"`
	// SecureCookies marks every __VCAP_ID__ cookie Secure.
	SecureCookies bool `yaml:"secure_cookies"`
	// AccessLog is the access log file; empty disables it.
	AccessLog string `yaml:"access_log"`
	// DrainWait is how long /health fails before the listeners stop
	// accepting, so load balancers take the router out first. DrainTimeout
	// bounds the wait for requests in flight after that.
	DrainWait    time.Duration `yaml:"drain_wait"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// StartResponseDelay is how long after subscribing /health stays
	// failing, so that routes are learnt before traffic arrives (CF's
	// start_response_delay_interval).
	StartResponseDelay time.Duration `yaml:"start_response_delay"`
	// Loggregator receives the RTR line of every request routed to an app
	// (`cf logs` shows them as [RTR/<index>]); no address sends none.
	Loggregator logemitter.Config `yaml:"loggregator"`
	Logging     logging.Config    `yaml:"logging"`
}

// ListenerConfig is a plain listener.
type ListenerConfig struct {
	Listen string `yaml:"listen"`
}

// HTTPSConfig is the TLS listener and its certificate (typically a
// wildcard for the system and apps domains).
type HTTPSConfig struct {
	Listen   string `yaml:"listen"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// StatusConfig is the operations listener and the /routes credentials.
type StatusConfig struct {
	ops.Config `yaml:",inline"`
	// User and Password protect /routes; without them /routes is off.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// RoutingConfig tunes the route table and the NATS protocol.
type RoutingConfig struct {
	// DefaultLoadBalancing is round-robin or least-connection.
	DefaultLoadBalancing string `yaml:"default_load_balancing"`
	// RegisterInterval is the minimumRegisterIntervalInSeconds announced
	// in router.start. Default 20s.
	RegisterInterval time.Duration `yaml:"register_interval"`
	// PruneThreshold is how long a registration lives without a refresh
	// (default 120s); PruneInterval how often stale ones are removed
	// (default 30s).
	PruneThreshold time.Duration `yaml:"prune_threshold"`
	PruneInterval  time.Duration `yaml:"prune_interval"`
	// EmptyPoolTTL is how long a route without endpoints answers 503
	// before it is forgotten (404). Default 2m.
	EmptyPoolTTL time.Duration `yaml:"empty_pool_ttl"`
}

// BackendsConfig tunes requests to app instances.
type BackendsConfig struct {
	// EndpointTimeout bounds the wait for a backend's response headers
	// (504 after it). Default 60s.
	EndpointTimeout time.Duration `yaml:"endpoint_timeout"`
	// DialTimeout bounds connecting (and the TLS handshake). Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// MaxTries is how many endpoints a request may try when connecting
	// fails. Default 3.
	MaxTries int `yaml:"max_tries"`
	// CAFile verifies backends registered with a tls_port; empty uses the
	// system roots. CertFile and KeyFile, when set, are presented to them.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.ID == "" {
		c.ID = fmt.Sprintf("gorouter-%d", c.Index)
	}
	if c.Status.Listen == "" {
		c.Status.Listen = "127.0.0.1:8082"
	}
	c.Status.Defaults()
	if len(c.StickySessionCookies) == 0 {
		c.StickySessionCookies = []string{"JSESSIONID"}
	}
	if c.DrainWait == 0 {
		c.DrainWait = 5 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	r := &c.Routing
	if r.DefaultLoadBalancing == "" {
		r.DefaultLoadBalancing = router.LBRoundRobin
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&r.RegisterInterval, 20*time.Second)
	def(&r.PruneThreshold, 120*time.Second)
	def(&r.PruneInterval, 30*time.Second)
	def(&r.EmptyPoolTTL, 2*time.Minute)
	b := &c.Backends
	def(&b.EndpointTimeout, 60*time.Second)
	def(&b.DialTimeout, 5*time.Second)
	if b.MaxTries == 0 {
		b.MaxTries = 3
	}
	if c.Loggregator.Origin == "" {
		c.Loggregator.Origin = "gorouter"
	}
	c.Loggregator.Defaults()
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	if c.Index < 0 {
		p.Addf("index must not be negative")
	}
	if c.HTTP.Listen == "" && c.HTTPS.Listen == "" {
		p.Addf("http.listen or https.listen is required")
	}
	checkAddr := func(field, addr string) {
		if addr == "" {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			p.Add(field, err)
		}
	}
	checkAddr("http.listen", c.HTTP.Listen)
	checkAddr("https.listen", c.HTTPS.Listen)
	if c.HTTPS.Listen != "" {
		p.Require("https.cert_file", c.HTTPS.CertFile)
		p.Require("https.key_file", c.HTTPS.KeyFile)
	}
	p.Add("status", c.Status.Config.Validate())
	if (c.Status.User == "") != (c.Status.Password == "") {
		p.Addf("status.user and status.password go together")
	}
	p.Add("nats", c.NATS.Validate())
	switch c.Routing.DefaultLoadBalancing {
	case router.LBRoundRobin, router.LBLeastConnection:
	default:
		p.Addf("routing.default_load_balancing %q: want %s or %s", c.Routing.DefaultLoadBalancing, router.LBRoundRobin, router.LBLeastConnection)
	}
	for name, d := range map[string]time.Duration{
		"routing.register_interval": c.Routing.RegisterInterval, "routing.prune_threshold": c.Routing.PruneThreshold,
		"routing.prune_interval": c.Routing.PruneInterval, "backends.endpoint_timeout": c.Backends.EndpointTimeout,
		"backends.dial_timeout": c.Backends.DialTimeout, "drain_timeout": c.DrainTimeout,
	} {
		if d <= 0 {
			p.Addf("%s must be positive", name)
		}
	}
	if c.Routing.PruneThreshold <= c.Routing.RegisterInterval {
		p.Addf("routing.prune_threshold (%s) must exceed routing.register_interval (%s)", c.Routing.PruneThreshold, c.Routing.RegisterInterval)
	}
	if c.Routing.EmptyPoolTTL < 0 || c.DrainWait < 0 || c.StartResponseDelay < 0 {
		p.Addf("routing.empty_pool_ttl, drain_wait and start_response_delay must not be negative")
	}
	if c.Backends.MaxTries < 1 {
		p.Addf("backends.max_tries must be at least 1")
	}
	if (c.Backends.CertFile == "") != (c.Backends.KeyFile == "") {
		p.Addf("backends.cert_file and backends.key_file go together")
	}
	p.Add("loggregator", c.Loggregator.Validate())
	p.Add("logging", c.Logging.Validate())
	return p.Err()
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }
